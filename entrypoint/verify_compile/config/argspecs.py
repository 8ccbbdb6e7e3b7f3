"""Validating input sets and their arguments: tensor specs, file references, scalars and nested containers.
The result is plain data (YAML lists become tuples) that `inputs.materialize` turns into values."""

from __future__ import annotations

import math
from typing import Any

from verify_compile.config.checker import Checker, show
from verify_compile.config.spec import DISTS, TENSOR_DTYPES, InputSet
from verify_compile.config.yamlload import LocDict, LocList
from verify_compile.errors import did_you_mean

TENSOR_KEYS = ("shape", "dtype", "dist", "low", "high", "value", "requires_grad")
FILE_KEYS = ("file", "key")


def input_set(raw: Any, line: int, check: Checker, what: str) -> InputSet:
    if not isinstance(raw, LocDict):
        check.error(f"{what} must be a mapping with 'args:' and/or 'kwargs:', got {show(raw)}", line)
        return InputSet()
    check.keys(raw, ("args", "kwargs"), what)
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
        args=tuple(argument(a, arg_lines[i], check) for i, a in enumerate(args)),
        kwargs={str(k): argument(v, kwarg_lines.get(k, line), check) for k, v in kwargs.items()},
        line=raw.line,
    )


def argument(raw: Any, line: int, check: Checker) -> Any:
    """Validate one argument and turn it into plain data (YAML lists become tuples)."""
    line = getattr(raw, "line", line)
    if isinstance(raw, dict) and "shape" in raw:
        return tensor_spec(raw, check)
    if isinstance(raw, dict) and "file" in raw:
        check.keys(raw, FILE_KEYS, "a file argument")
        if check.typed(raw["file"], line, "'file'", (str,), "a path"):
            path = check.base_dir / raw["file"]
            if not path.is_file():
                check.error(f"input file '{raw['file']}' not found (looked in {check.base_dir})", line)
            return {"file": str(path), **({"key": raw["key"]} if "key" in raw else {})}
        return None
    if isinstance(raw, dict):
        lines = getattr(raw, "key_lines", {})
        return {k: argument(v, lines.get(k, line), check) for k, v in raw.items()}
    if isinstance(raw, list):
        lines = getattr(raw, "item_lines", [line] * len(raw))
        return tuple(argument(v, lines[i], check) for i, v in enumerate(raw))
    return raw


def tensor_spec(raw: LocDict, check: Checker) -> dict:
    check.keys(raw, TENSOR_KEYS, "a tensor spec")
    shape = raw["shape"]
    if not (isinstance(shape, list) and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                            for d in shape)):
        check.error(f"'shape' must be a list of non-negative integers, got {show(shape)}", raw.line_of("shape"))
    dist = raw.get("dist", "randn")
    if dist not in DISTS:
        check.error(f"unknown dist '{dist}'", raw.line_of("dist"),
                    did_you_mean(dist, DISTS) or f"choose one of: {', '.join(DISTS)}")
    if "dtype" in raw and raw["dtype"] not in TENSOR_DTYPES:
        check.error(f"unknown tensor dtype '{raw['dtype']}'", raw.line_of("dtype"),
                    did_you_mean(raw["dtype"], TENSOR_DTYPES) or f"choose one of: {', '.join(TENSOR_DTYPES)}")
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
        if key in raw and dist not in ("rand", "randn", "randint"):
            check.error(f"'{key}' only applies to dists rand, randn and randint, not '{dist}'", raw.line_of(key))
    low, high = raw.get("low", 0), raw.get("high", 10 if dist == "randint" else 1)
    if dist in ("rand", "randn", "randint") and ("low" in raw or "high" in raw) and _numbers(low, high) \
            and not low < high:
        check.error(f"'low' ({low}) must be below 'high' ({high})", raw.line_of("low" if "low" in raw else "high"))
    if "requires_grad" in raw:
        check.typed(raw["requires_grad"], raw.line_of("requires_grad"), "'requires_grad'", (bool,), "true or false")
        integral = raw.get("dtype", "int64" if dist == "randint" else "float32") in (
            "int64", "int32", "int16", "int8", "uint8", "bool")
        if raw["requires_grad"] is True and integral:
            check.error("only floating-point tensors can require grad", raw.line_of("requires_grad"),
                        "give it a floating dtype, or drop requires_grad")
    return {k: (list(v) if isinstance(v, list) else v) for k, v in raw.items()}


def _numbers(*values: Any) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
