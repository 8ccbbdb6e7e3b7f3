"""Named dims and sweeps as a config resolves them, once, in-process: shapes by name, a labelled input set per
swept size, typed input specs with their defaults. Fast tier; tests/test_dims.py runs a sweep for real."""

from __future__ import annotations

import pickle
from pathlib import Path

from helpers import SWEEP_CONFIG, SWEEP_MODELS, write


def _load(tmp_path: Path, text: str):
    from verify_compile.config.loader import load_config

    write(tmp_path / "models.py", SWEEP_MODELS)
    return load_config(write(tmp_path / "cfg.yaml", text))


def test_sweeps_become_labelled_input_sets_with_named_dims(tmp_path: Path) -> None:
    from verify_compile.spec import TensorSpec

    (spec,) = _load(tmp_path, SWEEP_CONFIG).models
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

