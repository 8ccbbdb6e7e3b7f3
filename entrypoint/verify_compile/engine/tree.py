"""Nested values, walked and named in one place: outputs and inputs are tensors inside mappings (a Hugging Face
`ModelOutput` is one: an OrderedDict, so it is walked by key), dataclasses, namedtuples, lists and tuples.
Children are named as the reports name them: `output['logits']`, `output[0]`, `output.hidden` (dataclass
fields, namedtuple fields, plain-object attributes). Deeper than MAX_DEPTH (a cycle) is not walked."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from typing import Any, Callable, NamedTuple, Optional

import torch

MAX_DEPTH = 32
_RAISE = object()


class Step(NamedTuple):
    """One edge from a container to a child: its name suffix and how to get the child."""

    text: str  # appended to the parent's name: "['k']", "[0]", ".name"
    key: Any  # the mapping key, the index, or the attribute name
    attribute: bool = False

    def get(self, parent: Any, default: Any = _RAISE) -> Any:
        if self.attribute:
            return getattr(parent, self.key) if default is _RAISE else getattr(parent, self.key, default)
        return parent[self.key]


def is_dataclass_instance(value: Any) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def is_plain_object(value: Any) -> bool:
    """An object without its own == (a KV cache, a custom output class): it is what its attributes are."""
    return type(value).__eq__ is object.__eq__


def steps(value: Any) -> Optional[list]:
    """The children of a container, in order; None for anything else (a leaf)."""
    if isinstance(value, Mapping):
        return [Step(f"[{k!r}]", k) for k in value]
    if is_dataclass_instance(value):
        return [Step(f".{f.name}", f.name, True) for f in dataclasses.fields(value)]
    if isinstance(value, (list, tuple)):  # torch.Size is a tuple
        names = getattr(value, "_fields", None)  # a namedtuple: name its fields
        return [Step(f".{names[i]}" if names else f"[{i}]", i) for i in range(len(value))]
    return None


def attribute_steps(*objects: Any) -> list:
    """The attributes of plain objects (the union, sorted), for walking them like containers."""
    names: set = set()
    for obj in objects:
        names |= _attributes(obj)
    return [Step(f".{n}", n, True) for n in sorted(names)]


def leaves(value: Any, where: str, depth: int = 0) -> list:
    """[(name, leaf)] for every non-container in the tree, in order."""
    children = steps(value)
    if children is None:
        return [(where, value)]
    if depth > MAX_DEPTH:
        return []
    return [leaf for step in children for leaf in leaves(step.get(value), where + step.text, depth + 1)]


def tensor_leaves(value: Any, where: str) -> list:
    """[(name, tensor)] for every tensor in the tree, names like `input[0]['mask']`."""
    return [(name, leaf) for name, leaf in leaves(value, where) if isinstance(leaf, torch.Tensor)]


def map_tensors(value: Any, fn: Callable[[torch.Tensor], Any], depth: int = 0) -> Any:
    """The same tree with `fn` applied to every tensor. Containers keep their type: mappings (ModelOutput
    included), dataclasses, namedtuples, lists and tuples; other objects stay as they are."""
    if isinstance(value, torch.Tensor):
        return fn(value)
    if depth > MAX_DEPTH or steps(value) is None:
        return value
    depth += 1
    if isinstance(value, Mapping):
        try:
            out = copy.copy(value)
            for k, v in value.items():
                out[k] = map_tensors(v, fn, depth)
            return out
        except (TypeError, AttributeError, KeyError):  # a read-only mapping: a plain dict keeps the data
            return {k: map_tensors(v, fn, depth) for k, v in value.items()}
    if is_dataclass_instance(value):
        out = copy.copy(value)
        for f in dataclasses.fields(value):
            object.__setattr__(out, f.name, map_tensors(getattr(value, f.name), fn, depth))
        return out
    if hasattr(value, "_fields"):
        return type(value)(*(map_tensors(v, fn, depth) for v in value))
    return type(value)(map_tensors(v, fn, depth) for v in value)


def _attributes(obj: Any) -> set:
    names = set(vars(obj)) if hasattr(obj, "__dict__") else set()
    for cls in type(obj).__mro__:
        slots = getattr(cls, "__slots__", ())
        names.update((slots,) if isinstance(slots, str) else slots)
    return {n for n in names if not n.startswith("__") and hasattr(obj, n)}
