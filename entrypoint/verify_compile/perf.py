"""Latency of eager and compiled calls: warmed up, device synchronised, the median of repeated runs."""

from __future__ import annotations

import statistics
import time
from typing import Callable, Optional

import torch

from verify_compile.results import Perf

_WARMUP = 2
_MAX_REPEATS = 20
_BUDGET_S = 1.0  # per side: measuring must not dominate a case's time


def measure(eager: Callable[[], object], compiled: Callable[[], object], device: torch.device,
            grad: bool = False) -> Perf:
    """Forward latency in the grad mode the case was verified in: another mode would recompile."""
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    eager_s = _median_seconds(eager, cuda, grad)
    compiled_s = _median_seconds(compiled, cuda, grad)
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if cuda else None
    return Perf(eager_ms=eager_s * 1e3, compiled_ms=compiled_s * 1e3,
                speedup=eager_s / compiled_s if compiled_s > 0 else None, peak_memory_mb=peak)


def _median_seconds(fn: Callable[[], object], cuda: bool, grad: bool) -> float:
    sync: Optional[Callable[[], None]] = torch.cuda.synchronize if cuda else None
    with torch.set_grad_enabled(grad):
        for _ in range(_WARMUP):
            fn()
        samples = []
        start = time.perf_counter()
        while len(samples) < _MAX_REPEATS and (len(samples) < 3 or time.perf_counter() - start < _BUDGET_S):
            if sync:
                sync()
            t0 = time.perf_counter()
            fn()
            if sync:
                sync()
            samples.append(time.perf_counter() - t0)
    return statistics.median(samples)
