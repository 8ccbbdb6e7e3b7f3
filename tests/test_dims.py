"""Named dims and sweeps: shapes by name, extra input sets per swept size, reports that name the swept set,
and the typed input specs the config resolves once."""

from __future__ import annotations

import pickle
from pathlib import Path

from helpers import FIXTURES, results_by_id, run_cli, write

MODELS = "def rowsum(x, y):\n    return x.sum(-1) * 2 + y.float().mean()\n"

CONFIG = f"""\
version: 1
defaults:
  dims: {{T: 16}}
models:
  - name: tokens
    function: models.py:rowsum
    device: cpu
    dims: {{B: 4}}
    inputs:
      - args: [{{shape: [B, T]}}, {{shape: [B, T], dist: randint, high: 100}}]
    sweep: {{B: [1, 3], T: [5]}}
    backends: [aot_eager, {FIXTURES / "backends.py"}:wrong_for_batch_of_one]
"""


def _load(tmp_path: Path, text: str):
    from verify_compile.config.loader import load_config

    write(tmp_path / "models.py", MODELS)
    return load_config(write(tmp_path / "cfg.yaml", text))


def test_a_batch_of_one_in_a_sweep_is_a_mismatch_that_names_the_swept_set(tmp_path: Path) -> None:
    write(tmp_path / "models.py", MODELS)
    write(tmp_path / "cfg.yaml", CONFIG)
    proc = run_cli("run", "cfg.yaml", "--json", "out.json", cwd=tmp_path)
    results = results_by_id(tmp_path / "out.json")
    good, bad = results["tokens[aot_eager]"], results["tokens[wrong_for_batch_of_one]"]
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert good["outcome"] == "pass" and good["input_sets"] == 4  # one listed, three swept: no re-draw
    assert bad["outcome"] == "mismatch" and bad["input_sets"] == 4
    assert bad["message"].startswith("input set 2 of 4 (sweep B=1): output"), bad["message"]
    assert bad["details"].startswith("input set 2 of 4 (sweep B=1): 1 difference(s)"), bad["details"]
    assert [m["input_set"] for m in bad["mismatches"]] == [2]


def test_sweeps_become_labelled_input_sets_with_named_dims(tmp_path: Path) -> None:
    from verify_compile.spec import TensorSpec

    (spec,) = _load(tmp_path, CONFIG).models
    assert spec.dims == {"T": 16, "B": 4} and spec.dynamic_dims == ("T", "B")  # `dims` order
    assert [(s.label, s.line) for s in spec.inputs] == [("", 10), ("sweep B=1", 11), ("sweep B=3", 11),
                                                        ("sweep T=5", 11)]
    shapes = [tuple(a.shape for a in s.args) for s in spec.inputs]
    assert shapes == [((4, 16), (4, 16)), ((1, 16), (1, 16)), ((3, 16), (3, 16)), ((4, 5), (4, 5))]
    x, y = spec.inputs[1].args
    assert x == TensorSpec(shape=(1, 16), dtype="float32", dist="randn", dim_names=("B", "T"))
    assert (y.dtype, y.low, y.high) == ("int64", 0, 100)
    assert spec.inputs[3].dims == {"T": 5, "B": 4}
    assert pickle.loads(pickle.dumps(spec)) == spec  # specs travel to workers


def test_defaults_are_resolved_once_in_the_config(tmp_path: Path) -> None:
    (spec,) = _load(tmp_path, """\
version: 1
models:
  - name: m
    function: models.py:rowsum
    dtype: bfloat16
    inputs:
      - args: [{shape: [2, 3], dist: randint}, {shape: [3], dist: rand, low: -1}, {shape: [3]}, [{shape: [1]}]]
""").models
    randint, rand, randn, (nested,) = spec.inputs[0].args
    assert (randint.dtype, randint.low, randint.high, randint.random) == ("int64", 0, 10, True)
    assert (rand.dtype, rand.low, rand.high) == ("bfloat16", -1, 1)
    assert (randn.low, randn.high, randn.dim_names) == (None, None, (None,))
    assert nested.shape == (1,) and spec.dims == {} and spec.dynamic_dims == ()


def test_a_listed_set_may_resize_a_dim_which_makes_it_dynamic(tmp_path: Path) -> None:
    (spec,) = _load(tmp_path, """\
version: 1
models:
  - name: m
    function: models.py:rowsum
    dims: {B: 4, T: 8}
    inputs:
      - args: [{shape: [B, T]}, {shape: [T]}]
      - args: [{shape: [B, T]}, {shape: [T]}]
        dims: {B: 2}
    sweep: {T: [3]}
""").models
    assert spec.dynamic_dims == ("B", "T")
    assert [s.args[0].shape for s in spec.inputs] == [(4, 8), (2, 8), (4, 3)]  # the sweep uses the model's B
