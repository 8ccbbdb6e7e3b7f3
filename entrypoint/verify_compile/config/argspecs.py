"""Validating input sets and their arguments: tensor specs, file references, scalars and nested containers.
The result is typed, plain data (TensorSpec, FileSpec, scalars; YAML lists become tuples) with every default
resolved here, once; `engine.inputs.materialize` turns it into values."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Optional

from verify_compile.config.checker import Checker, show
from verify_compile.config.dims import set_dims
from verify_compile.config.yamlload import LocDict, LocList
from verify_compile.errors import did_you_mean
from verify_compile.spec import DISTS, RANDOM_DISTS, TENSOR_DTYPES, FileSpec, InputSet, TensorSpec

TENSOR_KEYS = ("shape", "dtype", "dist", "low", "high", "value", "requires_grad")
FILE_KEYS = ("file", "key")
INPUT_SET_KEYS = ("args", "kwargs", "dims")
INTEGRAL = ("int64", "int32", "int16", "int8", "uint8", "bool")


@dataclass(frozen=True)
class Scope:
    """What the arguments of one input set are read against: the named dims and the model's dtype."""

    dims: dict = field(default_factory=dict)
    dtype: str = "float32"


def input_set(raw: Any, line: int, check: Checker, what: str, scope: Scope = Scope(), label: str = "",
              own_dims: bool = True) -> InputSet:
    """One `{args:, kwargs:, dims:}` mapping. `own_dims: false` ignores its `dims:` (a swept copy of it)."""
    if not isinstance(raw, LocDict):
        check.error(f"{what} must be a mapping with 'args:' and/or 'kwargs:', got {show(raw)}", line)
        return InputSet()
    check.keys(raw, INPUT_SET_KEYS, what)
    if own_dims and "dims" in raw:
        scope = Scope(set_dims(raw["dims"], raw.line_of("dims"), scope.dims, check), scope.dtype)
    args = raw.get("args", LocList())
    kwargs = raw.get("kwargs", LocDict())
    if not isinstance(args, list):
        check.error(f"{what}: 'args' must be a list", raw.line_of("args"))
        args = []
    if not isinstance(kwargs, dict):
        check.error(f"{what}: 'kwargs' must be a mapping", raw.line_of("kwargs"))
        kwargs = {}
    arg_lines = args.item_lines if isinstance(args, LocList) else [line] * len(args)
    kwarg_lines = kwargs.key_lines if isinstance(kwargs, LocDict) else {}
    return InputSet(
        args=tuple(argument(a, arg_lines[i], check, scope) for i, a in enumerate(args)),
        kwargs={str(k): argument(v, kwarg_lines.get(k, line), check, scope) for k, v in kwargs.items()},
        line=raw.line, label=label, dims=dict(scope.dims),
    )


def swept_sets(first: LocDict, swept: list, scope: Scope, check: Checker) -> tuple:
    """One input set per (dim, size) of a sweep, built from the first listed set with the model's dims."""
    return tuple(
        dataclasses.replace(
            input_set(first, first.line, check, "input set 1", Scope({**scope.dims, name: size}, scope.dtype),
                      label=f"sweep {name}={size}", own_dims=False), line=line)
        for name, size, line in swept)


def argument(raw: Any, line: int, check: Checker, scope: Scope = Scope()) -> Any:
    """Validate one argument and turn it into typed data (YAML lists become tuples)."""
    line = getattr(raw, "line", line)
    if isinstance(raw, dict) and "shape" in raw:
        return tensor_spec(raw, check, scope)
    if isinstance(raw, dict) and "file" in raw:
        return file_spec(raw, line, check)
    if isinstance(raw, dict):
        lines = getattr(raw, "key_lines", {})
        return {k: argument(v, lines.get(k, line), check, scope) for k, v in raw.items()}
    if isinstance(raw, list):
        lines = getattr(raw, "item_lines", [line] * len(raw))
        return tuple(argument(v, lines[i], check, scope) for i, v in enumerate(raw))
    return raw


def file_spec(raw: LocDict, line: int, check: Checker) -> Optional[FileSpec]:
    check.keys(raw, FILE_KEYS, "a file argument")
    if not check.typed(raw["file"], line, "'file'", (str,), "a path"):
        return None
    path = check.base_dir / raw["file"]
    if not path.is_file():
        check.error(f"input file '{raw['file']}' not found (looked in {check.base_dir})", line)
    if "key" in raw:
        check.typed(raw["key"], raw.line_of("key"), "'key'", (str, int), "a string or an integer")
    return FileSpec(file=str(path), key=raw.get("key"))


def tensor_spec(raw: LocDict, check: Checker, scope: Scope = Scope()) -> Optional[TensorSpec]:
    check.keys(raw, TENSOR_KEYS, "a tensor spec")
    shape, names = _shape(raw["shape"], raw.line_of("shape"), check, scope.dims)
    dist = raw.get("dist", "randn")
    if dist not in DISTS:
        check.error(f"unknown dist '{dist}'", raw.line_of("dist"),
                    did_you_mean(dist, DISTS) or f"choose one of: {', '.join(DISTS)}")
    if "dtype" in raw and raw["dtype"] not in TENSOR_DTYPES:
        check.error(f"unknown tensor dtype '{raw['dtype']}'", raw.line_of("dtype"),
                    did_you_mean(raw["dtype"], TENSOR_DTYPES) or f"choose one of: {', '.join(TENSOR_DTYPES)}")
    dtype = raw.get("dtype", "int64" if dist == "randint" else scope.dtype)
    _check_values(raw, dist, check)
    if "requires_grad" in raw:
        check.typed(raw["requires_grad"], raw.line_of("requires_grad"), "'requires_grad'", (bool,), "true or false")
        if raw["requires_grad"] is True and dtype in INTEGRAL:
            check.error("only floating-point tensors can require grad", raw.line_of("requires_grad"),
                        "give it a floating dtype, or drop requires_grad")
    low, high = raw.get("low"), raw.get("high")
    if dist == "randint" or low is not None or high is not None:  # randint always has a range; rand(n) when asked
        low = 0 if low is None else low
        high = (10 if dist == "randint" else 1) if high is None else high
    return TensorSpec(shape=shape, dtype=dtype, dist=dist, low=low, high=high, value=raw.get("value"),
                      requires_grad=raw.get("requires_grad") is True, dim_names=names)


def _shape(shape: Any, line: int, check: Checker, dims: dict) -> tuple:
    """(sizes, dim names): each entry is a non-negative integer or the name of a dim."""
    if not isinstance(shape, list):
        check.error(f"'shape' must be a list of non-negative integers or dim names, got {show(shape)}", line)
        return (), ()
    sizes, names = [], []
    for d in shape:
        if isinstance(d, str):
            if d not in dims:
                check.error(f"unknown dim '{d}' in shape {show(shape)}", line,
                            did_you_mean(d, list(dims)) or (f"known dims: {', '.join(dims)}" if dims else
                                                            "a shape is a list of non-negative integers or dim "
                                                            f"names; name a size under 'dims:', e.g. {{{d}: 4}}"))
            sizes.append(dims.get(d, 1))
            names.append(d)
        elif isinstance(d, int) and not isinstance(d, bool) and d >= 0:
            sizes.append(d)
            names.append(None)
        else:
            check.error(f"'shape' must be a list of non-negative integers or dim names, got {show(shape)}", line)
            return (), ()
    return tuple(sizes), tuple(names)


def _check_values(raw: LocDict, dist: str, check: Checker) -> None:
    for key in ("low", "high", "value"):
        if key in raw:
            check.typed(raw[key], raw.line_of(key), f"'{key}'", (int, float), "a number")
    if dist == "full" and "value" not in raw:
        check.error("dist 'full' needs 'value:'", raw.line)
    if "value" in raw and dist != "full":
        check.error(f"'value' only applies to dist 'full', not '{dist}'", raw.line_of("value"))
    if "value" in raw and isinstance(raw["value"], float) and not math.isfinite(raw["value"]):
        check.error(f"'value' must be finite, got {raw['value']}", raw.line_of("value"))
    for key in ("low", "high"):
        if key in raw and dist not in RANDOM_DISTS:
            check.error(f"'{key}' only applies to dists rand, randn and randint, not '{dist}'", raw.line_of(key))
    low, high = raw.get("low", 0), raw.get("high", 10 if dist == "randint" else 1)
    if dist in RANDOM_DISTS and ("low" in raw or "high" in raw) and _numbers(low, high) and not low < high:
        check.error(f"'low' ({low}) must be below 'high' ({high})", raw.line_of("low" if "low" in raw else "high"))


def _numbers(*values: Any) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
