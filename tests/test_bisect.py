"""Bisection: `--bisect` on an inductor mismatch names the first bad compiler stage, subsystem and step."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from xml.etree import ElementTree

import pytest

from helpers import REPO, results_of

MODEL = """\
import torch


class TinyRelu(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(4, 4)

    def forward(self, x):
        return torch.relu(self.fc(x))
"""

# The inductor option reaches torch.compile(options=...), and the bisect process passes the same options, so both
# the verification compile and every compile of the bisection get the injected relu bug.
CONFIG = """\
version: 1
models:
  - name: tiny_relu
    model: model.py:TinyRelu
    device: cpu
    benchmark: false
    timeout: 300
    backends:
      - {backend: inductor, options: {"cpp.inject_relu_bug_TESTING_ONLY": "accuracy"}}
    inputs:
      - args: [{shape: [3, 4]}]
"""


@pytest.mark.inductor
def test_bisect_names_the_relu_lowering(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text(MODEL)
    (tmp_path / "cfg.yaml").write_text(CONFIG)
    env = {**os.environ, "PYTHONPATH": str(REPO / "entrypoint")}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "verify_compile", "run", "cfg.yaml", "--bisect", "--json", "out.json",
                           "--junit", "report.xml"], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          env=env)
    print(f"verify-compile run --bisect: {time.perf_counter() - start:.1f} s")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    [result] = results_of(tmp_path / "out.json")
    assert result["outcome"] == "mismatch", result["message"]
    found = result["bisect"]
    assert found is not None, result["notes"]
    assert (found["backend"], found["subsystem"], found["debug_info"]) == ("inductor", "lowerings", "relu")
    assert isinstance(found["bisect_number"], int)
    assert found["summary"] == "inductor > lowerings > relu"
    system_out = ElementTree.parse(tmp_path / "report.xml").getroot().find(".//testcase/system-out")
    assert system_out is not None and "bisect: inductor > lowerings > relu" in (system_out.text or "")
    assert result["artifacts"] == []  # without --repro-dir the bundle it bisected was temporary


# The bisect process itself, with stand-in scripts: no compiles.

def _bundle(tmp_path: Path, script: str) -> Path:
    (tmp_path / "repro.py").write_text(script)
    return tmp_path


def test_a_hanging_bisection_is_killed_at_its_time_limit(tmp_path: Path) -> None:
    from verify_compile.engine.bisection import run_bisect

    start = time.perf_counter()
    found, why = run_bisect(_bundle(tmp_path, "import time\ntime.sleep(120)\n"), timeout=2)
    assert found is None and why.startswith("bisection stopped after 2 s")
    assert time.perf_counter() - start < 30


def test_a_crashing_or_empty_bisection_explains_itself(tmp_path: Path) -> None:
    from verify_compile.engine.bisection import run_bisect

    found, why = run_bisect(_bundle(tmp_path, "raise SystemExit('no torch here')\n"), timeout=60)
    assert found is None and why.startswith("bisection failed (exit 1") and "no torch here" in why
    found, why = run_bisect(_bundle(tmp_path, "print('verify-compile-bisect: null')\n"), timeout=60)
    assert found is None and why.startswith("bisection named no culprit")


