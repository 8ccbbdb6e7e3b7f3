"""Named dims and sweeps through a real run: a swept size gets its own input set, and reports name the swept set.
The input sets and typed specs a config resolves are checked in the fast tier (tests/unit/test_dims_unit.py)."""

from __future__ import annotations

from helpers import SWEEP_CONFIG, SWEEP_MODELS, ConfigDir, results_by_id


def test_a_batch_of_one_in_a_sweep_is_a_mismatch_that_names_the_swept_set(config_dir: ConfigDir) -> None:
    config_dir.add("models.py", SWEEP_MODELS)
    config_dir(SWEEP_CONFIG)
    proc = config_dir.run("run", "cfg.yaml", "--json", "out.json")
    results = results_by_id(config_dir.path / "out.json")
    good, bad = results["tokens[aot_eager]"], results["tokens[wrong_for_batch_of_one]"]
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert good["outcome"] == "pass" and good["input_sets"] == 4  # one listed, three swept: no re-draw
    assert bad["outcome"] == "mismatch" and bad["input_sets"] == 4
    assert bad["message"].startswith("input set 2 of 4 (sweep B=1): output"), bad["message"]
    assert bad["details"].startswith("input set 2 of 4 (sweep B=1): 1 difference(s)"), bad["details"]
    assert [m["input_set"] for m in bad["mismatches"]] == [2]
