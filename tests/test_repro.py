"""Repro bundles: the real CLI writes one per mismatch, and its repro.py recreates the mismatch in a fresh process,
outside verify-compile, after the original project is gone."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from helpers import REPO, results_by_id

MODELS = """\
import torch
from torch import nn


class Scaled(nn.Module):
    def __init__(self, n: int = 4) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(n))  # random: only the saved state makes the repro match

    def forward(self, x):
        return x * self.w + 1


def affine(x, y):
    return x * 2 + y
"""

BACKENDS = """\
import operator

import torch

_ADD_FOR = {operator.mul: operator.add, torch.mul: torch.add, torch.ops.aten.mul.Tensor: torch.ops.aten.add.Tensor}


def mul_to_add(gm, example_inputs):
    for node in gm.graph.nodes:
        if node.op == "call_function" and node.target in _ADD_FOR:
            node.target = _ADD_FOR[node.target]
        elif node.op == "call_method" and node.target == "mul":
            node.target = "add"
    gm.recompile()
    return gm.forward


def stale(gm, example_inputs):
    cache = []

    def run(*args):
        if not cache:
            cache.append(gm.forward(*args))
        return cache[0]
    return run
"""

CONFIG = """\
version: 1
defaults: {device: cpu, benchmark: false}
models:
  - name: scaled
    model: models.py:Scaled
    init: {kwargs: {n: 4}}
    backends: [backends.py:mul_to_add, eager]
    inputs:
      - args: [{shape: [3, 4]}]
  - name: affine
    function: models.py:affine
    backends: [backends.py:stale]
    inputs:
      - args: [{shape: [5]}, {shape: [5]}]
      - args: [{shape: [5], dist: rand}, {shape: [5]}]
"""


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO / "entrypoint")}
    return subprocess.run([sys.executable, "-m", "verify_compile", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=env)


def run_repro(script: Path, cwd: Path, block_verify_compile: bool = False,
              with_verify_compile: bool = False) -> subprocess.CompletedProcess:
    """`python repro.py` in a fresh process, away from the bundle and the repo; optionally with verify_compile
    made unimportable (the script needs only torch), or sure to be importable (the script then uses its verdict)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if with_verify_compile:
        env["PYTHONPATH"] = str(REPO / "entrypoint")
    command = [sys.executable, str(script)]
    if block_verify_compile:
        command = [sys.executable, "-c", "import runpy, sys; sys.modules['verify_compile'] = None; "
                   f"sys.argv = [{str(script)!r}]; runpy.run_path(sys.argv[0], run_name='__main__')"]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    root = tmp_path_factory.mktemp("repro")
    project = root / "project"
    project.mkdir()
    (project / "models.py").write_text(MODELS)
    (project / "backends.py").write_text(BACKENDS)
    (project / "cfg.yaml").write_text(CONFIG)
    start = time.perf_counter()
    proc = run_cli("run", "cfg.yaml", "--repro-dir", str(root / "bundles"), "--json", str(root / "out.json"),
                   cwd=project)
    print(f"verify-compile run: {time.perf_counter() - start:.1f} s")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    results = results_by_id(root / "out.json")
    shutil.rmtree(project)  # the bundle must stand on its own
    return root / "bundles", results


def test_one_bundle_per_mismatch_and_none_for_a_pass(run: tuple) -> None:
    bundles, results = run
    assert {k: r["outcome"] for k, r in results.items()} == {
        "scaled[mul_to_add]": "mismatch", "scaled[eager]": "pass", "affine[stale]": "mismatch"}
    assert sorted(p.name for p in bundles.iterdir()) == ["affine_stale", "scaled_mul_to_add"]
    assert results["scaled[eager]"]["artifacts"] == []
    for case_id, folder in (("scaled[mul_to_add]", "scaled_mul_to_add"), ("affine[stale]", "affine_stale")):
        result = results[case_id]
        assert result["artifacts"] == [str(bundles / folder)]
        assert f"python {bundles / folder / 'repro.py'}" in result["details"]
        assert result["notes"] == []


def test_bundle_holds_inputs_state_outputs_config_and_environment(run: tuple) -> None:
    bundles, _ = run
    module = bundles / "scaled_mul_to_add"
    state = torch.load(module / "state.pt", weights_only=True)
    assert list(state) == ["w"] and state["w"].shape == (4,)
    eager = torch.load(module / "eager.pt", weights_only=True)
    compiled = torch.load(module / "compiled.pt", weights_only=True)
    assert not torch.allclose(eager["output"], compiled["output"])
    assert (module / "src" / "models.py").read_text() == MODELS
    assert (module / "src" / "backends.py").read_text() == BACKENDS
    assert (module / "config" / "cfg.yaml").read_text() == CONFIG
    case = json.loads((module / "case.json").read_text())
    assert case["model"]["target"] == "models.py:Scaled" and case["backend"]["backend"] == "backends.py:mul_to_add"
    assert case["failing_input_set"] == 1
    env = json.loads((module / "env.json").read_text())
    assert env["torch"] == torch.__version__ and {"cuda", "gpu", "python", "platform", "verify_compile"} <= set(env)

    # The stale-result bug needs the call before the failing one: both input sets are saved, in order.
    function = bundles / "affine_stale"
    sets = torch.load(function / "inputs.pt", weights_only=True)
    assert len(sets) == 2 and all(len(args) == 2 and kwargs == {} for args, kwargs in sets)
    assert not (function / "state.pt").exists()


def test_repro_recreates_a_module_mismatch(run: tuple, tmp_path: Path) -> None:
    bundles, _ = run
    proc = run_repro(bundles / "scaled_mul_to_add" / "repro.py", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "verdict: " in proc.stdout  # verify-compile's when installed, else allclose
    assert re.search(r"^  output: 12 of 12 element\(s\) differ .*; worst at \[\d, \d\]: eager ", proc.stdout, re.M)
    assert "MISMATCH REPRODUCED" in proc.stdout


def test_repro_replays_earlier_calls_without_verify_compile(run: tuple, tmp_path: Path) -> None:
    bundles, results = run
    proc = run_repro(bundles / "affine_stale" / "repro.py", cwd=tmp_path, block_verify_compile=True)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert re.search(r"^call 1 of 2 \(input set 1 of 2 \(line \d+\)\): eager and compiled agree$", proc.stdout, re.M)
    assert re.search(r"^call 2 of 2 \(input set 2 of 2 \(line \d+\)\): 1 difference\(s\)$", proc.stdout, re.M)
    assert "verdict: allclose with the case's tolerance (verify-compile is not installed)" in proc.stdout
    worst = results["affine[stale]"]["mismatches"][0]["worst_index"]
    assert f"  output: 5 of 5 element(s) differ; worst at [{worst[0]}]: eager " in proc.stdout


def test_repro_exits_0_when_the_mismatch_is_gone(run: tuple, tmp_path: Path) -> None:
    bundles, _ = run
    copy = shutil.copytree(bundles / "scaled_mul_to_add", tmp_path / "bundle")
    script = copy / "repro.py"
    text = script.read_text()
    assert "'backend': 'src/backends.py:mul_to_add'," in text  # the case is readable at the top of the script
    script.write_text(text.replace("'backend': 'src/backends.py:mul_to_add',", "'backend': 'eager',"))
    proc = run_repro(script, cwd=tmp_path, with_verify_compile=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "verdict: verify-compile's (tolerance, then float64 arbitration)" in proc.stdout
    assert "no mismatch" in proc.stdout


# In-process checks of diagnose() itself: eager only, nothing compiles.

def _case(tmp_path: Path, backend: str = "eager", timeout: float = 600.0, bisect: bool = False) -> tuple:
    from verify_compile import results as R
    from verify_compile.engine.reference import build_reference
    from verify_compile.results import Observation
    from verify_compile.spec import BackendSpec, Case, InputSet, ModelSpec, TensorSpec

    (tmp_path / "models.py").write_text(MODELS)
    spec = ModelSpec(name="affine", kind="function", target="models.py:affine", config_file=str(tmp_path / "c.yaml"),
                     base_dir=str(tmp_path), line=1, inputs=(InputSet(args=(TensorSpec(shape=(3,)),) * 2),),
                     device="cpu", timeout=timeout, bisect=bisect)
    case = Case(index=0, model=spec, backend=BackendSpec(id=backend, backend=backend))
    ref = build_reference(spec, torch.device("cpu"), lambda phase: None)
    result = Observation(case_id=case.id, index=0, model="affine", backend=backend, config="c.yaml", line=1,
                         outcome=R.MISMATCH, message="input set 1: output differs", details="the diff")
    return case, ref, result


def test_a_failing_diagnosis_leaves_a_note_and_the_verdict(tmp_path: Path) -> None:
    from verify_compile.engine.diagnostics import diagnose
    from verify_compile.spec import RunSettings

    case, ref, result = _case(tmp_path)
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    diagnose(case, ref, 0, ref.eager[0], result, RunSettings(repro_dir=str(not_a_folder)), lambda p: None, 0.0)
    assert result.outcome == "mismatch" and result.details == "the diff" and result.artifacts == []
    assert len(result.notes) == 1 and result.notes[0].startswith("no repro bundle (")


def test_bisection_skips_other_backends_and_respects_the_timeout(tmp_path: Path) -> None:
    from verify_compile.engine.diagnostics import diagnose
    from verify_compile.spec import RunSettings

    phases: list = []
    case, ref, result = _case(tmp_path, backend="eager", bisect=True)  # `bisect: true` in the config
    diagnose(case, ref, 0, ref.eager[0], result, RunSettings(), phases.append, time.perf_counter())
    assert result.bisect is None and result.notes == [
        "not bisected: CompilerBisector bisects inductor, and this case's backend is 'eager'"]

    case, ref, result = _case(tmp_path, backend="inductor", timeout=30.0)
    diagnose(case, ref, 0, ref.eager[0], result, RunSettings(bisect=True), phases.append, time.perf_counter() - 25)
    assert result.bisect is None and result.notes[0].startswith("not bisected: only ")
    assert "of the case's 30 s timeout left" in result.notes[0]
    assert phases == [] and result.outcome == "mismatch"
