"""The verdict's comparison as pure functions: leaf comparison, located diffs, and the float64 rule.
Fast tier: imports torch, compiles nothing."""

from __future__ import annotations

import pytest
import torch

from verify_compile.engine.compare import CallRecord, compare_calls, fp64_accepts
from verify_compile.spec import Tolerance


def obs(output, inputs=((), {})) -> CallRecord:
    return CallRecord(output=output, inputs=inputs, state={}, grads={})


def diffs(eager, compiled, fp64=None) -> list:
    return compare_calls(obs(eager), obs(compiled), Tolerance(), fp64=(lambda: obs(fp64)) if fp64 is not None
                                else None)


def test_equal_outputs_have_no_difference():
    x = torch.randn(8)
    assert diffs({"a": x, "b": (x, x)}, {"a": x.clone(), "b": (x.clone(), x.clone())}) == []


def test_a_wrong_element_is_located():
    x = torch.zeros(3, 4)
    y = x.clone()
    y[1, 2] = 1.0
    [d] = diffs({"logits": x}, {"logits": y})
    assert d.where == "output['logits']" and d.kind == "values" and d.worst_index == [1, 2] and d.n_bad == 1


@pytest.mark.parametrize("compiled, kind", [(torch.zeros(1, 4), "shape"), (torch.zeros(4, dtype=torch.float64),
                                                                          "dtype"), ([torch.zeros(4)], "type")])
def test_shape_dtype_and_container_differences_are_never_broadcast_away(compiled, kind):
    [d] = diffs(torch.zeros(4), compiled)
    assert d.kind == kind and d.where == "output"


def test_nan_where_eager_has_a_number():
    [d] = diffs(torch.ones(4), torch.tensor([1.0, float("nan"), 1.0, 1.0]))
    assert d.kind == "nan"


def test_structure_differences_name_the_key():
    found = diffs({"a": torch.zeros(2)}, {"b": torch.zeros(2)})
    assert found and found[0].kind == "structure"


def test_integers_are_exact():
    assert diffs(torch.tensor([1, 2]), torch.tensor([1, 3]))
    assert not diffs(torch.tensor([1, 2]), torch.tensor([1, 2]))


def test_float64_rule_accepts_a_result_closer_to_float64_than_eager():
    torch.manual_seed(0)
    f = torch.randn(4096, dtype=torch.float64)
    eager = (f + 1e-3 * torch.randn_like(f)).to(torch.bfloat16)
    compiled = f.to(torch.bfloat16)  # rounded once: more accurate than eager
    ok, why = fp64_accepts(eager.double(), compiled.double(), f, 1e-5, 1.6e-2, torch.bfloat16)
    assert ok, why


def test_float64_rule_rejects_a_result_far_worse_than_eager():
    f = torch.linspace(-1, 1, 4096, dtype=torch.float64)
    eager = f.float().double()
    compiled = eager + 1e-2
    ok, why = fp64_accepts(eager, compiled, f, 1e-5, 1.3e-6, torch.float32)
    assert not ok and "float64" in why


def test_float64_rule_requires_exact_nan_where_float64_is_nan():
    f = torch.tensor([float("nan"), 1.0], dtype=torch.float64)
    ok, why = fp64_accepts(torch.tensor([float("nan"), 1.0], dtype=torch.float64),
                           torch.tensor([0.0, 1.0], dtype=torch.float64), f, 1e-5, 1.3e-6, torch.float32)
    assert not ok and "NaN/inf" in why


def test_default_tolerance_depends_on_dtype():
    x = torch.ones(64, dtype=torch.float16)
    assert not diffs(x, x + 5e-4)  # within fp16's rtol 1e-3
    assert diffs(x.float(), x.float() + 5e-4)  # far outside fp32's
