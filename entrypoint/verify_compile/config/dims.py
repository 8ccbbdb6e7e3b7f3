"""Named dims and sweeps: `dims: {B: 4}` names sizes that shapes use (`shape: [B, 16]`); `sweep: {B: [1, 3]}`
asks for extra input sets, one per swept value, the other dims at their `dims` value."""

from __future__ import annotations

import re
from typing import Any

from verify_compile.config.checker import Checker, show
from verify_compile.config.yamlload import LocDict
from verify_compile.errors import did_you_mean

DIM_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def model_dims(raw: Any, line: int, check: Checker) -> dict:
    """A model's (or the defaults') `dims:` mapping: identifier -> positive integer."""
    if not isinstance(raw, LocDict):
        check.error(f"'dims' must map dim names to sizes, like {{B: 4, T: 16}}, got {show(raw)}", line)
        return {}
    out = {}
    for name, size in raw.items():
        if not isinstance(name, str) or not DIM_NAME_RE.match(name):
            check.error(f"dim name {show(name)} must be an identifier (letters, digits, '_')", raw.line_of(name))
        elif _size(size, raw.line_of(name), f"dim '{name}'", check):
            out[name] = size
    return out


def set_dims(raw: Any, line: int, dims: dict, check: Checker) -> dict:
    """An input set's own `dims:`: sizes for some of the model's dims, for this set only."""
    if not isinstance(raw, LocDict):
        check.error(f"an input set's 'dims' must map dim names to sizes, like {{B: 2}}, got {show(raw)}", line)
        return dict(dims)
    out = dict(dims)
    for name, size in raw.items():
        if name not in dims:
            check.error(f"input set 'dims' names dim {show(name)}, which the model's 'dims:' does not define",
                        raw.line_of(name), did_you_mean(str(name), list(dims)) or "add it to the model's 'dims:'")
        elif _size(size, raw.line_of(name), f"dim '{name}'", check):
            out[name] = size
    return out


def sweep(raw: Any, line: int, dims: dict, check: Checker) -> list:
    """[(dim, size, line)] in key order, then value order."""
    if not isinstance(raw, LocDict):
        check.error(f"'sweep' must map dim names to lists of sizes, like {{B: [1, 3]}}, got {show(raw)}", line)
        return []
    out = []
    for name, values in raw.items():
        key_line = raw.line_of(name)
        if name not in dims:
            check.error(f"sweep of unknown dim {show(name)}", key_line,
                        did_you_mean(str(name), list(dims)) or "name it under 'dims:' first, e.g. dims: {B: 4}")
            continue
        if not isinstance(values, list) or not values:
            check.error(f"sweep of '{name}' must be a non-empty list of positive integers, got {show(values)}",
                        key_line, f"e.g. sweep: {{{name}: [1, 3]}}")
            continue
        lines = getattr(values, "item_lines", [key_line] * len(values))
        for value, value_line in zip(values, lines):
            if _size(value, value_line, f"sweep value of '{name}'", check):
                out.append((name, value, value_line))
    return out


def dynamic_dims(dims: dict, listed: tuple, swept: list) -> tuple:
    """Dims whose size is not the same in every input set: swept ones, and ones a listed set overrides."""
    names = {name for name, _, _ in swept}
    names |= {name for name in dims if len({s.dims.get(name) for s in listed}) > 1}
    return tuple(name for name in dims if name in names)


def unused_sweeps(swept: list, first: Any, check: Checker) -> None:
    """A swept dim that no shape of the first input set uses would make copies of that set: nothing new verified."""
    used = _names_in((first.args, first.kwargs))
    seen = set()
    for name, _, line in swept:
        if name not in used and name not in seen:
            seen.add(name)
            check.error(f"sweep of '{name}', which no shape of input set 1 uses: each swept set would be a copy of it",
                        line, f"use the dim in a shape of input set 1 (shape: [{name}, ...]), or drop it from 'sweep'")


def _names_in(value: Any) -> set:
    """The dim names the tensor specs in a tree of typed arguments use."""
    if hasattr(value, "dim_names"):
        return {name for name in value.dim_names if name}
    items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
    return set().union(*(_names_in(v) for v in items))


def _size(value: Any, line: int, what: str, check: Checker) -> bool:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        check.error(f"{what} must be a positive integer, got {show(value)}", line)
        return False
    return True
