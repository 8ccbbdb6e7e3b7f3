"""Localization, from the worker's side: after a mismatch, run engine/localize_worker.py in its own process,
within what is left of the case's timeout, and add what it found to the observation (`localization`, plus its
words: `summary` for the first line of every report, `text` for the block under it). The verdict never changes.

In its own process, like bisection: it compiles many pieces of the model, and a crash or a hang there must not
take the worker down, nor change the worker's torch state.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional

from verify_compile.engine.localize_text import MARKER, describe
from verify_compile.results import Observation
from verify_compile.spec import Case

_MIN_S = 20.0  # importing torch, rebuilding eager and one compile take this long on a small CPU
_TAIL = 1500


def localize(case: Case, set_index: int, result: Observation, bundle: Optional[Path],
             on_phase: Callable[[str], None], seconds_left: float, bisecting: bool = False) -> None:
    """Localize the mismatch on input set `set_index` (0-based) and record it on `result`. With bisection to
    follow (an inductor case), half of the time left is kept for it."""
    budget = seconds_left / 2 if bisecting and case.backend.backend == "inductor" else seconds_left
    if budget < _MIN_S:
        result.notes.append(f"not localized: only {max(budget, 0):.0f} s of the case's {case.model.timeout:g} s "
                            "timeout left for it")
        return
    on_phase("localize")
    start = time.perf_counter()
    found, why = run_localizer(case, set_index, result.device or "cpu", bundle, budget)
    if found is not None:
        found["seconds"] = round(time.perf_counter() - start, 1)  # all of it: the process's start-up included
        found["summary"], found["text"] = describe(found, case)
        result.localization = found
    if why:
        result.notes.append(why)


def run_localizer(case: Case, set_index: int, device: str, bundle: Optional[Path], timeout: float) -> tuple:
    """(report or None, a note or None). The report is the last one the process printed: a process killed at
    the time limit leaves what it had found, marked unfinished."""
    scratch = Path(tempfile.mkdtemp(prefix="verify-compile-localize-"))
    try:
        request = scratch / "request.pkl"
        request.write_bytes(pickle.dumps({"case": case, "set_index": set_index, "device": device,
                                          "bundle": str(bundle) if bundle else None,
                                          "deadline": time.time() + timeout - 3}))  # wall clock: both processes
        log = scratch / "output.txt"
        returncode = _run(request, log, scratch, timeout)
        output = log.read_text(encoding="utf-8", errors="replace")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    found = _last_report(output)
    if returncode is None:
        why = f"localization stopped after {timeout:.0f} s: the case's timeout leaves no more time for it"
        if found is not None:
            found["finished"] = False
        return found, why
    if found is None or (returncode != 0 and not found.get("finished")):
        return found, f"localization failed (exit {returncode}):\n{output.strip()[-_TAIL:]}"
    return found, None


def _run(request: Path, log: Path, cwd: Path, timeout: float) -> Optional[int]:
    """The localizer's exit code, or None when it was killed at `timeout`."""
    env = dict(os.environ)
    # One process compiles everything (no compile-worker pool), so a kill at the time limit leaves nothing behind.
    env["TORCHINDUCTOR_COMPILE_THREADS"] = "1"
    package_root = str(Path(__file__).resolve().parents[2])  # the folder that holds verify_compile/
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "verify_compile.engine.localize_worker", str(request)],
                                cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return None


def _last_report(output: str) -> Optional[dict]:
    for line in reversed(output.splitlines()):
        if line.startswith(MARKER):
            try:
                found = json.loads(line[len(MARKER):])
            except ValueError:  # cut off mid-line by the kill
                continue
            return found if isinstance(found, dict) else None
    return None
