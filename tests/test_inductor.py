"""The real compiler: correct inductor results that differ from eager in rounding only are not false alarms
(large reductions, bfloat16 computed in float32), and a real inductor bug is caught."""

from __future__ import annotations

import pytest

from helpers import results_by_id

CONFIG = """\
version: 1
defaults: {device: cpu, benchmark: false, backends: [inductor]}
models:
  - name: big_reductions
    function: models.py:big_reductions
    inputs: [{args: [{shape: [8, 128, 768]}]}]
  - name: total_sum
    function: models.py:total_sum
    inputs: [{args: [{shape: [4000000]}]}]
  - name: block_bf16
    model: models.py:Block
    dtype: bfloat16
    inputs: [{args: [{shape: [2, 16, 64]}]}]
  - name: block_train
    model: models.py:Block
    train: true
    inputs: [{args: [{shape: [2, 16, 64], requires_grad: true}]}]
  - name: resnet_train
    model: models.py:ResNetish
    train: true
    inputs: [{args: [{shape: [8, 3, 32, 32]}]}]
  - name: scalar_sums            # 0-dim results: single rounding errors, not a reason to fail
    function: models.py:sum_of
    inputs: [{args: [{shape: [65537]}]}, {args: [{shape: [1000000]}]}]
  - name: relu_bug
    model: models.py:MLP
    inputs: [{args: [{shape: [8, 16]}]}]
    backends: [{backend: inductor, options: {"cpp.inject_relu_bug_TESTING_ONLY": accuracy}, id: buggy}]
"""


@pytest.fixture(scope="module")
def results(module_config_dir):
    d = module_config_dir("inductor", ("models.py",))
    d(CONFIG)
    proc = d.run("run", "cfg.yaml", "--json", "out.json")
    assert proc.returncode == 1, proc.stderr
    return results_by_id(d.path / "out.json")


@pytest.mark.inductor
@pytest.mark.parametrize("case_id", ["big_reductions[inductor]", "total_sum[inductor]", "block_bf16[inductor]",
                                     "block_train[inductor]", "resnet_train[inductor]", "scalar_sums[inductor]"])
def test_correct_inductor_results_pass(results, case_id):
    r = results[case_id]
    assert r["outcome"] == "pass", r["message"]
    assert r["input_sets"] == 2, "two calls ran"


@pytest.mark.inductor
def test_an_inductor_bug_is_caught(results):
    r = results["relu_bug[buggy]"]
    assert r["outcome"] == "mismatch" and r["mismatches"][0]["where"] == "output"
