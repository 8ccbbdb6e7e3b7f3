"""One case costs one case (issue #19): a case that patches the torch the verdict uses, leaves its worker changed
or forges the worker's frames changes neither its own verdict nor the next case's. Real workers, one run."""

from __future__ import annotations

import shutil

import pytest

from helpers import FIXTURES, results_by_id, run_cli

LEAKS = ("meta_default_device", "dynamo_disabled", "moves_and_masks", "closes_stdout", "leaves_a_thread")


def _config() -> str:
    entries = [("patcher", "scale", "[leaks.py:patches_isclose]"), ("honest", "scale", "[leaks.py:honest_mul_to_add]"),
               ("forged", "forged_pass", "[aot_eager]"), ("after_forged", "scale", "[aot_eager]")]
    entries += [e for leak in LEAKS for e in ((leak, leak, "[aot_eager]"), (f"after_{leak}", "scale", "[aot_eager]"))]
    inputs = "[{args: [{shape: [6]}]}]"
    models = [f"  - {{name: {name}, function: 'leaks.py:{fn}', backends: {backends}, inputs: {inputs}}}"
              for name, fn, backends in entries]
    return "version: 1\ndefaults: {device: cpu, benchmark: false}\nmodels:\n" + "\n".join(models) + "\n"


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    d = tmp_path_factory.mktemp("one_case")
    shutil.copy(FIXTURES / "leaks.py", d / "leaks.py")
    (d / "c.yaml").write_text(_config())
    proc = run_cli("run", "c.yaml", "--json", "r.json", cwd=d, timeout=600)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    return results_by_id(d / "r.json")


def test_a_backend_that_patches_the_comparison_is_still_caught_and_so_is_the_next(results):
    patcher, honest = results["patcher[patches_isclose]"], results["honest[honest_mul_to_add]"]
    assert patcher["outcome"] == "mismatch" and "differ" in patcher["message"], patcher["message"]
    assert any("torch.isclose was replaced" in n and "fresh worker" in n for n in patcher["notes"]), patcher["notes"]
    assert honest["outcome"] == "mismatch", "the next case's verdict is its own"


def test_a_forged_result_frame_costs_only_its_case(results):
    forged = results["forged[aot_eager]"]
    assert forged["outcome"] == "error" and forged["phase"] == "crash", forged
    assert "without the worker's token" in forged["message"]
    assert results["after_forged[aot_eager]"]["outcome"] == "pass"


@pytest.mark.parametrize("leak, words", [
    ("meta_default_device", "the default device is meta"), ("dynamo_disabled", "TORCHDYNAMO_DISABLE was set"),
    ("moves_and_masks", "the working directory changed"), ("closes_stdout", "file descriptor 1 was closed"),
    ("leaves_a_thread", "thread 'left-behind' is still running")])
def test_a_case_that_leaves_its_worker_changed_is_named_and_the_next_runs_clean(results, leak, words):
    leaker = results[f"{leak}[aot_eager]"]
    assert any(words in n for n in leaker["notes"]), leaker["notes"]
    assert results[f"after_{leak}[aot_eager]"]["outcome"] == "pass", results[f"after_{leak}[aot_eager]"]["message"]
