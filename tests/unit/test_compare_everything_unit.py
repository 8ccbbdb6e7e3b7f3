"""Nothing passes that was not compared (issue #19): depth, objects with their own ==, tensors in a module's
containers, nested tensors, tensor subclasses whose comparisons lie. Fast tier: in-process, nothing compiles."""

from __future__ import annotations

import pytest
import torch

from helpers import load_fixture
from verify_compile.engine.compare import Uncomparable, walk
from verify_compile.engine.portable import state_of
from verify_compile.spec import Tolerance

U = load_fixture("uncompared")


def differences(eager, compiled) -> list:
    found: list = []
    walk(eager, compiled, "output", Tolerance(), found)
    return found


X = torch.arange(1.0, 5.0)


def test_a_wrong_tensor_41_levels_deep_is_found():
    (found,) = differences(U.deep(X), U._nest(X * 3, 41))
    assert found.where == "output" + "[0]" * 41 and found.kind == "values"


def test_deeper_than_walked_is_an_error_naming_the_leaf_never_a_pass():
    with pytest.raises(Uncomparable, match=r"output\[0\]\[0\].*cannot be compared: it is nested more than 100"):
        differences(U.too_deep(X), U.too_deep(X))


def test_an_object_is_walked_by_its_fields_not_trusted_through_its_eq():
    (found,) = differences(U.eq_lies(X), U.Box(X * 3))
    assert found.where == "output.t"
    assert differences(U.eq_lies(X), U.eq_lies(X)) == []


def test_a_tensor_in_a_modules_list_is_module_state():
    model = U.History()
    assert set(state_of(model)) == {"attribute hist[0]"}


def test_nested_tensors_are_compared_component_by_component():
    wrong = torch.nested.nested_tensor([X * 2, (X * 3)[:2]])
    (found,) = differences(U.nested(X), wrong)
    assert found.where == "output.component[1]"
    assert differences(U.nested(X), U.nested(X)) == []
    (kind,) = differences(U.nested(X), X * 2)
    assert kind.kind == "type"


def test_a_subclass_is_compared_through_its_plain_data():
    eager, wrong = U.lying(X), (X * 3).as_subclass(U.Lying)
    assert bool(torch.isclose(eager, wrong).all()), "the subclass's own isclose says all close"
    (found,) = differences(eager, wrong)
    assert found.where == "output" and "4 of 4 element(s) differ" in found.summary
