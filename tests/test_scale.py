"""Sharding, merging, parallel workers, interruption and resume: the same results however the run is cut."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import pytest

from helpers import REPO, results_by_id, results_of, run_cli, write

CONFIG = """\
version: 1
defaults:
  device: cpu
  benchmark: false
  backends: [eager, aot_eager, relu_accuracy_error_TESTING_ONLY]
models:
  - name: mlp
    model: models.py:MLP
    inputs: [{args: [{shape: [4, 16]}]}]
  - name: relu
    function: models.py:relu_model
    inputs: [{args: [{shape: [6]}]}]
  - name: seed
    function: models.py:seed_scenario
    inputs: [{args: [{shape: [4]}, [{shape: [4]}, {shape: [4]}], 4]}]
    backends: [aot_eager, backends.py:mul_to_add]
  - name: dict_out
    function: models.py:dict_out
    inputs: [{args: [{shape: [6]}]}]
  - name: broken
    function: models.py:raises
    inputs: [{args: [{shape: [4]}]}]
    backends: [aot_eager]
"""


def _comparable(results: list) -> list:
    """What must not depend on how the run was cut: everything but timings and process details."""
    keep = ("case_id", "index", "outcome", "phase", "message", "mismatches", "expectation", "input_sets")
    return [{k: r[k] for k in keep} for r in sorted(results, key=lambda r: r["index"])]


def _results(path) -> list:
    return results_of(path)


@pytest.fixture(scope="module")
def workdir(module_config_dir):
    d = module_config_dir("scale")
    d(CONFIG)
    proc = d.run("run", "cfg.yaml", "--json", "full.json", "--junit", "full.xml")
    assert proc.returncode == 1, proc.stderr
    return d.path


def test_shards_partition_the_cases_and_merge_to_the_unsharded_run(workdir):
    d = workdir
    shard_ids = []
    for i in (1, 2, 3):
        proc = run_cli("run", "cfg.yaml", "--shard", f"{i}/3", "--json", f"shard{i}.json", cwd=d)
        assert proc.returncode in (0, 1), proc.stderr
        shard_ids.append({r["case_id"] for r in _results(d / f"shard{i}.json")})
    full = _results(d / "full.json")
    assert all(ids for ids in shard_ids), "cost balancing gives every shard work"
    assert sum(len(ids) for ids in shard_ids) == len(full), "no case lands in two shards"
    assert set().union(*shard_ids) == {r["case_id"] for r in full}
    proc = run_cli("merge", "shard1.json", "shard2.json", "shard3.json", "--junit", "merged.xml",
                   "--json", "merged.json", cwd=d)
    assert proc.returncode == 1, "the merged run failed like the full one"
    assert _comparable(_results(d / "merged.json")) == _comparable(full)
    names = lambda p: [(c.get("name"), [ch.tag for ch in c if ch.tag != "system-out"])  # noqa: E731
                       for c in ET.parse(p).getroot().iter("testcase")]
    assert names(d / "merged.xml") == names(d / "full.xml")


def test_sharding_is_deterministic(workdir):
    d = workdir
    run_cli("run", "cfg.yaml", "--shard", "2/3", "--json", "again.json", cwd=d)
    assert [r["case_id"] for r in _results(d / "again.json")] == [r["case_id"] for r in _results(d / "shard2.json")]


def test_merge_refuses_overlapping_shards(workdir):
    proc = run_cli("merge", "full.json", "full.json", "--junit", "x.xml", cwd=workdir)
    assert proc.returncode == 2 and "appears in two results files" in proc.stderr


def test_two_workers_give_the_same_results_as_one(workdir):
    d = workdir
    proc = run_cli("run", "cfg.yaml", "--workers", "2", "--json", "two.json", cwd=d)
    assert proc.returncode == 1
    assert _comparable(_results(d / "two.json")) == _comparable(_results(d / "full.json"))
    assert json.loads((d / "two.json").read_text())["meta"]["workers"] == 2


def _start(d, *args):
    env = {**os.environ, "PYTHONPATH": str(REPO / "entrypoint")}
    return subprocess.Popen([sys.executable, "-m", "verify_compile", "run", *args], cwd=d, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigterm_leaves_a_valid_partial_report_and_resume_finishes(config_dir, tmp_path, junit_schema):
    config_dir(CONFIG + (
        "  - name: slow\n    function: models.py:relu_model\n    inputs: [{args: [{shape: [4]}]}]\n"
        "    backends: [backends.py:hang]\n    timeout: 600\n"
        "  - name: last\n    function: models.py:relu_model\n    inputs: [{args: [{shape: [4]}]}]\n"
        "    backends: [aot_eager]\n"))
    journal = tmp_path / "run.journal.jsonl"
    proc = _start(tmp_path, "cfg.yaml", "--junit", "partial.xml", "--junit-strict", "--journal", str(journal))
    deadline = time.monotonic() + 120
    while journal.read_text().count('"observation"') < 12 if journal.exists() else True:
        assert time.monotonic() < deadline, "the run never reached the hanging case"
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    junit_schema.validate(str(tmp_path / "partial.xml"))
    cases = {c.get("name"): c for c in ET.parse(tmp_path / "partial.xml").getroot().iter("testcase")}
    assert len(cases) == 14, "finished and unfinished cases are all in the report"
    interrupted = [n for n, c in cases.items() if c.find("error") is not None
                   and c.find("error").get("type") == "interrupted"]
    assert sorted(interrupted) == ["last[aot_eager]", "slow[hang]"]
    assert "--resume" in err

    # Resuming skips what finished: only the two unfinished cases run (the hang one now with a short timeout).
    resumed = run_cli("run", "cfg.yaml", "--resume", str(journal), "--json", "resumed.json",
                      "--timeout", "5", cwd=tmp_path)
    data = json.loads((tmp_path / "resumed.json").read_text())
    assert data["meta"]["resumed"] == 12
    by_id = results_by_id(tmp_path / "resumed.json")
    assert len(by_id) == 14
    assert by_id["last[aot_eager]"]["outcome"] == "pass"
    assert by_id["slow[hang]"]["phase"] == "timeout"
    assert resumed.returncode == 1


def test_sigint_writes_every_report_and_exits_130(config_dir, tmp_path, junit_schema):
    config_dir("version: 1\nmodels:\n  - name: slow\n    function: models.py:relu_model\n"
               "    device: cpu\n    inputs: [{args: [{shape: [4]}]}]\n    backends: [backends.py:hang]\n")
    proc = _start(tmp_path, "cfg.yaml", "--junit", "r.xml", "--junit-strict", "--json", "r.json", "--markdown", "r.md")
    time.sleep(6)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    junit_schema.validate(str(tmp_path / "r.xml"))
    result = results_of(tmp_path / "r.json")[0]
    assert result["outcome"] == "error" and result["phase"] == "interrupted" and "SIGINT" in result["message"]
    assert (tmp_path / "r.md").is_file()


def test_an_empty_shard_is_a_green_job_with_empty_reports(tmp_path, junit_schema):
    write(tmp_path / "models.py", "def double(x):\n    return x * 2\n")
    write(tmp_path / "cfg.yaml", "version: 1\nmodels:\n  - name: only\n    function: models.py:double\n"
          "    device: cpu\n    inputs: [{args: [{shape: [4]}]}]\n    backends: [eager]\n")
    proc = run_cli("run", "cfg.yaml", "--shard", "2/3", "--junit", "r.xml", "--junit-strict", "--json", "r.json",
                   cwd=tmp_path)
    assert proc.returncode == 0 and "has no cases" in proc.stderr
    junit_schema.validate(str(tmp_path / "r.xml"))
    assert json.loads((tmp_path / "r.json").read_text())["results"] == []


def test_the_parent_process_never_imports_torch(workdir):
    # Only workers pay for `import torch` (seconds); a result or hello that drags torch into the parent would
    # double that cost in every run.
    script = ("import sys\nfrom verify_compile.cli import main\n"
              "code = main(['run', 'cfg.yaml', '--only', 'relu*', '--json', 'p.json'])\n"
              "print('torch imported:', 'torch' in sys.modules, 'exit:', code)\n")
    env = {**os.environ, "PYTHONPATH": str(REPO / "entrypoint")}
    proc = subprocess.run([sys.executable, "-c", script], cwd=workdir, env=env, capture_output=True, text=True,
                          timeout=300)
    assert "torch imported: False exit: 1" in proc.stdout, proc.stdout + proc.stderr


def test_merging_part_of_a_matrix_fails_unless_allowed(workdir, tmp_path):
    """`merge` of one shard of two exited 0 with half the cases and said nothing (issue #19)."""
    proc = run_cli("run", "cfg.yaml", "--shard", "1/3", "--json", str(tmp_path / "s1.json"), cwd=workdir)
    assert proc.returncode in (0, 1), proc.stderr
    partial = run_cli("merge", str(tmp_path / "s1.json"), "--markdown", str(tmp_path / "m.md"), cwd=tmp_path)
    assert partial.returncode == 1 and "shard(s) 2/3, 3/3 of the matrix are not among" in partial.stderr
    assert "**missing shards** `2/3, 3/3`" in (tmp_path / "m.md").read_text()
    allowed = run_cli("merge", str(tmp_path / "s1.json"), "--allow-partial", "--fail-on", "none", cwd=tmp_path)
    assert allowed.returncode == 0 and "2/3, 3/3" in allowed.stderr, allowed.stderr
