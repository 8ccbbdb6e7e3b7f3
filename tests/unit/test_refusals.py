"""Bad usage is refused before anything runs: the command line's own checks (preflight.py, the shard, --only and
--backends) and files that cannot be read, each exit 2 with what is wrong. The CLI runs in this process
(helpers.refused), so a request that got past its checks fails the test instead of starting workers. Fast tier."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bad_configs import GOOD_ENTRY, MODELS
from helpers import HOSTILE_CONFIG, ConfigDir, judged, refused, write
from verify_compile.cli import main
from verify_compile.records import dump_json
from verify_compile.results import RunResult


@pytest.fixture
def config(config_dir: ConfigDir) -> Path:
    """A good config of one model, with its models.py."""
    config_dir.add("models.py", MODELS)
    return config_dir("version: 1\nmodels:\n" + GOOD_ENTRY)


@pytest.fixture
def hostile(config_dir: ConfigDir) -> ConfigDir:
    """The folder of tests/test_hostile.py: the fixture models, backends and hostile models, and its config."""
    config_dir.add("hostile.py")
    config_dir(HOSTILE_CONFIG)
    return config_dir


@pytest.mark.parametrize("args, expected", [
    (["--fail-on", "mismatch,oops"], "unknown outcome 'oops'"),
    (["--shard", "4/3"], "I must be between 1 and N"),
    (["--shard", "two"], "--shard must look like I/N"),
    (["--only", "nothing*"], "matches nothing"),
    (["--memory-limit", "lots"], "cannot read size"),
    (["--backends", "inductor,,nope.py:f"], "custom backend file 'nope.py' not found (looked in"),
])
def test_bad_usage_exits_2(config, args, expected):
    code, stderr = refused("run", str(config), *args, cwd=config.parent)
    assert code == 2, stderr
    assert expected in stderr
    assert "Traceback" not in stderr


def test_argparse_usage_error_is_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["run"])
    assert e.value.code == 2 and "usage:" in capsys.readouterr().err


def test_bad_paths_and_devices_are_caught_before_running(config, tmp_path):
    write(tmp_path / "afile", "")
    for args, expected in ((["--device", "gpu"], "--device: unknown device 'gpu'"),
                           (["--junit", str(tmp_path)], "is a directory"),
                           (["--json", "afile/out.json"], "cannot create it"),
                           (["--resume", "nosuch.jsonl"], "no such journal file"),
                           (["--cache-dir", "afile"], "is not a directory"),
                           (["--memory-limit", "1K"], "too small"),
                           (["--fail-on", ""], "names no outcome")):
        code, stderr = refused("run", str(config), *args, cwd=tmp_path)
        assert code == 2, (args, stderr)
        assert expected in stderr and "Traceback" not in stderr, (args, stderr)
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize("args, message", [
    (["--junit", "same.out", "--json", "same.out"], "--json same.out: --junit writes the same file"),
    (["--junit", "cfg.yaml"], "--junit cfg.yaml: is an input of this run"),
    (["--markdown", "hostile.py"], "--markdown hostile.py: is an input of this run"),
    (["--html", "backends.py"], "--html backends.py: is an input of this run"),
    (["--junit", "/dev/null"], "exists and is not a regular file (a device)"),
    (["--junit", "fifo"], "exists and is not a regular file (a FIFO)"),
    (["--json", "folder"], "--json folder: is a directory"),
    (["--journal", "r.json", "--json", "r.json"], "writes the same file"),
    (["--journal", "new.jsonl", "--resume", "old.jsonl", "--json", "old.jsonl"],
     "--json old.jsonl: is an input of this run (old.jsonl)"),
])
def test_bad_report_paths_are_refused_before_anything_runs(hostile, tmp_path, args, message):
    (tmp_path / "folder").mkdir()
    os.mkfifo(tmp_path / "fifo")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    code, stderr = refused("run", "cfg.yaml", *args, cwd=tmp_path)
    assert code == 2 and message in stderr, stderr
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before, "an input was touched"
    assert Path("/dev/null").is_char_device() and (tmp_path / "fifo").is_fifo()


@pytest.mark.parametrize("args", [["--timeout", "nan"], ["--timeout", "inf"], ["--timeout", "-1"],
                                  ["--timeout", "0"], ["--memory-limit", "0"], ["--memory-limit", "nan"],
                                  ["--memory-limit", "9" * 400 + "G"]])
def test_non_finite_or_non_positive_limits_are_refused(hostile, tmp_path, args):
    code, stderr = refused("run", "cfg.yaml", *args, cwd=tmp_path)
    assert code == 2 and args[0] in stderr, stderr


def test_bad_baseline_files_exit_2(config_dir):
    config_dir("version: 1\nmodels:\n  - {name: relu, function: models.py:relu_model, backends: [aot_eager]}\n")
    write(config_dir.path / "baseline.yaml", "version: 1\ncases:\n  relu[aot_eager]: {outcome: great}\n")
    code, stderr = refused("run", "cfg.yaml", "--json", "out.json", "--baseline", "baseline.yaml", cwd=config_dir.path)
    assert code == 2 and "baseline.yaml:3:" in stderr and "Traceback" not in stderr
    code, stderr = refused("run", "cfg.yaml", "--json", "out.json", "--baseline", "absent.yaml", cwd=config_dir.path)
    assert code == 2 and "create it with --update-baseline" in stderr


def test_merge_rejects_malformed_results(tmp_path):
    results = [judged(outcome, case_id=f"m[{backend}]", index=i, backend=backend)
               for i, (outcome, backend) in enumerate((("pass", "eager"), ("mismatch", "inductor")))]
    data = json.loads(dump_json(RunResult(results, {"torch": "2.x"})))
    data["results"][0]["observation"]["outcome"] = "weird"
    write(tmp_path / "bad.json", json.dumps(data))
    code, stderr = refused("merge", str(tmp_path / "bad.json"), cwd=tmp_path)
    assert code == 2 and "unknown observed outcome 'weird'" in stderr and "Traceback" not in stderr
