"""Latency of eager and compiled calls, within a budget: a stated share of the case's time.

Measuring latency costs at most `_BUDGET_S` and at most `LATENCY_SHARE` of the time the case took before it (so
under a tenth of the whole case); the next call pair starts only if its estimate fits in what is left. Calls cheap
enough for the loop (warm-ups and the minimum repeats within the budget) are timed as always: eager and compiled
alternating, so a busy machine slows both alike, device synchronised, the median of up to `_MAX_REPEATS`.
Slower calls are not made again: the speedup comes from the verification calls' own timings (warm calls only:
never a compiled object's first call, nor any call during which dynamo compiled), and a note says how many.
"""

from __future__ import annotations

import statistics
import time
from typing import Callable, Optional

import torch

from verify_compile.engine.portable import clone_value
from verify_compile.results import Perf

_WARMUP = 2
_MAX_REPEATS = 20
MIN_REPEATS = 5
_BUDGET_S = 2.0  # for both sides together, warm-ups included
LATENCY_SHARE = 0.1  # of the case's time before measuring


class CallTimer:
    """Calls `fn` and times each call (device synchronised): a verification call's own latency. A call is warm
    when it is not the first and dynamo compiled nothing during it."""

    def __init__(self, fn: Callable, device: torch.device) -> None:
        self.fn: Optional[Callable] = fn  # None once its run is over: the timings outlive the model's copy
        self.cuda = device.type == "cuda"
        self.seconds: list = []
        self.warm: list = []  # seconds of the warm calls
        self._compiled = False

    def __call__(self, *args: object, **kwargs: object) -> object:
        self._compiled = False
        handler = _callback_handler()
        if handler is not None:
            handler.register_start_callback(self._compiling)
        try:
            _sync(self.cuda)
            start = time.perf_counter()
            out = self.fn(*args, **kwargs)
            _sync(self.cuda)
            seconds = time.perf_counter() - start
        finally:
            if handler is not None:
                handler.remove_start_callback(self._compiling)
        if self.seconds and not self._compiled:
            self.warm.append(seconds)
        self.seconds.append(seconds)
        return out

    def _compiling(self, *args: object) -> None:
        self._compiled = True

    def estimate(self) -> Optional[float]:
        """What a call costs: the shortest warm one (a busy machine only ever adds time), else the first."""
        return min(self.warm or self.seconds) if self.seconds else None


def latency_budget(case_seconds: float) -> float:
    return min(_BUDGET_S, LATENCY_SHARE * case_seconds)


def loop_affordable(pair_s: float, budget_s: float) -> bool:
    return pair_s * (_WARMUP + MIN_REPEATS) <= budget_s


def measure(eager: Callable, compiled: Callable, args: tuple, kwargs: dict, device: torch.device,
            budget_s: float, pair_s: float, grad: bool = False) -> tuple:
    """(Perf or None, repeats): forward latency in the grad mode the case was verified in (another mode would
    recompile). Every call gets fresh clones of the inputs, made outside the timed region: a model that mutates
    its inputs must not change the inputs that other cases share. `pair_s` estimates an eager plus a compiled
    call, lowered by any quicker pair the loop sees."""
    cuda = device.type == "cuda"
    reset_peak_memory(device)
    samples: tuple = ([], [])
    start = time.perf_counter()
    with torch.set_grad_enabled(grad):
        for step in range(_WARMUP + _MAX_REPEATS):
            if time.perf_counter() - start + pair_s > budget_s:
                break
            began = time.perf_counter()
            for fn, times in zip((eager, compiled), samples):
                seconds = _timed(fn, clone_value(args), clone_value(kwargs), cuda)
                if step >= _WARMUP:
                    times.append(seconds)
            pair_s = min(pair_s, time.perf_counter() - began)
    if not samples[0]:
        return None, 0
    return _perf(samples[0], samples[1], peak_memory_mb(device)), len(samples[0])


def from_calls(eager: CallTimer, compiled: CallTimer, peak_mb: Optional[float]) -> Perf:
    """Latency from the verification calls' warm timings (both must have some)."""
    return _perf(eager.warm, compiled.warm, peak_mb)


def _perf(eager: list, compiled: list, peak_mb: Optional[float]) -> Perf:
    eager_s, compiled_s = statistics.median(eager), statistics.median(compiled)
    return Perf(eager_ms=eager_s * 1e3, compiled_ms=compiled_s * 1e3,
                speedup=eager_s / compiled_s if compiled_s > 0 else None, peak_memory_mb=peak_mb)


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mb(device: torch.device) -> Optional[float]:
    return torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None


def _timed(fn: Callable, args: tuple, kwargs: dict, cuda: bool) -> float:
    _sync(cuda)
    start = time.perf_counter()
    fn(*args, **kwargs)
    _sync(cuda)
    return time.perf_counter() - start


def _sync(cuda: bool) -> None:
    if cuda:
        torch.cuda.synchronize()


def _callback_handler() -> Optional[object]:
    try:  # compile callbacks exist from torch 2.5 on
        from torch._dynamo.callback import callback_handler
    except ImportError:
        return None
    return callback_handler
