"""Pieces of the engine that compile nothing: seeded inputs, and the summary of a bisection's result.
Fast tier; tests/test_bisect.py bisects for real."""

from __future__ import annotations

import torch


def test_inputs_are_deterministic_for_a_seed():
    from verify_compile.engine.inputs import materialize
    from verify_compile.spec import InputSet, TensorSpec

    spec = InputSet(args=(TensorSpec(shape=(3, 4)), TensorSpec(shape=(5,), dtype="int64", dist="randint", low=0,
                                                                high=100)))
    first = materialize(spec, 7, torch.device("cpu"), torch.float32)
    again = materialize(spec, 7, torch.device("cpu"), torch.float32)
    other = materialize(spec, 8, torch.device("cpu"), torch.float32)
    assert all(torch.equal(a, b) for a, b in zip(first[0], again[0]))
    assert not torch.equal(first[0][0], other[0][0])


def test_summary_names_stage_subsystem_and_step() -> None:
    from verify_compile.engine.bisection import summary

    assert summary({"backend": "inductor", "subsystem": "lowerings", "bisect_number": 2,
                    "debug_info": "relu"}) == "inductor > lowerings > relu"
    assert summary({"backend": "inductor", "subsystem": "inductor_fallback_random", "bisect_number": 0,
                    "debug_info": "inductor_fallback_random"}) == "inductor > inductor_fallback_random"
    assert summary({"backend": "aot_eager_decomp_partition", "subsystem": None, "bisect_number": None,
                    "debug_info": None}) == "aot_eager_decomp_partition"
