"""The real image: `.ci/container-test.sh` builds the Dockerfile with podman, runs the example config in it and
the action's docker mode against it, and checks what comes out (minutes cold, about a minute warm)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from helpers import REPO, SHARED, SHARED_MISSING

SCRIPT = REPO / ".ci" / "container-test.sh"
CANNOT_SET_UP = 77  # the script's exit code where podman cannot be set up (not root, or not installable)


@pytest.mark.container
def test_image_builds_and_verifies_the_example_config():
    if SHARED is None or not (SHARED / "tools" / "podman-standin-base.sh").is_file():
        pytest.skip(f"no podman stand-in set-up to build the image with: {SHARED_MISSING}")
    proc = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=1800,
                          env={**os.environ, "PYTHON": sys.executable, "SHARED_DIR": str(SHARED)})
    log = proc.stdout + proc.stderr
    if proc.returncode == CANNOT_SET_UP:
        pytest.skip("podman cannot be set up here: " + proc.stderr.strip().splitlines()[-1])
    print("\n".join(line for line in log.splitlines() if line.startswith("container-test:")))
    assert proc.returncode == 0, log[-20000:]
    assert "container-test: JUnit OK:" in log and "container-test: action outputs OK:" in log
