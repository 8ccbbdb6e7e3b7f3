"""Every verdict rule, with real torch.compile backends: torch's own, torch's *_TESTING_ONLY ones that are
wrong on purpose, and custom backends that are wrong in the ways real verifiers miss (tests/fixtures).

One CLI run over tests/fixtures/verdicts.yaml serves all cases; each test checks one rule."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from helpers import FIXTURES, REPO, results_by_id, run_cli


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory):
    out = tmp_path_factory.mktemp("verdicts")
    proc = run_cli("run", str(FIXTURES / "verdicts.yaml"), "--json", str(out / "results.json"),
                   "--junit", str(out / "report.xml"), "--repro-dir", str(out / "bundles"), cwd=out)
    assert proc.returncode == 1, proc.stderr  # the suite holds failures on purpose
    return results_by_id(out / "results.json")


CORRECT = [
    "mlp[eager]", "mlp[aot_eager]", "mlp_one_set[aot_eager]", "seed[aot_eager]",
    "dropout[eager]", "dropout[aot_eager]",  # dropout is not a false alarm: RNG reset before every run
    "conv_bn[aot_eager]", "running_mean[aot_eager]", "add_inplace[aot_eager]",
    "dict_out[aot_eager]", "dataclass_out[aot_eager]", "namedtuple_out[aot_eager]", "hf_out[aot_eager]",
    "cache_out[aot_eager]",
    "wide[aot_eager]", "wide_bf16[aot_eager]", "train_mlp[aot_eager]",
    # more accurate than eager (computes in float64): closer to the float64 reference, so not a mismatch
    "mlp[upcast]", "wide_bf16[upcast]", "deep_bf16[upcast]",
    # latency runs on copies: the inputs shared by a model's backends stay as they were
    "add_inplace_timed[eager]", "add_inplace_timed[aot_eager]", "add_inplace_timed[aot_eager_decomp_partition]",
    "masked[aot_eager]", "sqrt[aot_eager]", "copy_of[aot_eager]", "view_of[aot_eager]",
    "view_of[copy_view]",  # a copy where eager returns a view is legal (reshape may do either)
    "held_outputs[aot_eager]", "plain_attribute[aot_eager]", "example_inputs[aot_eager]",
    "module_instance[aot_eager]",  # an nn.Module instance named by function: still a fresh copy per run
    "twin_relu[aot_eager]", "held_output_one_call[aot_eager]", "loss_item[aot_eager]",
]


@pytest.mark.parametrize("case_id", CORRECT)
def test_correct_backends_pass(verdicts, case_id):
    r = verdicts[case_id]
    assert r["outcome"] == "pass", r["message"]


WRONG = {
    # case id: (where the first difference is reported, what the message must say)
    "mlp[relu_accuracy_error_TESTING_ONLY]": ("output", "differ"),
    "mlp[stale]": ("output", "input set 2"),
    "mlp_one_set[stale]": ("output", "input set 1 re-drawn (second call)"),  # the re-drawn call catches it
    "mlp[unsqueeze_output]": ("output", "shape [1, 8, 4] where eager gives [8, 4]"),
    "mlp[double_output]": ("output", "dtype float64 where eager gives float32"),
    "mlp[inject_nan]": ("output", "NaN where eager has a number"),
    "seed[mul_to_add]": ("output", "differ"),
    "conv_bn[clone_inputs]": ("buffer 1.num_batches_tracked", "buffer 1.running_mean"),
    "running_mean[clone_inputs]": ("buffer calls", "buffer running"),
    "add_inplace[clone_inputs]": ("input[0] after the call", "input[0] after the call"),
    "dict_out[mul_to_add]": ("output['logits']", "output['logits']"),
    "dataclass_out[mul_to_add]": ("output.logits", "output.logits"),
    "namedtuple_out[mul_to_add]": ("output.first", "output.first"),
    "hf_out[mul_to_add]": ("output['logits']", "output['logits']"),
    "cache_out[mul_to_add]": ("output[0]", "output[1].keys[0]"),
    "wide[one_wrong_element]": ("output", "1 of 64000 element(s) differ"),
    "wide_bf16[one_wrong_element]": ("output", "worst at [63, 999]"),
    "train_mlp[wrong_grad]": ("grad fc1.bias", "grad fc1.weight"),
    "masked[inf_to_finite]": ("output", "where the float64 reference is NaN/inf"),
    "sqrt[zero_nan]": ("output", "where the float64 reference is NaN/inf"),
    "copy_of[alias_input]": ("output", "compiled returns the memory of input[0]"),
    "held_outputs[static_output]": ("output", "changed when the compiled object was called again"),
    "container_flip[aot_eager]": ("output", "compiled gives a list where eager gives a tuple"),
    "plain_attribute[clone_inputs]": ("attribute total", "attribute total"),
    "example_inputs[stale]": ("output", "example inputs re-drawn (second call)"),
    "twin_relu[dedup_outputs]": ("output[1]", "compiled returns the memory of output[0]"),
    "held_output_one_call[static_output]": ("output", "changed when the compiled object was called again"),
    "loss_item[mul_to_add]": ("output[0]", "output[1]"),
}


@pytest.mark.parametrize("case_id", sorted(WRONG))
def test_wrong_backends_are_mismatches_located_exactly(verdicts, case_id):
    r = verdicts[case_id]
    where, text = WRONG[case_id]
    assert r["outcome"] == "mismatch", r["message"]
    assert r["mismatches"][0]["where"] == where
    assert text in r["message"] + r["details"]


def test_mismatch_reports_errors_against_the_tolerance(verdicts):
    m = verdicts["seed[mul_to_add]"]["mismatches"][0]
    assert m["input_set"] == 1 and m["n_bad"] == 4 and m["numel"] == 4
    assert m["max_abs"] > 0 and m["max_rel"] > 0 and m["worst_index"] is not None
    assert m["atol"] == 1e-5 and m["rtol"] == 1.3e-6  # float32 defaults
    assert "max abs err" in m["summary"] and "atol 1e-05" in m["summary"]


def test_one_wrong_element_in_bf16_is_not_hidden_by_rmse(verdicts):
    r = verdicts["wide_bf16[one_wrong_element]"]
    assert "float64" in r["message"], "the fp64 rule was consulted and said why it did not accept"


def test_every_differing_leaf_is_listed(verdicts):
    wheres = [m["where"] for m in verdicts["conv_bn[clone_inputs]"]["mismatches"]]
    assert {"buffer 1.running_mean", "buffer 1.running_var", "buffer 1.num_batches_tracked"} <= set(wheres)


BROKEN = {
    "mlp[relu_compile_error_TESTING_ONLY]": ("compile", "ReluCompileError"),
    "mlp[relu_runtime_error_TESTING_ONLY]": ("run", "ReluRuntimeError"),
    "broken_eager[aot_eager]": ("eager", "broken in eager too"),
    "missing_attr[aot_eager]": ("load", "did you mean 'MLP'"),
    "not_a_module[aot_eager]": ("load", "not a torch.nn.Module"),
    "no_graph[aot_eager]": ("compile", "captured no graph"),
}


@pytest.mark.parametrize("case_id", sorted(BROKEN))
def test_errors_name_their_phase(verdicts, case_id):
    r = verdicts[case_id]
    phase, text = BROKEN[case_id]
    assert r["outcome"] == "error" and r["phase"] == phase, r["message"]
    assert text in r["message"]
    assert r["details"], "the traceback or explanation is kept"


def test_eager_disagreeing_with_itself_is_flaky_not_a_mismatch(verdicts):
    r = verdicts["noisy[aot_eager]"]
    assert r["outcome"] == "flaky"
    assert "eager disagrees with itself" in r["message"]
    # both values come from eager: the diff names them as its two runs, never as "compiled" (issue #18)
    assert "eager run 1 " in r["message"] and ", eager run 2 " in r["message"] and "compiled" not in r["message"]


def test_cuda_requested_without_gpu_is_skipped_with_reason(verdicts):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible here: the case runs instead of skipping")
    r = verdicts["on_cuda[aot_eager]"]
    assert r["outcome"] == "skip" and "no CUDA device" in r["message"]


def test_expected_failures(verdicts):
    assert verdicts["expected_failures[relu_accuracy_error_TESTING_ONLY]"]["outcome"] == "xfail"
    assert "known wrong relu" in verdicts["expected_failures[relu_accuracy_error_TESTING_ONLY]"]["message"]
    assert verdicts["expected_failures[relu_compile_error_TESTING_ONLY]"]["outcome"] == "xfail"
    xpass = verdicts["expected_failures[aot_eager]"]
    assert xpass["outcome"] == "xpass" and "remove the xfail" in xpass["message"]


def test_silent_fallback_is_visible_in_health(verdicts):
    assert verdicts["mlp[aot_eager]"]["health"]["graphs"] == 1
    assert verdicts["mlp[aot_eager]"]["health"]["graph_breaks"] == 0


def test_one_case_failing_never_stops_the_others(verdicts):
    # the config holds broken imports, crashing backends and eager failures: every case still has a result
    assert len(verdicts) == 74


# Every mismatch's repro bundle, replayed in a fresh process: it must find the same mismatch (exit 1). Cases
# alternate between the two verdicts a bundle has, verify-compile's (installed) and plain allclose (torch only),
# so both are exercised without replaying everything twice.
MISMATCHES = sorted(WRONG) + ["expected_failures[relu_accuracy_error_TESTING_ONLY]"]  # xfail: still a mismatch
_ALONE = ("import runpy, sys; sys.modules['verify_compile'] = None; sys.argv = [sys.argv[1]]; "
          "runpy.run_path(sys.argv[0], run_name='__main__')")


def _replay(index: int, bundle: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if index % 2:  # torch only: verify-compile made unimportable (an installed copy included)
        command = [sys.executable, "-c", _ALONE, str(bundle / "repro.py")]
    else:  # this checkout's verify-compile, not whichever copy the environment has installed
        command, env["PYTHONPATH"] = [sys.executable, str(bundle / "repro.py")], str(REPO / "entrypoint")
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def replayed(verdicts, tmp_path_factory):
    """{case id: the finished `python repro.py` of its bundle}, run two at a time, away from the bundles."""
    cwd = tmp_path_factory.mktemp("replay")
    bundles = {case_id: Path(verdicts[case_id]["artifacts"][0]) for case_id in MISMATCHES
               if verdicts[case_id]["artifacts"]}
    with ThreadPoolExecutor(2) as pool:
        runs = {case_id: pool.submit(_replay, MISMATCHES.index(case_id), bundle, cwd)
                for case_id, bundle in bundles.items()}
        return {case_id: run.result() for case_id, run in runs.items()}


@pytest.mark.parametrize("case_id", MISMATCHES)
def test_every_mismatch_reproduces_from_its_bundle(verdicts, replayed, case_id):
    r = verdicts[case_id]
    if not r["artifacts"] and r["mismatches"][0]["kind"] == "overwritten":
        pytest.skip("an output changed by a later call is found after the last call: the run writes no bundle")
    assert r["artifacts"], f"no repro bundle: {r['notes']}"
    proc = replayed[case_id]
    assert proc.returncode == 1 and "MISMATCH REPRODUCED" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "note: eager here differs" not in proc.stdout  # the bundle's eager is the run's, leaf by leaf
    assert r["mismatches"][0]["where"] in proc.stdout


def test_the_python_api_gives_the_clis_verdict_on_every_case(verdicts):
    """`verify_compile.verify` on the live objects of every case (built as the config builds them, the same
    input sets) observes what the CLI's workers observed (issue #16)."""
    import torch

    from verify_compile import verify
    from verify_compile.config.loader import load_config
    from verify_compile.engine.loading import resolve_backend
    from verify_compile.engine.reference import build_reference
    from verify_compile.orchestration.cases import expand

    refs: dict = {}
    differ = []
    for case in expand([load_config(FIXTURES / "verdicts.yaml")]):
        spec, b = case.model, case.backend
        if spec.name not in refs:
            refs[spec.name] = build_reference(spec, torch.device("cpu"), lambda phase: None)
        ref = refs[spec.name]
        if ref.failure is not None and ref.failure.phase == "load":  # no live object to give the API
            assert verdicts[case.id]["phase"] == "load", case.id
            continue
        backend = {"backend": resolve_backend(b, spec.base_dir) if b.is_custom else b.backend, "id": b.id,
                   "mode": b.mode, "options": b.options, "dynamic": b.dynamic, "fullgraph": b.fullgraph}
        result = verify(ref.module if ref.module is not None else ref.fn, inputs=ref.input_sets, redraw=False,
                        backend=backend, train=spec.train, tolerance=spec.tolerance, seed=spec.seed, device=spec.device,
                        dynamo_config=spec.dynamo_config, name=spec.name)
        cli = verdicts[case.id]
        if (result.case_id, result.observed) != (case.id, cli["observed"]):
            differ.append(f"{case.id}: the API saw {result.observed} ({result.message}), the CLI {cli['observed']}")
    assert not differ, "\n".join(differ)
