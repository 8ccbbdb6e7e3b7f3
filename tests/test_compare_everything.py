"""Nothing passes that was not compared (issue #19), end to end: a wrong backend is caught wherever its wrong
value sits, and what cannot be compared is an error in phase compare. Real backends and workers, one run."""

from __future__ import annotations

import pytest

from helpers import ConfigDir, results_by_id

CONFIG = """version: 1
defaults: {device: cpu, benchmark: false, backends: [aot_eager, backends.py:mul_to_add]}
models:
  - {name: deep, function: uncompared.py:deep, inputs: [{args: [{shape: [4]}]}]}
  - {name: too_deep, function: uncompared.py:too_deep, inputs: [{args: [{shape: [4]}]}]}
  - {name: eq_lies, function: uncompared.py:eq_lies, inputs: [{args: [{shape: [4]}]}]}
  - name: history
    model: uncompared.py:History
    inputs: [{args: [{shape: [4]}]}]
    backends: [aot_eager, backends.py:clone_inputs]
  - {name: nested, function: uncompared.py:nested, inputs: [{args: [{shape: [4]}]}]}
  - {name: lying, function: uncompared.py:lying, inputs: [{args: [{shape: [4]}]}]}
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    folder = ConfigDir(tmp_path_factory.mktemp("compare_everything"), ("backends.py", "uncompared.py"))
    folder(CONFIG)
    proc = folder.run("run", "cfg.yaml", "--json", "r.json")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    return results_by_id(folder.path / "r.json")


@pytest.mark.parametrize("case, where", [("deep[mul_to_add]", "output" + "[0]" * 41),
                                         ("eq_lies[mul_to_add]", "output.t"),
                                         ("history[clone_inputs]", "attribute hist[0]"),
                                         ("nested[mul_to_add]", "output.component[0]"),
                                         ("lying[mul_to_add]", "output")])
def test_a_wrong_value_is_caught_wherever_it_sits(results, case, where):
    r = results[case]
    assert r["outcome"] == "mismatch" and r["mismatches"][0]["where"] == where, r["message"]
    assert results[case.split("[")[0] + "[aot_eager]"]["outcome"] == "pass", "and a correct backend passes"


def test_what_cannot_be_compared_is_an_error_in_phase_compare(results):
    for backend in ("aot_eager", "mul_to_add"):
        r = results[f"too_deep[{backend}]"]
        assert (r["outcome"], r["phase"]) == ("error", "compare"), r["message"]
        assert "cannot be compared: it is nested more than 100 levels deep" in r["message"]
