"""Bisection: PyTorch's CompilerBisector, run on a repro bundle in its own process, within a time limit.

In its own process because bisecting recompiles the model many times with parts of inductor switched off: a crash
or a hang there must not take the worker down, and the worker's torch state must not change.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

from verify_compile.engine.portable import BISECT_MARKER

_TAIL = 1500


def run_bisect(bundle: Path, timeout: float) -> tuple:
    """(result, None) where result is {"backend", "subsystem", "bisect_number", "debug_info", "summary",
    "seconds"}, or (None, why bisection named no culprit)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TORCH_BISECT_")}  # they would steer it
    # One process compiles everything (no compile-worker pool), so killing it on a timeout leaves nothing behind.
    env["TORCHINDUCTOR_COMPILE_THREADS"] = "1"
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(bundle / "repro.py"), "--bisect"], cwd=bundle, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return None, f"bisection stopped after {timeout:.0f} s: the case's timeout leaves no more time for it"
    seconds = round(time.perf_counter() - start, 1)
    found = _marker_line(output)
    if found is None:
        tail = output.strip()[-_TAIL:]
        return None, f"bisection failed (exit {proc.returncode} after {seconds:g} s):\n{tail}"
    result = json.loads(found)
    if result is None:
        return None, ("bisection named no culprit: under CompilerBisector every stage up to full inductor matched "
                      f"eager, so the mismatch did not reproduce in a fresh process ({seconds:g} s)")
    result["summary"] = summary(result)
    result["seconds"] = seconds
    return result, None


def summary(result: dict) -> str:
    """'inductor > lowerings > relu': the stage, the subsystem, and what the bad step acted on."""
    parts = [result.get("backend"), result.get("subsystem")]
    info = result.get("debug_info")
    if info and info != result.get("subsystem"):  # config changes repeat their own name as debug info
        parts.append(info)
    elif result.get("bisect_number") and not info:
        parts.append(f"#{result['bisect_number']}")
    return " > ".join(str(p) for p in parts if p)


def _marker_line(output: str) -> Optional[str]:
    for line in reversed(output.splitlines()):
        if line.startswith(BISECT_MARKER):
            return line[len(BISECT_MARKER):]
    return None
