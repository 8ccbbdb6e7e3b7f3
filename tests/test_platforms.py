"""Platform claims the README makes: `--memory-limit` needs Linux's /proc and refuses (exit 2) where there is none,
rather than silently limiting nothing."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from helpers import REPO, run_cli, write

CONFIG = "version: 1\nmodels:\n  - name: f\n    function: models.py:f\n    backends: [eager]\n" \
         "    inputs:\n      - args: [{shape: [2]}]\n"


def test_memory_limit_refuses_without_proc(tmp_path):
    """A private mount namespace with an empty tmpfs over /proc: the system the check is for, for real."""
    write(tmp_path / "models.py", "def f(x):\n    return x + 1\n")
    write(tmp_path / "c.yaml", CONFIG)
    unshare = shutil.which("unshare")
    probe = subprocess.run([unshare or "unshare", "-m", "true"], capture_output=True) if unshare else None
    if probe is None or probe.returncode != 0:
        pytest.skip("unshare -m is not available here (needs root or user namespaces)")
    cmd = (f"mount -t tmpfs none /proc && PYTHONPATH={REPO / 'entrypoint'} exec {sys.executable} -m verify_compile "
           "run c.yaml --memory-limit 8G")
    proc = subprocess.run([unshare, "-m", "sh", "-c", cmd], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "--memory-limit needs /proc (Linux)" in proc.stderr
    assert "Traceback" not in proc.stderr

    # The same run with /proc mounted is accepted (and passes): the refusal is about /proc, nothing else.
    ok = run_cli("run", "c.yaml", "--memory-limit", "8G", cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
