"""The one tree walk: how nested outputs and inputs are named, rebuilt and bounded (no compiling)."""

from __future__ import annotations

import dataclasses
from collections import OrderedDict, namedtuple

import torch

from verify_compile.engine import portable as tree
from verify_compile.engine.compare import compare_calls
from verify_compile.engine.repro import flatten_call
from verify_compile.spec import Tolerance

Pair = namedtuple("Pair", "first second")


@dataclasses.dataclass
class Out:
    hidden: torch.Tensor
    extra: tuple = ()


class ModelOutput(OrderedDict):
    """Shaped like transformers' ModelOutput: an OrderedDict (and a dataclass there): walked by key."""


class Cache:
    def __init__(self, k: torch.Tensor) -> None:
        self.k = k


def _value(scale: float = 1.0) -> tuple:
    t = torch.arange(3.0) * scale
    return (ModelOutput(logits=t), Pair(t, [t]), Out(t, (t,)), {"cache": Cache(t)})


def test_leaves_are_named_as_the_reports_name_them() -> None:
    names = [name for name, _ in tree.tensor_leaves(_value(), "output")]
    assert names == ["output[0]['logits']", "output[1].first", "output[1].second[0]", "output[2].hidden",
                     "output[2].extra[0]"]  # a plain object is a leaf here; comparison walks its attributes


def test_map_tensors_keeps_every_container_type() -> None:
    value = _value()
    out = tree.map_tensors(value, lambda t: t + 1)
    assert [type(x) for x in out] == [ModelOutput, Pair, Out, dict] and type(out[1].second) is list
    assert torch.equal(out[2].extra[0], torch.arange(3.0) + 1) and torch.equal(value[2].hidden, torch.arange(3.0))
    assert out[3]["cache"] is value[3]["cache"]  # plain objects are passed through, not copied


def test_a_cycle_stops_at_the_depth_guard() -> None:
    loop: list = [torch.ones(1)]
    loop.append(loop)
    assert len(tree.tensor_leaves(loop, "x")) == tree.MAX_DEPTH + 1
    assert tree.map_tensors(loop, lambda t: t)[0] is not None


def test_comparison_and_repro_bundles_name_leaves_alike() -> None:
    from verify_compile.engine.compare import CallRecord

    eager = CallRecord(output=_value(), inputs=((), {}), state={}, grads={})
    wrong = CallRecord(output=_value(2.0), inputs=((), {}), state={}, grads={})
    wheres = [m.where for m in compare_calls(eager, wrong, Tolerance(), use_fp64=False)]
    assert wheres == ["output[0]['logits']", "output[1].first", "output[1].second[0]", "output[2].hidden",
                      "output[2].extra[0]", "output[3]['cache'].k"]
    flat = flatten_call(eager)
    assert set(wheres) <= set(flat)  # a plain object is flattened by its attributes, as it is compared
    assert flat["output[3]['cache']"] == "<Cache>" and flat["output[1]"] == "<Pair>"  # containers: their type
    assert flat["output"] == "<tuple of 4>" and flat["output[0]"] == "<ModelOutput with keys ['logits']>"
