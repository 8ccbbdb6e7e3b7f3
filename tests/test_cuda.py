"""CUDA paths: they run only where a GPU is visible (CI has none, so they skip with the reason)."""

from __future__ import annotations

import pytest
import torch

from helpers import results_by_id

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device visible")

BACKENDS = '''
import torch

def cuda_oom(gm, example_inputs):
    torch.empty(2**50, dtype=torch.uint8, device="cuda")
'''

CONFIG = """\
version: 1
defaults: {device: cuda}
models:
  - name: mlp
    model: models.py:MLP
    inputs: [{args: [{shape: [64, 16]}]}]
    backends: [aot_eager, inductor]
  - name: mlp_half
    model: models.py:MLP
    dtype: float16
    inputs: [{args: [{shape: [64, 16]}]}]
    backends: [inductor]
  - name: oom
    function: models.py:relu_model
    inputs: [{args: [{shape: [8]}]}]
    backends: [oom.py:cuda_oom]
  - name: after_oom
    function: models.py:relu_model
    inputs: [{args: [{shape: [8]}]}]
    backends: [inductor, relu_accuracy_error_TESTING_ONLY]
  - name: graphs          # CUDA graphs: each call's outputs are overwritten by the next call, by design
    model: models.py:MLP
    inputs:
      - args: [{shape: [64, 16]}]
      - args: [{shape: [64, 16], dist: rand}]
      - args: [{shape: [64, 16], dist: ones}]
    backends: [{backend: inductor, mode: reduce-overhead}]
  - name: graphs_twice    # one input set: the extra call that checks outputs survive is not made
    function: models.py:twin_relu
    inputs: [{args: [{shape: [32]}]}]
    backends: [{backend: inductor, mode: reduce-overhead}]
"""


@pytest.fixture(scope="module")
def results(module_config_dir):
    d = module_config_dir("cuda")
    d.add("oom.py", BACKENDS)
    d(CONFIG)
    proc = d.run("run", "cfg.yaml", "--json", "out.json", "--junit", "out.xml")
    assert proc.returncode == 1, proc.stderr
    return results_by_id(d.path / "out.json")


@pytest.mark.inductor
def test_cuda_cases_pass_and_report_peak_memory(results):
    for case_id in ("mlp[aot_eager]", "mlp[inductor]", "mlp_half[inductor]", "after_oom[inductor]"):
        r = results[case_id]
        assert r["outcome"] == "pass", (case_id, r["message"])
        assert r["device"].startswith("cuda")
    assert results["mlp[inductor]"]["perf"]["peak_memory_mb"] > 0


@pytest.mark.inductor
def test_cuda_oom_costs_one_case(results):
    r = results["oom[cuda_oom]"]
    assert r["outcome"] == "error" and r["phase"] == "compile" and "OutOfMemoryError" in r["message"]
    assert results["after_oom[relu_accuracy_error_TESTING_ONLY]"]["outcome"] == "mismatch"


@pytest.mark.inductor
def test_cuda_graph_overwrites_between_calls_are_not_mismatches(results):
    for case_id in ("graphs[inductor-reduce-overhead]", "graphs_twice[inductor-reduce-overhead]"):
        r = results[case_id]
        assert r["outcome"] == "pass", (case_id, r["message"])
        assert any("cudagraph_mark_step_begin" in n for n in r["notes"]), r["notes"]
        assert not any(m["kind"] == "overwritten" for m in r["mismatches"])
