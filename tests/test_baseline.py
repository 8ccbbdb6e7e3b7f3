"""Expected-results baseline and compile-health gates, with real backends (a baseline file that cannot be read is
refused in the fast tier: tests/unit/test_refusals.py)."""

from __future__ import annotations

import pytest

from helpers import results_by_id, run_cli, write

CONFIG = """\
version: 1
defaults:
  device: cpu
  benchmark: false
models:
  - name: relu
    function: models.py:relu_model
    inputs: [{args: [{shape: [6]}]}]
    backends: [aot_eager, relu_accuracy_error_TESTING_ONLY]
  - name: branchy                # a data-dependent branch: one graph break
    function: models.py:toy_example
    inputs: [{args: [{shape: [6]}, {shape: [6]}]}]
    backends: [aot_eager]
"""

TOY = '''

def toy_example(a, b):
    x = a / (torch.abs(a) + 1)
    if b.sum() < 0:
        b = b * -1
    return x * b
'''


@pytest.fixture
def work(config_dir):
    with open(config_dir.path / "models.py", "a") as f:
        f.write(TOY)
    config_dir(CONFIG)
    return config_dir.path


def _run(work, *args):
    proc = run_cli("run", "cfg.yaml", "--json", "out.json", *args, cwd=work)
    return proc, results_by_id(work / "out.json") if (work / "out.json").exists() else {}


def test_known_mismatch_in_the_baseline_keeps_the_run_green(work):
    proc, _ = _run(work, "--baseline", "baseline.yaml", "--update-baseline")
    assert proc.returncode == 0, proc.stderr
    text = (work / "baseline.yaml").read_text()
    assert "relu[relu_accuracy_error_TESTING_ONLY]:\n    outcome: mismatch" in text
    assert "graph_breaks: 1" in text
    proc, results = _run(work, "--baseline", "baseline.yaml", "--junit", "r.xml")
    assert proc.returncode == 0, proc.stderr
    known = results["relu[relu_accuracy_error_TESTING_ONLY]"]
    assert known["outcome"] == "xfail"
    assert known["baseline"]["status"] == "unchanged" and known["baseline"]["expected"] == "mismatch"
    assert known["observed"] == known["recorded"] == "mismatch", "what the run saw is kept"
    assert "3 unchanged" in proc.stdout
    assert "known mismatch (baseline)" in (work / "r.xml").read_text()


def test_a_new_mismatch_turns_the_run_red(work):
    write(work / "baseline.yaml", "version: 1\ncases:\n  relu[aot_eager]: {outcome: pass}\n"
          "  relu[relu_accuracy_error_TESTING_ONLY]: {outcome: pass}\n  branchy[aot_eager]: {outcome: pass}\n")
    proc, results = _run(work, "--baseline", "baseline.yaml")
    assert proc.returncode == 1
    r = results["relu[relu_accuracy_error_TESTING_ONLY]"]
    assert r["outcome"] == "mismatch" and r["baseline"]["status"] == "regressed"
    assert "regressed: the baseline expects pass" in r["message"]


def test_a_fixed_failure_is_reported_as_improved_and_fails_until_updated(work):
    write(work / "baseline.csv", "case,outcome,graph_breaks\nrelu[aot_eager],mismatch,\n"
          "relu[relu_accuracy_error_TESTING_ONLY],mismatch,\nbranchy[aot_eager],pass,1\n")
    proc, results = _run(work, "--baseline", "baseline.csv")
    assert proc.returncode == 1
    r = results["relu[aot_eager]"]
    assert r["outcome"] == "xpass" and r["baseline"]["status"] == "improved"
    assert "update the baseline" in r["message"]
    assert "1 improved" in proc.stdout


def test_graph_breaks_are_tracked_direction_aware(work):
    base = ("version: 1\ncases:\n  relu[aot_eager]: {outcome: pass}\n"
            "  branchy[aot_eager]: {outcome: pass, graph_breaks: %d}\n")
    write(work / "baseline.yaml", base % 0)
    proc, results = _run(work, "--baseline", "baseline.yaml", "--only", "branchy")
    assert results["branchy[aot_eager]"]["outcome"] == "gate"
    assert "1 graph breaks where the baseline has 0" in results["branchy[aot_eager]"]["message"]
    write(work / "baseline.yaml", base % 3)
    proc, results = _run(work, "--baseline", "baseline.yaml", "--only", "branchy")
    assert results["branchy[aot_eager]"]["outcome"] == "xpass"
    assert results["branchy[aot_eager]"]["baseline"]["status"] == "improved"


def test_cases_missing_from_the_baseline_are_new(work):
    write(work / "baseline.yaml", "version: 1\ncases: {}\n")
    proc, results = _run(work, "--baseline", "baseline.yaml", "--only", "relu[aot_eager]")
    assert proc.returncode == 0
    assert results["relu[aot_eager]"]["baseline"]["status"] == "new"


def test_max_graph_breaks_zero_fails_a_function_with_a_graph_break(work):
    write(work / "cfg.yaml", CONFIG.replace("    backends: [aot_eager]\n", "    backends: [aot_eager]\n"
                                            "    max_graph_breaks: 0\n    max_recompiles: 0\n"))
    proc, results = _run(work, "--only", "branchy")
    r = results["branchy[aot_eager]"]
    assert proc.returncode == 1
    assert r["outcome"] == "gate", "a health gate is its own kind of failure, not a mismatch"
    assert "1 graph break(s) > max_graph_breaks 0" in r["message"]
    assert "Data-dependent branching" in r["details"]


def test_shards_judged_with_a_baseline_merge_to_the_same_verdicts(work):
    _run(work, "--baseline", "baseline.yaml", "--update-baseline")
    for i in (1, 2):
        run_cli("run", "cfg.yaml", "--shard", f"{i}/2", "--baseline", "baseline.yaml", "--json", f"s{i}.json",
                cwd=work)
    proc = run_cli("merge", "s1.json", "s2.json", "--baseline", "baseline.yaml", "--json", "merged.json", cwd=work)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    merged = results_by_id(work / "merged.json")
    assert merged["relu[relu_accuracy_error_TESTING_ONLY]"]["outcome"] == "xfail"
    assert {r["baseline"]["status"] for r in merged.values()} == {"unchanged"}


def test_updating_from_a_partial_run_keeps_the_other_entries(work):
    _run(work, "--baseline", "baseline.yaml", "--update-baseline")
    proc, _ = _run(work, "--baseline", "baseline.yaml", "--update-baseline", "--only", "branchy")
    assert proc.returncode == 0
    text = (work / "baseline.yaml").read_text()
    assert "relu[relu_accuracy_error_TESTING_ONLY]" in text and "branchy[aot_eager]" in text
