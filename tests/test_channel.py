"""The worker channel and the worker's processes: a model can corrupt its channel, print gigabytes, start
daemons or outlive its run; each costs at most its own case, and nothing it started survives. (The framing
itself: tests/unit/test_channel_unit.py.)"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from helpers import DEFAULT_FIXTURES, REPO, ConfigDir, results_by_id, run_cli


def _config(d: Path, entries: list) -> str:
    """The fixture models, backends and hostile models in `d`, and a config of `entries` (name, target, timeout)."""
    models = "".join(f"  - {{name: {name}, function: '{target}', timeout: {timeout}, "
                     f"inputs: [{{args: [{{shape: [4]}}]}}]}}\n" for name, target, timeout in entries)
    return ConfigDir(d, (*DEFAULT_FIXTURES, "hostile.py"))(
        "version: 1\ndefaults: {device: cpu, benchmark: false, backends: [aot_eager]}\nmodels:\n" + models).name


def test_garbage_or_a_forged_frame_on_the_channel_costs_one_case(tmp_path, junit_schema):
    cfg = _config(tmp_path, [("garbage", "hostile.py:garbage_on_channel", 120),
                             ("after_garbage", "models.py:relu_model", 120),
                             ("forged", "hostile.py:forged_frame", 120),
                             ("after_forged", "models.py:relu_model", 120)])
    proc = run_cli("run", cfg, "--json", "out.json", "--junit", "out.xml", "--junit-strict", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    results = results_by_id(tmp_path / "out.json")
    for name, why in (("garbage", "a frame starts with"), ("forged", "a 'hello' frame without the worker's token")):
        r = results[f"{name}[aot_eager]"]
        assert r["outcome"] == "error" and r["phase"] == "crash", r
        assert "the worker's channel was corrupted" in r["message"] and why in r["message"], r["message"]
        assert results[f"after_{name}[aot_eager]"]["outcome"] == "pass", "a fresh worker ran the next case"
    junit_schema.validate(str(tmp_path / "out.xml"))


def _sleepers(marker: str) -> list:
    """Processes running `sleep MARKER`, zombies excluded."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if cmd[:2] == [b"sleep", marker.encode()] and state != "Z":
            found.append(int(pid))
    return found


def test_no_process_a_case_started_survives_the_case(tmp_path):
    marker = f"{random.randint(100000, 999999)}.5"  # this test's own `sleep` processes, among everyone's
    cfg = _config(tmp_path, [("daemons", "hostile.py:spawns_daemons", 120),
                             ("probe", "models.py:relu_model", 120),
                             ("hanging", "hostile.py:hangs_with_daemon", 6),
                             ("after", "models.py:relu_model", 120)])
    try:
        proc = run_cli("run", cfg, "--json", "out.json", cwd=tmp_path, env={"VC_TEST_SLEEP": marker})
        results = results_by_id(tmp_path / "out.json")
        assert results["daemons[aot_eager]"]["outcome"] == "pass", proc.stderr
        assert results["hanging[aot_eager]"]["phase"] == "timeout"
        assert results["after[aot_eager]"]["outcome"] == "pass"
        assert _sleepers(marker) == [], "a daemon started by a case (setsid, double fork) survived the run"
    finally:
        for pid in _sleepers(marker):
            os.kill(pid, signal.SIGKILL)


def test_captured_output_is_a_bounded_tail(tmp_path):
    cfg = _config(tmp_path, [("loud", "hostile.py:prints_a_lot", 300),
                             ("peak", "hostile.py:reports_peak_memory", 120)])
    run_cli("run", cfg, "--json", "out.json", "--workers", "1", cwd=tmp_path)
    results = results_by_id(tmp_path / "out.json")
    captured = results["loud[aot_eager]"]["captured"]
    assert len(captured) < 8200 and captured.rstrip().endswith("the last line"), captured[-200:]
    dropped = int(captured.split(" bytes not kept]")[0].lstrip("["))
    assert dropped >= 100 * 2**20 - 8200, dropped
    peak_kb = int(results["peak[aot_eager]"]["message"].split("peak ")[1].split()[0])
    assert peak_kb < 1_000_000, f"the worker reached {peak_kb} kB reading back 100 MB of output"


def _worker_pids(parent: int) -> list:
    from verify_compile.proctree import children, cmdline

    return [p for p in children(parent) if "verify_compile.engine.worker" in cmdline(p)]


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def test_a_worker_and_what_its_case_started_die_with_the_parent(tmp_path):
    marker = f"{random.randint(100000, 999999)}.5"
    cfg = _config(tmp_path, [("hanging", "hostile.py:hangs_with_daemon", 600)])
    env = {**os.environ, "PYTHONPATH": str(REPO / "entrypoint"), "VC_TEST_SLEEP": marker}
    cli = subprocess.Popen([sys.executable, "-m", "verify_compile", "run", cfg], cwd=tmp_path, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: list = []
    try:
        deadline = time.monotonic() + 120
        while not (len(_sleepers(marker)) == 2 and (workers := _worker_pids(cli.pid))) \
                and time.monotonic() < deadline:
            time.sleep(0.2)
        assert workers and len(_sleepers(marker)) == 2, "the case did not start its daemons"
        cli.kill()  # SIGKILL: no handler, no cleanup in the parent
        cli.wait()
        deadline = time.monotonic() + 10
        while (any(_running(p) for p in workers) or _sleepers(marker)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_running(p) for p in workers), "the worker outlived its parent"
        assert _sleepers(marker) == [], "a daemon started by the case (setsid, double fork) outlived the run"
    finally:
        for p in workers + _sleepers(marker):
            if _running(p):
                os.kill(p, signal.SIGKILL)
