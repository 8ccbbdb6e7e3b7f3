"""A config is hostile input: an alias bomb is refused with exit 2 within seconds and in bounded memory, measured
on a real CLI process. The other bounds (recursion, deep nesting, huge numbers, raw control bytes, huge files)
are checked in-process in the fast tier: tests/unit/test_yaml_bounds_unit.py."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from helpers import REPO, write


def _billion_laughs() -> str:
    """Nine levels of nine aliases under `x-` keys (ignored extension keys): 9**9 strings once expanded."""
    lines = ["version: 1", 'x-a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"x-{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    lines += ["models:", "  - {name: m, function: 'models.py:f', backends: [eager], x: *i}"]
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_refused_in_seconds_and_small_memory(tmp_path):
    text = _billion_laughs()
    assert 400 < len(text) < 600, len(text)  # the size of the file in the report
    write(tmp_path / "bomb.yaml", text)
    # Run the CLI under a tiny Python parent so that getrusage(RUSAGE_CHILDREN) sees only the CLI's memory.
    probe = ("import json, os, resource, subprocess, sys\n"
             "p = subprocess.run([sys.executable, '-m', 'verify_compile', 'run', 'bomb.yaml'], capture_output=True,"
             " text=True)\n"
             "print(json.dumps({'rc': p.returncode, 'stderr': p.stderr,"
             " 'maxrss_kb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))\n")
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(REPO / "entrypoint"), "PATH": "/usr/bin:/bin"})
    elapsed = time.monotonic() - start
    out = json.loads(proc.stdout)
    assert out["rc"] == 2, out["stderr"]
    assert "bomb.yaml:" in out["stderr"], out["stderr"]
    assert "has more than 1000000 YAML nodes once its aliases are expanded" in out["stderr"]
    assert elapsed < 10, elapsed
    assert out["maxrss_kb"] < 300 * 1024, out["maxrss_kb"]  # loosely: far from the 6.6 GB it used to take
