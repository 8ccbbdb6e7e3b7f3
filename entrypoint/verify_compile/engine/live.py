"""Verifying a live object in the caller's process (the Python API, verify_compile.api): the same engine and
the same checks as a worker's case, on a model or function that exists only in memory.

The caller's torch settings are restored afterwards, but while it runs torch is configured for verification
(deterministic algorithms, no TF32) and dynamo's caches are reset, as a worker does for every case.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Optional

import torch

from verify_compile import results as R
from verify_compile.engine import loading
from verify_compile.engine.portable import map_tensors, tensor_leaves
from verify_compile.engine.reference import live_reference
from verify_compile.engine.runner import run_case
from verify_compile.engine.torchstate import TorchState, configure_for_verification
from verify_compile.errors import exception_summary
from verify_compile.results import Observation
from verify_compile.spec import Case, RunSettings


def run_live(case: Case, target: Any, input_sets: list, backend: Optional[Callable] = None,
             cast: Optional[str] = None, settings: RunSettings = RunSettings()) -> Observation:
    """The observation of `target` (an nn.Module or a callable) over `input_sets` [(args, kwargs)] under the
    case's backend (`backend`: a callable standing behind the case's backend name), with the model's floating
    parameters and inputs cast to `cast` when given. Never raises for anything the target or the backend does."""
    state = TorchState.capture()
    configure_for_verification()
    if backend is not None:
        loading.LIVE_BACKENDS[case.backend.backend] = backend
    try:
        return run_case(case, _Given(target, input_sets, cast), settings=settings)
    finally:
        loading.LIVE_BACKENDS.pop(case.backend.backend, None)
        state.restore()


def describe(target: Any, input_sets: list) -> tuple[str, str, str]:
    """(kind, device, dtype) of a live target as its config entry would say them: "model" for an nn.Module,
    else "function"; the device of its first tensor (parameters, buffers, then inputs; "cpu" if none); the dtype
    of its first floating one ("float32" if none)."""
    found = [t for _, t in tensor_leaves(input_sets, "")]
    is_module = isinstance(target, torch.nn.Module)
    if is_module:
        found = list(target.parameters()) + list(target.buffers()) + found
    floating = [t for t in found if t.is_floating_point()]
    return ("model" if is_module else "function", str(found[0].device) if found else "cpu",
            str(floating[0].dtype).replace("torch.", "") if floating else "float32")


class _Given:
    """Stands in for the worker's ReferenceCache: the one reference, built from the live object."""

    def __init__(self, target: Any, input_sets: list, cast: Optional[str]) -> None:
        self.target, self.input_sets, self.cast = target, input_sets, cast

    def get(self, spec: Any, device: torch.device, on_phase: Callable[[str], None]) -> Any:
        dtype = getattr(torch, self.cast) if self.cast else None
        try:
            module = None
            if isinstance(self.target, torch.nn.Module):  # the caller's object is never called or changed
                module = copy.deepcopy(self.target).to(device)
                if dtype is not None:
                    module.to(dtype)
            sets = [_moved((tuple(a), dict(k)), device, dtype) for a, k in self.input_sets]
        except Exception as e:
            ref = live_reference(spec, device, self.target, None, [], [], on_phase)
            ref.failure = _load_failure(e)
            return ref
        labels = [f"input set {i + 1} of {len(sets)}" for i in range(len(sets))]
        sets, labels = _redrawn(spec, sets, labels)
        return live_reference(spec, device, module if module is not None else self.target, module, sets, labels,
                              on_phase)


def _moved(value: Any, device: torch.device, dtype: Optional[torch.dtype]) -> Any:
    def move(t: torch.Tensor) -> torch.Tensor:
        moved = t.detach().to(device=device, dtype=dtype if dtype is not None and t.is_floating_point() else None)
        return moved.requires_grad_(t.requires_grad) if t.is_floating_point() or t.is_complex() else moved
    return map_tensors(value, move)


def _redrawn(spec: Any, sets: list, labels: list) -> tuple:
    """With a single input set and `redraw`, a second call with its floating tensors' values shuffled (the same
    values, so still in the model's domain, at other positions): a backend that returns stale results is caught.
    No second call when shuffling changes nothing (constant tensors)."""
    if not spec.redraw or len(sets) != 1:
        return sets, labels
    generator = torch.Generator().manual_seed(spec.seed * 1000 + 1)

    def shuffle(t: torch.Tensor) -> torch.Tensor:
        if not t.is_floating_point() or t.numel() < 2:
            return t
        order = torch.randperm(t.numel(), generator=generator).to(t.device)
        return t.detach().reshape(-1)[order].reshape(t.shape).requires_grad_(t.requires_grad)

    again = map_tensors(sets[0], shuffle)
    changed = any(not torch.equal(a, b) for (_, a), (_, b) in zip(tensor_leaves(sets[0], ""),
                                                                    tensor_leaves(again, "")))
    return (sets + [again], labels + ["input set 1 re-drawn (its values shuffled, second call)"]) if changed \
        else (sets, labels)


def _load_failure(e: BaseException) -> Any:
    from verify_compile.engine.reference import Failure

    return Failure(R.LOAD, f"cannot prepare the model or its inputs: {exception_summary(e)}", repr(e))

