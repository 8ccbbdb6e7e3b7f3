"""Verifying what ships: torch.export programs and AOTInductor packages against eager, with the same verdict.

Real torch.export and real AOTInductor packages (each compiles C++, 10-40 s here), so a few config runs carry
several checks each."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers import REPO, ConfigDir, results_by_id

SHAPES = """\
import torch


def fixed_batch(x):
    return x.reshape(8, -1) * 2


class Steps(torch.nn.Module):
    \"\"\"Python state: export runs forward once, so the program keeps the step it saw then.\"\"\"

    def __init__(self):
        super().__init__()
        self.step = 0

    def forward(self, x):
        self.step += 1
        return x * self.step
"""


def _run(d: ConfigDir, config: str, *extra: str, path: str = "cfg.yaml") -> subprocess.CompletedProcess:
    """`config` run in `d`, beside the fixture models and backends, the example's models and SHAPES' models."""
    d.add("example_models.py", REPO / "configs" / "models.py")
    d.add("shapes.py", SHAPES)
    d(config)
    return d.run("run", path, "--json", str(d.path / "out.json"), *extra)


EXPORT_CONFIG = """\
version: 1
defaults: {benchmark: false}
models:
  - name: mlp
    model: models.py:MLP
    inputs:
      - args: [{shape: [4, 16]}]
      - args: [{shape: [4, 16], dist: rand}]
    backends: [export]
  - name: branchy              # `if b.sum() < 0`: torch.export cannot trace a branch on tensor values
    function: example_models.py:toy_example
    inputs: [{args: [{shape: [10]}, {shape: [10]}]}]
    backends: [export]
  - name: seed                 # PyTorch's seed test: f(tensor, (tensor, tensor), int)
    function: models.py:seed_scenario
    inputs: [{args: [{shape: [4]}, [{shape: [4]}, {shape: [4]}], 3]}]
    backends: [export]
  - name: mutate               # x.add_(y): the exported program must apply the mutation too
    function: models.py:add_inplace
    inputs: [{args: [{shape: [4]}, {shape: [4]}]}]
    backends: [export]
  - name: running              # a buffer updated in place on every call: compared after each call
    model: models.py:RunningMean
    inputs: [{args: [{shape: [3, 8]}]}]
    backends: [export]
  - name: mlp_train
    model: models.py:MLP
    train: true
    inputs: [{args: [{shape: [4, 16]}]}]
    backends: [export, aot_inductor]
  - name: steps                # a Python counter is frozen into the program: call 2 differs
    model: shapes.py:Steps
    inputs: [{args: [{shape: [4]}]}, {args: [{shape: [4]}]}]
    backends: [export]
  - name: fixed_named          # B is swept, so exported as Dim("B"); the model fixes it to 8
    function: shapes.py:fixed_batch
    dims: {B: 8}
    inputs: [{args: [{shape: [B, 4]}]}]
    sweep: {B: [2]}
    backends: [export]
  - name: fixed_unnamed        # an unnamed dim that differs: Dim.AUTO, which export may fix
    function: shapes.py:fixed_batch
    inputs:
      - args: [{shape: [8, 4]}]
      - args: [{shape: [2, 4]}]
    backends: [export]
  - name: one_first_named      # torch.export specializes an example size of 1, whatever the model does
    function: models.py:relu_model
    dims: {B: 1}
    inputs: [{args: [{shape: [B, 4]}]}]
    sweep: {B: [3]}
    backends: [export]
  - name: one_first_unnamed
    function: models.py:relu_model
    inputs:
      - args: [{shape: [1, 4]}]
      - args: [{shape: [3, 4]}]
    backends: [export]
"""


@pytest.fixture(scope="module")
def exported(module_config_dir):
    d = module_config_dir("export")
    proc = _run(d, EXPORT_CONFIG, "--repro-dir", "repro")
    assert proc.returncode == 1, proc.stderr  # the data-dependent branch is an error
    exported = results_by_id(d.path / "out.json")
    exported["dir"] = d.path
    return exported


def test_export_passes_every_input_set_through_one_program(exported):
    r = exported["mlp[export]"]
    assert r["outcome"] == "pass" and r["input_sets"] == 2, r["message"]
    assert r["health"]["graphs"] == 1  # no "torch.compile captured no graph" for an exported program


def test_data_dependent_branch_is_an_export_error_and_the_run_goes_on(exported):
    r = exported["branchy[export]"]
    assert r["outcome"] == "error" and r["phase"] == "export", r["message"]
    assert "data-dependent" in r["message"] and "torch.cond" in r["message"] and "draft_export" in r["message"]
    assert exported["seed[export]"]["outcome"] == "pass"  # the case after it still ran


def test_python_state_frozen_by_export_is_a_mismatch_that_the_bundle_reproduces(exported):
    r = exported["steps[export]"]
    assert r["outcome"] == "mismatch" and r["message"].startswith("input set 2: output:"), r["message"]
    bundle = exported["dir"] / "repro" / "steps_export"
    assert (bundle / "program.pt2").is_file() and not (bundle / "package.pt2").exists()
    for flags in ([], ["--saved"]):  # export again the same way, and the program that was verified
        proc = subprocess.run([sys.executable, "repro.py", *flags], cwd=bundle, capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode == 1 and "call 2 of 2" in proc.stdout, proc.stdout + proc.stderr


def test_a_dim_the_program_cannot_serve_is_named(exported):
    named = exported["fixed_named[export]"]
    assert named["outcome"] == "error" and named["phase"] == "export", named["message"]
    assert "Constraints violated (B)" in named["message"] and "sweep only dims" in named["message"]
    unnamed = exported["fixed_unnamed[export]"]
    assert unnamed["outcome"] == "error" and unnamed["phase"] == "run", unnamed["message"]
    assert "input set 2 of 2" in unnamed["message"]
    assert "input[0] dim 0 is 2, but the program was exported with it static at 8" in unnamed["message"]


def test_a_dynamic_dim_exported_at_size_one_says_why_and_how_to_fix_it(exported):
    named = exported["one_first_named[export]"]
    assert named["outcome"] == "error" and named["phase"] == "export", named["message"]
    assert "B is 1 in input set 1, which the program is exported with" in named["message"]
    assert "give B a size of at least 2 in 'dims' and sweep 1 instead" in named["message"]
    assert "sweep only dims" not in named["message"]  # the model does not fix B: the example does
    unnamed = exported["one_first_unnamed[export]"]
    assert unnamed["outcome"] == "error" and unnamed["phase"] == "run", unnamed["message"]
    assert "static at 1 (torch.export specializes sizes 0 and 1" in unnamed["message"]


def test_ts_backend_passes_the_seed_scenario(config_dir, tmp_path):
    # PyTorch's seed test registers TorchScript as a backend; it only compiles without lazy graph modules.
    proc = _run(config_dir, """\
version: 1
models:
  - name: seed
    function: models.py:seed_scenario
    inputs: [{args: [{shape: [4]}, [{shape: [4]}, {shape: [4]}], 3]}]
    backends: [ts]
""")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    r = results_by_id(tmp_path / "out.json")["seed[ts]"]
    assert r["outcome"] == "pass" and r["input_sets"] == 2 and r["health"]["graphs"] >= 1, r["message"]


def test_input_mutation_and_buffer_updates_are_kept_by_the_exported_program(exported):
    assert exported["mutate[export]"]["outcome"] == "pass", exported["mutate[export]"]["message"]
    r = exported["running[export]"]
    assert r["outcome"] == "pass", r["message"]
    assert not any("cannot be compared" in n for n in r["notes"])  # the buffer was compared


def test_train_under_a_shipping_backend_is_a_skip_with_the_reason(exported):
    for backend in ("export", "aot_inductor"):
        r = exported[f"mlp_train[{backend}]"]
        assert r["outcome"] == "skip" and "out of scope" in r["message"], r["message"]


def test_aot_inductor_options_are_checked_against_inductor(config_dir):
    proc = _run(config_dir, """\
version: 1
models:
  - name: f
    function: models.py:relu_model
    inputs: [{args: [{shape: [4]}]}]
    backends:
      - {backend: aot_inductor, id: aoti-typo, options: {cpp.inject_relu_bug_TESTING_ONY: accuracy}}
""")
    assert proc.returncode == 2, proc.stderr
    assert "cfg.yaml:7: unknown inductor option 'cpp.inject_relu_bug_TESTING_ONY'" in proc.stderr
    assert "cpp.inject_relu_bug_TESTING_ONLY" in proc.stderr  # did you mean


AOTI_CONFIG = """\
version: 1
defaults: {benchmark: false}
models:
  - name: mlp
    model: models.py:MLP
    inputs: [{args: [{shape: [4, 16]}]}]
    backends:
      - {backend: aot_inductor, id: aoti-relu-bug, options: {cpp.inject_relu_bug_TESTING_ONLY: accuracy}}
  - name: mutate               # x.add_(y): the loaded package must apply the mutation too
    function: models.py:add_inplace
    inputs: [{args: [{shape: [4]}, {shape: [4]}]}]
    backends: [aot_inductor]
"""


@pytest.fixture(scope="module")
def packaged(module_config_dir):
    d = module_config_dir("aoti")
    proc = _run(d, AOTI_CONFIG, "--repro-dir", "repro", "--bisect")
    assert proc.returncode == 1, proc.stderr  # the injected relu bug is a mismatch
    return d.path, results_by_id(d.path / "out.json")


@pytest.mark.inductor
def test_deploy_example_passes_and_a_sweep_runs_from_one_package(config_dir, tmp_path):
    proc = _run(config_dir, "", path=str(REPO / "configs" / "deploy.yaml"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = results_by_id(tmp_path / "out.json")
    assert {r["outcome"] for r in results.values()} == {"pass"}
    for backend in ("export", "aot_inductor"):
        r = results[f"mlp[{backend}]"]
        assert r["input_sets"] == 4, r  # two listed, then sweep B=1 and B=5
        assert f"{backend}: exported as dynamic: dims B" in r["notes"], r["notes"]
    notes = results["mlp[aot_inductor]"]["notes"]
    assert sum(n.startswith("aot_inductor: one package") for n in notes) == 1, notes
    assert any("owns its weights" in n and "param fc1.weight" in n for n in notes), notes


@pytest.mark.inductor
def test_injected_relu_bug_in_a_package_is_a_mismatch_with_a_bundle(packaged):
    d, results = packaged
    r = results["mlp[aoti-relu-bug]"]
    assert r["outcome"] == "mismatch" and r["mismatches"][0]["where"] == "output", r["message"]
    bundle = d / "repro" / "mlp_aoti-relu-bug"
    assert (bundle / "package.pt2").is_file() and (bundle / "program.pt2").is_file()
    case = json.loads((bundle / "case.json").read_text())["repro"]
    assert case["backend"] == "aot_inductor" and case["export"]["package"] == "package.pt2"
    assert any(n.startswith("not bisected: CompilerBisector bisects torch.compile") for n in r["notes"])
    # the package that was verified still gives the wrong answer, standalone
    proc = subprocess.run([sys.executable, "repro.py", "--saved"], cwd=bundle, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 1 and "MISMATCH REPRODUCED" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.inductor
def test_input_mutation_is_kept_by_the_package(packaged):
    _, results = packaged
    r = results["mutate[aot_inductor]"]
    assert r["outcome"] == "pass" and r["input_sets"] == 2, r["message"]  # one set, and the re-drawn call


def test_a_package_killed_mid_compile_leaves_no_scratch_behind(config_dir, tmp_path):
    """The worker is killed while AOTInductor compiles; its scratch folder goes with the run's."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    config = """\
version: 1
models:
  - name: mlp
    model: models.py:MLP
    inputs: [{args: [{shape: [4, 16]}]}]
    backends: [aot_inductor]
    timeout: 6
    benchmark: false
"""
    config_dir(config)
    proc = config_dir.run("run", "cfg.yaml", "--json", "out.json", env={"TMPDIR": str(scratch)})
    r = results_by_id(tmp_path / "out.json")["mlp[aot_inductor]"]
    assert proc.returncode == 1 and r["outcome"] == "error" and r["phase"] == "timeout", r["message"]
    assert "package" in r["message"] or "export" in r["message"], r["message"]
    left = [p.name for p in scratch.iterdir() if p.name.startswith("verify-compile")]  # inductor's cache may stay
    assert left == []
