"""Regenerates the consumer tests' fixture from a real run of the CLI (about 15 s on 2 cores):

    python tests/consumers/make_fixture.py

It runs `verify-compile run tests/consumers/fixture.yaml` from the repository root (every outcome once, built-in
and custom backends), interrupts it with SIGINT while its last case hangs (an `interrupted` error), and writes:

- results.json: the run's `--json`, with this machine's paths (the checkout, Python's library folders) in its
  tracebacks replaced by neutral ones, so the repository holds no machine path;
- report.xml: `verify-compile merge results.json --junit` (testcase file/line, the default);
- report-strict.xml: the same with `--junit-strict`, without file/line (the strict schema's form).

update_golden.py runs this first when given --fixture. Both reports are pure renderings of results.json, which
tests/test_consumers.py checks against the current renderer.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CONFIG = HERE.relative_to(REPO) / "fixture.yaml"
INTERRUPTED = 128 + signal.SIGINT


def _cli(*args: str, env: dict | None = None) -> subprocess.Popen:
    full_env = {**os.environ, "PYTHONPATH": str(REPO / "entrypoint"), **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "verify_compile", *args], cwd=REPO, env=full_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(marker: Path, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, err = proc.communicate()
            raise SystemExit(f"make_fixture: the hanging case never started (exit {proc.returncode}):\n{err}")
        time.sleep(0.1)


def _check(proc: subprocess.Popen, expected: int, what: str) -> None:
    out, err = proc.communicate(timeout=300)
    if proc.returncode != expected:
        raise SystemExit(f"make_fixture: {what} exited {proc.returncode}, not {expected}:\n{out}\n{err}")


def neutral_paths(text: str) -> str:
    """`text` with the checkout and Python's library folders named as on no machine in particular."""
    places = {str(REPO): "/repo", sysconfig.get_paths()["purelib"]: "/python/site-packages",
              sysconfig.get_paths()["stdlib"]: "/python/lib"}
    for real_path in sorted(places, key=len, reverse=True):  # site-packages lies inside the stdlib folder
        text = text.replace(real_path, places[real_path])
    return text


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        marker = Path(tmp) / "started"
        run = _cli("run", str(CONFIG), "--json", str(HERE / "results.json"),
                   env={"VERIFY_COMPILE_FIXTURE_STARTED": str(marker)})
        _wait_for(marker, run)  # cases run one at a time, in order: every other case has finished
        time.sleep(0.5)
        run.send_signal(signal.SIGINT)
        _check(run, INTERRUPTED, "the interrupted run")
    results = HERE / "results.json"
    results.write_text(neutral_paths(results.read_text(encoding="utf-8")), encoding="utf-8")
    for report, strict in (("report.xml", ()), ("report-strict.xml", ("--junit-strict",))):
        _check(_cli("merge", str(results), "--junit", str(HERE / report), *strict), 1, "merge")
    print(f"make_fixture: wrote {HERE}/results.json, report.xml and report-strict.xml")


if __name__ == "__main__":
    main()
