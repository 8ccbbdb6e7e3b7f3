"""The eager side of a verdict, computed once per model and shared by all of that model's backends.

A reference holds the pristine model, the materialized input sets and eager's observations for them, made once:
a passing case needs no more. Only when a case fails does eager run a second time (`second_run`: if eager
disagrees with itself there is nothing to verify against, and the outcome is flaky), and only when a comparison
needs it the float64 observations that arbitrate close calls. Both are computed at most once per model.

Copies of the model: the pristine one lives as long as the reference; each run (eager's, the compiled
object's, eager's second and float64 ones, the latency loop's eager side) gets its own, freed when that run ends,
so a passing case holds two at its peak (the pristine one and the one running).
"""

from __future__ import annotations

import copy
import traceback
from dataclasses import dataclass, field
from typing import Callable, Optional

import torch

from verify_compile.engine.compare import Uncomparable, compare_calls
from verify_compile.engine.inputs import has_random_tensor, materialize, torch_dtype
from verify_compile.engine.loading import LoadError, build_callable, example_inputs
from verify_compile.engine.perf import CallTimer, peak_memory_mb, reset_peak_memory
from verify_compile.engine.portable import (
    CallRecord,
    call_once,
    cast_floating,
    map_tensors,
    overwritten,
    same_tensor,
    seed_everything,
    state_of,
    tensor_leaves,
)
from verify_compile.errors import exception_summary
from verify_compile.results import EAGER, LOAD
from verify_compile.spec import ModelSpec


@dataclass
class Failure:
    phase: str
    message: str
    details: str


@dataclass
class SecondRun:
    """Eager run again on a fresh copy, made only when a case fails (at most once per model)."""

    flaky: list = field(default_factory=list)  # [Mismatch] of the first input set where the two runs differ
    overwritten: set = field(default_factory=set)  # (call, output leaf) that eager's own later calls change
    failure: Optional[Failure] = None  # the second run raised


@dataclass
class Reference:
    spec: ModelSpec
    device: torch.device
    fn: Optional[Callable] = None
    module: Optional[torch.nn.Module] = None  # pristine: never called
    input_sets: list = field(default_factory=list)  # [(args, kwargs)]
    labels: list = field(default_factory=list)  # how reports name each input set
    pristine: dict = field(default_factory=dict)  # state name -> the pristine module's own tensor (never changes)
    eager: list = field(default_factory=list)  # [CallRecord], without raw outputs: no check reads them
    eager_timer: Optional[CallTimer] = None  # how long each eager call took: latency for slow calls
    eager_peak_mb: Optional[float] = None  # peak CUDA memory of the eager run
    failure: Optional[Failure] = None
    _second: Optional[SecondRun] = None
    _fp64: Optional[list] = None
    _fp64_tried: bool = False
    fp64_note: str = ""

    def set_name(self, set_index: int) -> str:
        """How a message names an input set: `input set 2`; with its label when generated from the config
        (`input set 3 of 5 (sweep B=1)`); a re-drawn call as such (`input set 1 re-drawn (second call)`), so
        the numbering is the config's everywhere."""
        label = self.labels[set_index] if set_index < len(self.labels) else ""
        if "re-drawn" in label:
            return label.split(" (")[0] + " (second call)"
        generated = self.spec.inputs is not None and set_index < len(self.spec.inputs) \
            and self.spec.inputs[set_index].label
        return label if generated else f"input set {set_index + 1}"

    def seed_for(self, set_index: int) -> int:
        return self.spec.seed * 1000 + set_index

    def fresh_module(self) -> Optional[torch.nn.Module]:
        """An independent copy of the pristine model for one run."""
        if self.module is None:
            return None
        try:
            return copy.deepcopy(self.module)
        except Exception:  # some modules refuse deepcopy: build another from the same seed
            _, module = build_callable(self.spec, self.device, torch_dtype(self.spec.dtype))
            return module

    def run_all(self, module: Optional[torch.nn.Module], fn: Callable, input_sets: list,
                pristine: dict) -> list:
        return [call_once(fn, module, args, kwargs, self.seed_for(i), self.spec.train, pristine)
                for i, (args, kwargs) in enumerate(input_sets)]

    def extra_call(self, target: Callable, module: Optional[torch.nn.Module]) -> list:
        """With a single input set, one more call (not compared) shows whether the first call's output survives
        a later call; with several sets, the later sets already show it."""
        if len(self.input_sets) != 1:
            return []
        # Other values than the first call's, or a reused output buffer would be refilled with the same numbers.
        args, kwargs = map_tensors(self.input_sets[0], lambda t: t * 0.5 + 0.25 if t.is_floating_point() else t)
        try:
            return [call_once(target, module, args, kwargs, self.seed_for(1), self.spec.train, self.pristine)]
        except Exception:  # the model may refuse other values; this extra call only ever adds a check
            return []

    def second_run(self, on_phase: Callable[[str], None]) -> SecondRun:
        """Eager again, on a fresh copy of the pristine model with the same seeds and every input set in order
        (module state carries across calls), plus the extra call: whether eager disagrees with itself, and which
        of its outputs its own later calls change. Computed on first use, for the first case that needs it."""
        if self._second is None:
            on_phase(EAGER)
            self._second = SecondRun()
            try:
                module = self.fresh_module()
                target = module if module is not None else self.fn
                calls = self.run_all(module, target, self.input_sets, self.pristine)
                self._second.overwritten, _ = overwritten(calls + self.extra_call(target, module))
            except Exception as e:
                self._second.failure = _failure(EAGER, e)
                return self._second
            try:
                self._second.flaky = _first_disagreement(self.eager, calls, self.spec, self.pristine)
            except Uncomparable:  # what cannot be compared cannot show eager disagreeing with itself either
                pass
        return self._second

    def fp64(self, set_index: int) -> Optional[CallRecord]:
        """Float64 observation of input set `set_index`, computed on first use; None if float64 cannot run."""
        if not self._fp64_tried:
            self._fp64_tried = True
            try:
                module = self.fresh_module()
                if module is not None:
                    module.to(torch.float64)
                fn = module if module is not None else self.fn
                sets = [cast_floating(s, torch.float64) for s in self.input_sets]
                pristine64 = {k: (v.double() if v.is_floating_point() else v) for k, v in self.pristine.items()}
                self._fp64 = self.run_all(module, fn, sets, pristine64)
                for obs in self._fp64:
                    obs.raw_output = None
            except Exception as e:  # e.g. an op without a float64 kernel on this device
                self.fp64_note = f"no float64 reference ({exception_summary(e)})"
        return self._fp64[set_index] if self._fp64 is not None else None


def build_reference(spec: ModelSpec, device: torch.device, on_phase: Callable[[str], None]) -> Reference:
    """The reference of a config's model: built from its target, inputs materialized, eager run once."""
    ref = Reference(spec=spec, device=device)
    dtype = torch_dtype(spec.dtype)
    on_phase(LOAD)
    try:
        ref.fn, ref.module = build_callable(spec, device, dtype)
        _materialize_inputs(ref, dtype)
        # Views, not clones: the pristine module is never called, so its tensors keep their first values.
        ref.pristine = state_of(ref.module)
    except Exception as e:
        ref.failure = _failure(LOAD, e)
        return ref
    return run_eager(ref, on_phase)


def live_reference(spec: ModelSpec, device: torch.device, fn: Callable, module: Optional[torch.nn.Module],
                   input_sets: list, labels: list, on_phase: Callable[[str], None]) -> Reference:
    """The reference of a live object (the Python API): `module` is the pristine copy (never called), `fn` what
    eager calls (the module itself, or a plain function), `input_sets` already on `device`."""
    ref = Reference(spec=spec, device=device, fn=fn, module=module, input_sets=list(input_sets),
                    labels=list(labels), pristine=state_of(module))
    return run_eager(ref, on_phase)


def run_eager(ref: Reference, on_phase: Callable[[str], None]) -> Reference:
    """Eager, once, over every input set, on a copy of the pristine model."""
    on_phase(EAGER)
    device = ref.device
    try:
        module = ref.fresh_module()
        ref.eager_timer = CallTimer(module if module is not None else ref.fn, device)
        reset_peak_memory(device)
        ref.eager = ref.run_all(module, ref.eager_timer, ref.input_sets, ref.pristine)
        ref.eager_peak_mb = peak_memory_mb(device)
        for obs in ref.eager:
            obs.raw_output = None  # only the compiled side's raw outputs are checked after later calls
    except Exception as e:
        ref.failure = _failure(EAGER, e)
    finally:
        if ref.eager_timer is not None:
            ref.eager_timer.fn = None  # the timings stay, the run's copy of the model goes
    return ref


def _first_disagreement(first: list, second: list, spec: ModelSpec, pristine: dict) -> list:
    """The differences between two eager runs at the first input set where they differ ([] if none)."""
    for i, (a, b) in enumerate(zip(first, second)):
        diffs = compare_calls(a, b, spec.tolerance, pristine=pristine, use_fp64=False,
                              sides=("eager run 1", "eager run 2"))
        if diffs:
            for d in diffs:
                d.input_set = i + 1
            return diffs
    return []


def _materialize_inputs(ref: Reference, dtype: torch.dtype) -> None:
    spec = ref.spec
    if spec.inputs is None:
        provider = ref.module or ref.fn
        seed_everything(ref.seed_for(0))
        sets = example_inputs(provider)
        if spec.redraw and len(sets) == 1:
            seed_everything(ref.seed_for(1))  # a random example_inputs() gives other values: a second call
            again = example_inputs(provider)
            if len(again) == 1 and not _same_values(sets[0], again[0]):
                sets.append(again[0])
        ref.input_sets = [(_to(a, ref.device), _to(k, ref.device)) for a, k in sets]
        ref.labels = [f"example input set {i + 1}" if i == 0 or len(sets) > 2 else "example inputs re-drawn"
                      for i in range(len(sets))]
        return
    for i, input_set in enumerate(spec.inputs):
        ref.input_sets.append(materialize(input_set, ref.seed_for(i), ref.device, dtype))
        ref.labels.append(f"input set {i + 1} of {len(spec.inputs)} ({input_set.label or f'line {input_set.line}'})")
    if spec.redraw and len(spec.inputs) == 1 and has_random_tensor(spec.inputs[0]):
        # A second call with new values catches backends that return stale results.
        ref.input_sets.append(materialize(spec.inputs[0], ref.seed_for(1), ref.device, dtype))
        ref.labels.append(f"input set 1 re-drawn (line {spec.inputs[0].line}, second call)")


def _same_values(a: object, b: object) -> bool:
    left, right = tensor_leaves(a, ""), tensor_leaves(b, "")
    return len(left) == len(right) and all(same_tensor(x, y) for (_, x), (_, y) in zip(left, right))


def _to(value: object, device: torch.device) -> object:
    return map_tensors(value, lambda t: t.to(device))


def _failure(phase: str, e: BaseException) -> Failure:
    if isinstance(e, LoadError):
        return Failure(phase, str(e), str(e))
    return Failure(phase, exception_summary(e), traceback.format_exc())


class ReferenceCache:
    """Keeps the last model's reference, so consecutive backends of a model (cases run in config order) reuse
    its eager results."""

    def __init__(self) -> None:
        self._key: Optional[tuple] = None
        self._ref: Optional[Reference] = None

    def get(self, spec: ModelSpec, device: torch.device, on_phase: Callable[[str], None]) -> Reference:
        key = (repr(spec), str(device))  # specs hold dicts: unhashable, but their repr is exact
        if self._ref is None or key != self._key:
            self._key = self._ref = None  # the last model's copies go before this one's are made
            self._ref = build_reference(spec, device, on_phase)
            self._key = key
        return self._ref
