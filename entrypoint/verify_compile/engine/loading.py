"""Importing what a config names (models, functions, custom backends) and building models from it."""

from __future__ import annotations

import copy
import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any, Callable

import torch

from verify_compile.engine.inputs import materialize
from verify_compile.errors import did_you_mean
from verify_compile.spec import BackendSpec, ModelSpec


class LoadError(Exception):
    """The config names something that cannot be imported or built; the message says what and why."""


def import_target(target: str, base_dir: str) -> Any:
    """Resolve 'file.py:attr' (relative to base_dir) or 'package.module:attr' (also looked up in base_dir)."""
    module_part, _, attr = target.rpartition(":")
    if base_dir not in sys.path:
        sys.path.insert(0, base_dir)  # so a model file can import its neighbours
    if module_part.endswith(".py") or "/" in module_part:
        module = _import_file(Path(base_dir) / module_part)
    else:
        module = importlib.import_module(module_part)
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            names = [n for n in dir(obj) if not n.startswith("_")]
            hint = did_you_mean(part, names)
            raise LoadError(f"'{module_part}' has no attribute '{part}'" + (f"; {hint}" if hint else ""))
        obj = getattr(obj, part)
    return obj


def _import_file(path: Path) -> Any:
    path = path.resolve()
    name = f"_vc_{path.stem}_{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise LoadError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up by name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def build_callable(spec: ModelSpec, device: torch.device, dtype: torch.dtype) -> tuple:
    """(callable to verify, nn.Module or None). Models are built under `spec.seed` so weights are reproducible."""
    obj = import_target(spec.target, spec.base_dir)
    if not callable(obj):
        raise LoadError(f"'{spec.target}' is a {type(obj).__name__}, not callable")
    if spec.kind == "function" and not isinstance(obj, torch.nn.Module):
        return obj, None
    if isinstance(obj, torch.nn.Module):  # an instance: verify it like a model, every run on its own copy
        model = copy.deepcopy(obj)
        model.to(device=device)
        model.to(dtype=dtype)
        return model, model
    torch.manual_seed(spec.seed)
    args, kwargs = materialize(spec.init, spec.seed, device, dtype)
    model = obj(*args, **kwargs)
    if not isinstance(model, torch.nn.Module):
        raise LoadError(f"'{spec.target}' returned a {type(model).__name__}, not a torch.nn.Module; "
                        "use 'function:' for plain callables")
    model.to(device=device)
    model.to(dtype=dtype)  # floating parameters and buffers only
    if spec.train:
        model.train()
    return model, model


def example_inputs(obj: Any) -> list:
    """Input sets a model or function offers itself, as `example_inputs` (a method or a value)."""
    provided = getattr(obj, "example_inputs", None)
    if provided is None:
        raise LoadError("no inputs: add 'inputs: [{args: [...]}]' to the model entry, or give the model an "
                        "'example_inputs()' method")
    value = provided() if callable(provided) else provided
    if isinstance(value, dict) and set(value) <= {"args", "kwargs"}:
        return [(tuple(value.get("args", ())), dict(value.get("kwargs", {})))]
    if isinstance(value, tuple):
        return [(value, {})]
    return [((value,), {})]


# Backends handed over as live callables (the Python API), by the name their BackendSpec carries.
LIVE_BACKENDS: dict = {}


def resolve_backend(spec: BackendSpec, base_dir: str) -> str | Callable:
    if spec.backend in LIVE_BACKENDS:
        return LIVE_BACKENDS[spec.backend]
    if not spec.is_custom:
        return spec.backend
    backend = import_target(spec.backend, base_dir)
    if not callable(backend):
        raise LoadError(f"custom backend '{spec.backend}' is a {type(backend).__name__}, not callable")
    return backend
