"""Any number of SIGINT/SIGTERM at any moment: every requested report is written with the finished cases, and the
exit code is 128 + the first signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

from helpers import REPO, ConfigDir, results_by_id

CONFIG = """version: 1
defaults: {device: cpu, benchmark: false}
models:
  - {name: quick, function: models.py:relu_model, inputs: [{args: [{shape: [4]}]}], backends: [aot_eager]}
  - {name: slow, function: hostile.py:hangs, inputs: [{args: [{shape: [4]}]}], backends: [aot_eager], timeout: 600}
  - {name: never, function: models.py:relu_model, inputs: [{args: [{shape: [4]}]}], backends: [eager]}
"""
REPORTS = ("--junit", "r.xml", "--junit-strict", "--json", "r.json", "--markdown", "r.md", "--html", "r.html")


def _start(d, *args):
    ConfigDir(d, ("models.py", "hostile.py"))(CONFIG)
    env = {**os.environ, "PYTHONPATH": str(REPO / "entrypoint")}
    return subprocess.Popen([sys.executable, "-m", "verify_compile", "run", "cfg.yaml", *args], cwd=d, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_first_result(journal, proc) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.exists() and '"observation"' in journal.read_text():
            return
        time.sleep(0.1)
    raise AssertionError("the first case never finished")


def _assert_partial(d, junit_schema) -> None:
    junit_schema.validate(str(d / "r.xml"))
    cases = {c.get("name"): c for c in ET.parse(d / "r.xml").getroot().iter("testcase")}
    assert set(cases) == {"quick[aot_eager]", "slow[aot_eager]", "never[eager]"}
    results = results_by_id(d / "r.json")
    assert results["quick[aot_eager]"]["outcome"] == "pass", "the finished case is reported as it finished"
    assert results["slow[aot_eager]"]["phase"] == "interrupted"
    assert (d / "r.md").is_file() and (d / "r.html").is_file()


def test_two_sigints_20ms_apart_leave_a_valid_partial_report(tmp_path, junit_schema):
    proc = _start(tmp_path, *REPORTS, "--journal", "j.jsonl")
    _wait_for_first_result(tmp_path / "j.jsonl", proc)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err, err
    _assert_partial(tmp_path, junit_schema)


def test_a_storm_of_signals_still_writes_every_report(tmp_path, junit_schema):
    """SIGTERM first, then SIGINT and SIGTERM every 5 ms until the process is gone: through stopping the workers
    and writing the reports."""
    proc = _start(tmp_path, *REPORTS, "--journal", "j.jsonl")
    _wait_for_first_result(tmp_path / "j.jsonl", proc)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    sent = 1
    while proc.poll() is None and sent < 2000:
        time.sleep(0.005)
        try:
            proc.send_signal(signal.SIGINT if sent % 2 else signal.SIGTERM)
        except ProcessLookupError:
            break
        sent += 1
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err, err
    assert sent > 10, "the storm reached the process while it stopped"
    _assert_partial(tmp_path, junit_schema)
