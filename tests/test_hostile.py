"""Hostile strings and paths: a control byte or a non-UTF-8 byte in a file name, a lone surrogate in an exception,
ESC/BEL/NUL in messages, HTML in output keys, a results file that breaks one renderer, report paths that are
inputs, devices, FIFOs or each other. Every report is still written (JUnit valid against the strict schema),
nothing raw reaches the terminal, and a bad path is refused before anything runs (those refusals are checked
in-process in the fast tier: tests/unit/test_refusals.py)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import (
    DEFAULT_FIXTURES,
    HOSTILE_CONFIG,
    REPO,
    ConfigDir,
    live_commands,
    results_by_id,
    results_of,
    run_action,
    write,
)

REPORTS = ("--junit", "r.xml", "--junit-strict", "--json", "r.json", "--markdown", "r.md", "--html", "r.html")


def _run(d: Path, *args: str | bytes, env: dict | None = None) -> subprocess.CompletedProcess:
    """The CLI with bytes in and out: a non-UTF-8 file name must reach it as the OS gives it."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO / "entrypoint"), **(env or {})}
    return subprocess.run([sys.executable, "-m", "verify_compile", *args], cwd=d, capture_output=True, env=full_env,
                          timeout=600)


def _workspace(d: Path, config_name: bytes) -> bytes:
    """The fixture models, backends and hostile models in `d`, and HOSTILE_CONFIG named `config_name`."""
    ConfigDir(d, (*DEFAULT_FIXTURES, "hostile.py"))(HOSTILE_CONFIG, config_name)
    return config_name


def _assert_reports(d: Path, junit_schema) -> dict:
    for name in ("r.xml", "r.json", "r.md", "r.html"):
        assert (d / name).is_file(), f"{name} is missing"
        (d / name).read_text(encoding="utf-8")  # valid UTF-8 throughout
    junit_schema.validate(str(d / "r.xml"))
    markdown = re.sub(r"(`{3,})text\n.*?\n\1\n", "", (d / "r.md").read_text(), flags=re.S)  # code is literal
    assert "<img" not in markdown, "raw HTML from an output key reached the Markdown"
    assert "<img" not in (d / "r.html").read_text()
    return results_by_id(d / "r.json")


@pytest.mark.parametrize("config_name", [b"ctl\x01.yaml", b"caf\xe9.yaml"], ids=["control-byte", "non-utf8"])
def test_hostile_names_and_messages_lose_no_report(tmp_path, junit_schema, config_name):
    cfg = _workspace(tmp_path, config_name)
    proc = _run(tmp_path, "run", cfg, *REPORTS)
    assert proc.returncode == 1, proc.stderr.decode(errors="replace")
    assert b"Traceback" not in proc.stderr
    for raw in (b"\x1b", b"\x07", b"\x00", b"\x01"):
        assert raw not in proc.stdout, f"{raw!r} reached the terminal table"
    results = _assert_reports(tmp_path, junit_schema)
    message = results["nasty[aot_eager]"]["message"]
    assert "bad x\ufffd" in message and "\\x07bell" in message and "\\x00nul" in message, message
    assert "\x1b" not in json.dumps(results, ensure_ascii=False)
    assert results["keys[double_output]"]["outcome"] == "mismatch"
    assert "&lt;img src=x onerror=alert(1)&gt;" in (tmp_path / "r.md").read_text()


def test_merge_of_results_with_control_characters_writes_every_report(tmp_path, junit_schema):
    cfg = _workspace(tmp_path, b"cfg.yaml")
    _run(tmp_path, "run", cfg, "--json", "one.json")
    data = json.loads((tmp_path / "one.json").read_text())
    for r in data["results"]:
        r["observation"]["case_id"] = "\u0001" + r["observation"]["case_id"] + "\udcff"
        r["observation"]["config"] = "c\x1b[2Jfg.yaml"
    (tmp_path / "evil.json").write_text(json.dumps(data))
    other = {**data, "meta": {**data["meta"], "torch": "9.9\x1b[2J\x07"}, "results": []}
    (tmp_path / "other.json").write_text(json.dumps(other))  # its torch differs: merge warns, quoting it
    proc = _run(tmp_path, "merge", "evil.json", "other.json", *REPORTS)
    assert b"ran on different torch" in proc.stderr and b"\x1b" not in proc.stderr, proc.stderr
    assert proc.returncode == 1 and b"Traceback" not in proc.stderr, proc.stderr
    assert b"\x01" not in proc.stdout and b"\x1b" not in proc.stdout
    results = _assert_reports(tmp_path, junit_schema)
    assert "\\x01nasty[aot_eager]\ufffd" in results


def test_a_report_that_cannot_render_costs_only_itself(tmp_path):
    """A results file that merge accepts (its fields have the right types) but that no worker writes: a speedup
    without latencies. The JUnit renderer fails on it, and only the JUnit report is lost."""
    cfg = _workspace(tmp_path, b"cfg.yaml")
    _run(tmp_path, "run", cfg, "--json", "one.json")
    data = json.loads((tmp_path / "one.json").read_text())
    perf = {"eager_ms": None, "compiled_ms": None, "speedup": 2.0, "peak_memory_mb": None}
    data["results"][0]["observation"]["perf"] = perf
    (tmp_path / "odd.json").write_text(json.dumps(data))
    proc = _run(tmp_path, "merge", "odd.json", "--html", "r.html", "--junit", "r.xml", "--json", "r.json",
                "--markdown", "r.md", "--junit-strict")
    err = proc.stderr.decode()
    assert "could not render the JUnit report for r.xml: TypeError" in err and "Traceback" not in err, err
    assert proc.returncode == 1
    assert not (tmp_path / "r.xml").exists()
    assert all((tmp_path / name).is_file() for name in ("r.json", "r.md", "r.html"))


def test_action_mode_with_a_lone_surrogate_fills_outputs_and_summary(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    _workspace(ws, b"cfg.yaml")
    proc = run_action(ws, {"config": "cfg.yaml", "args": "--only nasty*"})
    assert proc.returncode == 1, proc.stdout
    live = "\n".join(live_commands(proc.stdout))
    assert "Traceback" not in live
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "nasty[aot_eager]" in summary and "bad x\ufffd" in summary
    output = (tmp_path / "output").read_text(encoding="utf-8")
    assert "errored<<" in output and "total<<" in output


def test_config_problems_in_a_hostile_file_name_are_shown_safely(tmp_path):
    """A config named with a control byte and a non-UTF-8 byte that has a mistake: the CLI prints the problem
    without the raw byte, and the action still writes its summary and outputs (exit 2, no traceback)."""
    ws = tmp_path / "ws"
    ws.mkdir()
    _workspace(ws, b"unused.yaml")
    bad = os.path.join(os.fsencode(ws), b"bad\x01\xff.yaml")
    with open(bad, "w") as f:
        f.write("version: 1\nmodels:\n  - {name: a, function: models.py:relu_model, bogus: 1}\n")
    proc = _run(ws, "run", b"bad\x01\xff.yaml")
    assert proc.returncode == 2 and b"unknown key 'bogus'" in proc.stderr, proc.stderr
    assert b"\x01" not in proc.stderr and b"Traceback" not in proc.stderr, proc.stderr
    proc = run_action(ws, {"config": "bad*.yaml"})
    assert proc.returncode == 2, proc.stdout
    assert "Traceback" not in proc.stdout and "\x01" not in proc.stdout, proc.stdout
    assert any("bogus" in line for line in live_commands(proc.stdout) if line.startswith("::error"))
    assert "unknown key 'bogus'" in (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "conclusion<<" in (tmp_path / "output").read_text(encoding="utf-8")


def test_a_baseline_that_cannot_be_written_costs_no_report(tmp_path, junit_schema):
    """--update-baseline writes before the reports: an OSError there (a full disk; here a folder that a model put
    at the baseline's path during the run) once ended the run in a traceback with every report lost."""
    _workspace(tmp_path, b"unused.yaml")
    write(tmp_path / "cfg.yaml", "version: 1\ndefaults: {device: cpu, benchmark: false, backends: [eager]}\n"
          "models:\n  - {name: m, function: hostile.py:makes_a_folder, inputs: [{args: [{shape: [4]}]}]}\n")
    proc = _run(tmp_path, "run", "cfg.yaml", "--baseline", "b.yaml", "--update-baseline", "--junit", "r.xml",
                "--junit-strict", "--json", "r.json", env={"VC_TEST_FOLDER": str(tmp_path / "b.yaml")})
    err = proc.stderr.decode()
    assert proc.returncode == 1 and "could not write the baseline b.yaml" in err and "Traceback" not in err, err
    junit_schema.validate(str(tmp_path / "r.xml"))
    assert results_of(tmp_path / "r.json")[0]["outcome"] == "pass"


def test_a_symlinked_report_path_is_written_through(tmp_path):
    cfg = _workspace(tmp_path, b"cfg.yaml")
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "real.json").write_text("old")
    (tmp_path / "link.json").symlink_to(tmp_path / "reports" / "real.json")
    proc = _run(tmp_path, "run", cfg, "--only", "nasty*", "--json", "link.json")
    assert proc.returncode == 1, proc.stderr
    assert (tmp_path / "link.json").is_symlink(), "the link is kept"
    assert json.loads((tmp_path / "reports" / "real.json").read_text())["results"], "its target holds the report"
    assert [p.name for p in (tmp_path / "reports").iterdir()] == ["real.json"], "no temp file left behind"


@pytest.mark.parametrize("extra", ["--help", "-h", "--version", "--only x --version"])
def test_action_args_cannot_turn_the_run_into_help(tmp_path, extra):
    ws = tmp_path / "ws"
    ws.mkdir()
    _workspace(ws, b"cfg.yaml")
    proc = run_action(ws, {"config": "cfg.yaml", "args": extra})
    assert proc.returncode == 2, proc.stdout
    assert "would print help or the version and verify nothing" in proc.stdout, proc.stdout
    assert "usage:" not in proc.stdout
    assert re.search(r"conclusion<<(\S+)\nfailed\n\1", (tmp_path / "output").read_text()), "nothing ran: failed"
    assert "nothing was run" in (tmp_path / "summary.md").read_text()


def test_action_summary_of_thousands_of_config_errors_stays_under_1_mib(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    _workspace(ws, b"unused.yaml")
    unknown = ", ".join(f"unknown_option_number_{k}: 1" for k in range(20))
    models = "".join(f"  - {{name: m{i}, function: 'models.py:relu_model', {unknown}}}\n" for i in range(1000))
    write(ws / "errors.yaml", "version: 1\nmodels:\n" + models)
    proc = run_action(ws, {"config": "errors.yaml"})
    assert proc.returncode == 2
    assert len(proc.stdout) > 2**21, "the problems really are megabytes (all of them in the log)"
    summary = (tmp_path / "summary.md").read_bytes()
    assert len(summary) < 2**20, len(summary)
    assert b"more problem(s) left out to stay under GitHub's 1 MiB summary limit" in summary
