"""Turning validated argument specs into real values, deterministically for a given seed."""

from __future__ import annotations

import math
from typing import Any

import torch

from verify_compile.engine.portable import map_tensors
from verify_compile.spec import FileSpec, InputSet, TensorSpec

_DTYPES = {name: getattr(torch, name) for name in (
    "float32", "float16", "bfloat16", "float64", "int64", "int32", "int16", "int8", "uint8", "bool",
    "complex64", "complex128")}


def torch_dtype(name: str) -> torch.dtype:
    return _DTYPES[name]


def materialize(input_set: InputSet, seed: int, device: torch.device, dtype: torch.dtype) -> tuple:
    """(args, kwargs) for one input set. Random tensors come from a CPU generator seeded with `seed`, then move
    to `device`, so the same config gives the same inputs on every machine and device."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    args = tuple(_value(a, gen, device, dtype) for a in input_set.args)
    kwargs = {k: _value(v, gen, device, dtype) for k, v in input_set.kwargs.items()}
    return args, kwargs


def has_random_tensor(input_set: InputSet) -> bool:
    def random(v: Any) -> bool:
        if isinstance(v, TensorSpec):
            return v.random
        if isinstance(v, dict):
            return any(random(x) for x in v.values())
        if isinstance(v, tuple):
            return any(random(x) for x in v)
        return False
    return random(input_set.args) or random(input_set.kwargs)


def _value(spec: Any, gen: torch.Generator, device: torch.device, dtype: torch.dtype) -> Any:
    if isinstance(spec, TensorSpec):
        return _tensor(spec, gen).to(device).requires_grad_(spec.requires_grad)
    if isinstance(spec, FileSpec):
        return _place(_load_file(spec), device, dtype)
    if isinstance(spec, dict):
        return {k: _value(v, gen, device, dtype) for k, v in spec.items()}
    if isinstance(spec, (list, tuple)):
        return tuple(_value(v, gen, device, dtype) for v in spec)
    return spec


def _load_file(spec: FileSpec) -> Any:
    """The data of a `{file:, key:}` argument, read without executing anything; errors name file and key."""
    path = spec.file
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ValueError(f"input file {path} cannot be loaded with torch.load(weights_only=True): "
                         f"{str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}") from None
    if spec.key is None:
        return data
    if not isinstance(data, dict):
        raise ValueError(f"input file {path} holds a {type(data).__name__}, not a mapping: drop 'key: {spec.key}'")
    if spec.key not in data:
        keys = ", ".join(map(str, list(data)[:20]))
        raise ValueError(f"input file {path} has no key {spec.key!r} (it has: {keys})")
    return data[spec.key]


def _tensor(spec: TensorSpec, gen: torch.Generator) -> torch.Tensor:
    """The tensor on the CPU, in the spec's dtype. Values are drawn in float64 (int64 for randint), then cast."""
    shape = spec.shape
    if spec.dist == "randint":
        t = torch.randint(int(spec.low), int(spec.high), shape, generator=gen, dtype=torch.int64)
    elif spec.dist in ("randn", "rand"):
        t = (torch.randn if spec.dist == "randn" else torch.rand)(shape, generator=gen, dtype=torch.float64)
        if spec.low is not None:  # rescale to [low, high)
            uniform = t if spec.dist == "rand" else torch.rand(shape, generator=gen, dtype=torch.float64)
            t = float(spec.low) + (float(spec.high) - float(spec.low)) * uniform
    elif spec.dist == "ones":
        t = torch.ones(shape)
    elif spec.dist == "zeros":
        t = torch.zeros(shape)
    elif spec.dist == "arange":
        t = torch.arange(math.prod(shape), dtype=torch.float64).reshape(shape)
    else:  # full
        t = torch.full(shape, spec.value, dtype=torch.float64)
    return t.to(_DTYPES[spec.dtype])


def _place(value: Any, device: torch.device, dtype: torch.dtype) -> Any:
    """Move loaded data to the device; floating tensors take the model's dtype."""
    return map_tensors(value, lambda t: t.to(device=device, dtype=dtype if t.is_floating_point() else t.dtype))
