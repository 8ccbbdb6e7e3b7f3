"""Latency of eager and compiled calls: warmed up, device synchronised, the median of repeated runs.

Eager and compiled calls alternate, so a busy machine slows both alike and the speedup stays honest."""

from __future__ import annotations

import statistics
import time
from typing import Callable

import torch

from verify_compile.engine.portable import clone_value
from verify_compile.results import Perf

_WARMUP = 2
_MAX_REPEATS = 20
_MIN_REPEATS = 5
_BUDGET_S = 2.0  # for both sides together: measuring must not dominate a case's time


def measure(eager: Callable, compiled: Callable, args: tuple, kwargs: dict, device: torch.device,
            grad: bool = False) -> Perf:
    """Forward latency in the grad mode the case was verified in (another mode would recompile). Every call gets
    fresh clones of the inputs, made outside the timed region: a model that mutates its inputs must not change
    the inputs that other cases share."""
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    sides = (eager, compiled)
    samples: tuple = ([], [])
    with torch.set_grad_enabled(grad):
        for fn in sides:
            for _ in range(_WARMUP):
                fn(*clone_value(args), **clone_value(kwargs))
        start = time.perf_counter()
        while len(samples[0]) < _MAX_REPEATS and (
                len(samples[0]) < _MIN_REPEATS or time.perf_counter() - start < _BUDGET_S):
            for fn, times in zip(sides, samples):
                times.append(_timed(fn, clone_value(args), clone_value(kwargs), cuda))
    eager_s, compiled_s = (statistics.median(times) for times in samples)
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if cuda else None
    return Perf(eager_ms=eager_s * 1e3, compiled_ms=compiled_s * 1e3,
                speedup=eager_s / compiled_s if compiled_s > 0 else None, peak_memory_mb=peak)


def _timed(fn: Callable, args: tuple, kwargs: dict, cuda: bool) -> float:
    if cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn(*args, **kwargs)
    if cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - start
