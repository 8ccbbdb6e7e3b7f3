"""Running one case: the model under one backend, over all its input sets, compared after each call."""

from __future__ import annotations

import dataclasses
import time
import traceback
from typing import Callable, Optional

import torch
from torch.fx._lazy_graph_module import _force_skip_lazy_graph_module

from verify_compile import results as R
from verify_compile.engine import perf
from verify_compile.engine.calls import call_once, overwritten
from verify_compile.engine.compare import CallRecord, compare_calls
from verify_compile.engine.compilers import Compiled, CompileTracker, build, is_compile_error
from verify_compile.engine.diagnostics import diagnose
from verify_compile.engine.exporting import PhaseError
from verify_compile.engine.health import cache_stats, compile_seconds, read_health, reset_counters
from verify_compile.engine.loading import LoadError
from verify_compile.engine.reference import Reference, ReferenceCache
from verify_compile.errors import exception_summary
from verify_compile.results import Health, Mismatch, Observation, set_error
from verify_compile.spec import Case, RunSettings


def resolve_device(requested: str) -> tuple:
    """(torch.device, None) or (None, reason to skip)."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu"), None
    device = torch.device(requested)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            return None, f"device '{requested}' requested but no CUDA device is visible"
        if device.index is not None and device.index >= torch.cuda.device_count():
            return None, f"device '{requested}' requested but only {torch.cuda.device_count()} CUDA device(s) visible"
    return device, None


def run_case(case: Case, refs: ReferenceCache, on_phase: Callable[[str], None] = lambda phase: None,
             settings: RunSettings = RunSettings()) -> Observation:
    """Verify one case in this process. Never raises for anything the case itself does."""
    start = time.perf_counter()
    spec = case.model
    result = Observation(case_id=case.id, index=case.index, model=spec.name, backend=case.backend.id,
                        config=spec.config_file, line=spec.line, outcome=R.PASS, dtype=spec.dtype)
    device, skip_reason = resolve_device(spec.device)
    if device is not None and spec.train and case.backend.is_shipping:
        device, skip_reason = None, (f"train: true under '{case.backend.backend}': exporting training graphs "
                                     "(forward and backward) is out of scope; verify the inference model")
    if device is None:
        result.outcome, result.message = R.SKIP, skip_reason
        return result
    result.device = str(device)
    ref = refs.get(spec, device, on_phase)
    result.input_sets = len(ref.input_sets)
    if ref.failure:
        set_error(result, ref.failure.phase, ref.failure.message, ref.failure.details)
    else:
        # PyTorch's own tests compile this way: it only turns off lazy code generation of graph modules, which
        # the TorchScript backend ("ts") cannot script.
        with _force_skip_lazy_graph_module():
            _verify(case, ref, result, on_phase, settings, start)
        if result.outcome in (R.MISMATCH, R.ERROR, R.FLAKY):
            _settle_flaky(ref, result, on_phase)
    result.duration = time.perf_counter() - start
    return result  # the parent judges it (judgement/judge.py)


def _verify(case: Case, ref: Reference, result: Observation, on_phase: Callable[[str], None],
            settings: RunSettings, started: float) -> None:
    reset_counters()
    tracker = CompileTracker(on_phase)
    compiled = timer = None
    phase = R.EXPORT if case.backend.is_shipping else R.COMPILE
    try:
        on_phase(phase)
        _apply_dynamo_config(case.model.dynamo_config)  # the worker restores torch's config after every case
        perf.reset_peak_memory(ref.device)
        compiled = build(case, ref, on_phase)
        result.notes += compiled.notes
        timer = perf.CallTimer(compiled.call, ref.device)
        _run_sets(case, ref, compiled, timer, result, tracker, settings, started)
    except Exception as e:
        message = str(e) if isinstance(e, (LoadError, PhaseError)) else exception_summary(e)
        set_error(result, _phase_of(e, tracker, compiled, case.backend.is_shipping), message, traceback.format_exc())
    try:
        _record_health(case, ref, compiled, result)
        if result.outcome == R.PASS and case.model.benchmark:
            _measure(ref, compiled, timer, result, started)
    finally:
        if compiled is not None:
            compiled.cleanup()


def _run_sets(case: Case, ref: Reference, compiled: Compiled, timer: perf.CallTimer, result: Observation,
              tracker: CompileTracker, settings: RunSettings, started: float) -> None:
    """Every input set through the same compiled object (timed, for latency), in order; the first that differs
    ends the case, unless eager, run again, disagrees with itself."""
    spec = case.model
    calls = []
    for i, (args, kwargs) in enumerate(ref.input_sets):
        tracker.run_phase = f"{R.RUN} (input set {i + 1})"
        tracker.on_phase(tracker.run_phase)
        compiled.check(args, kwargs, i)
        with tracker:
            observed = call_once(timer, compiled.module, args, kwargs, ref.seed_for(i), spec.train, ref.pristine)
        tracker.run_phase = R.COMPARE
        if not compiled.keeps_outputs:
            observed.raw_output = None  # overwritten by the next call by design; a copy was taken
        calls.append(_comparable(observed, compiled))
        diffs = compare_calls(_comparable(ref.eager[i], compiled), calls[-1], spec.tolerance,
                                     fp64=lambda i=i: _comparable(ref.fp64(i), compiled), pristine=ref.pristine)
        if diffs:
            if _eager_unsettled(ref, result, tracker.on_phase):
                return
            for d in diffs:
                d.input_set = i + 1
            result.outcome, result.mismatches = R.MISMATCH, diffs
            more = f" (+{len(diffs) - 1} more)" if len(diffs) > 1 else ""
            result.message = f"{ref.set_name(i)}: {diffs[0].summary}{more}"
            result.details = _located(diffs, ref.labels[i])
            diagnose(case, ref, i, observed, result, settings, tracker.on_phase, started, compiled)
            return
    if compiled.keeps_outputs:
        _check_outputs_kept(ref, calls + ref.extra_call(timer, compiled.module), result, tracker.on_phase)


def _eager_unsettled(ref: Reference, result: Observation, on_phase: Callable[[str], None]) -> bool:
    """Whether eager, run a second time now that this case needs it, disagrees with itself or fails; then the
    case is marked flaky here (no diagnosis) and _settle_flaky gives it its final form."""
    second = ref.second_run(on_phase)
    if second.flaky or second.failure:
        result.outcome = R.FLAKY
        return True
    return False


def _settle_flaky(ref: Reference, result: Observation, on_phase: Callable[[str], None]) -> None:
    """A failing case whose eager reference disagrees with itself is flaky (or an eager error, when the second
    eager run raises), reported exactly as if nothing had been compiled."""
    if not _eager_unsettled(ref, result, on_phase):
        return
    second = ref.second_run(on_phase)
    result.phase, result.health, result.compile_time, result.cache, result.perf = None, None, None, {}, None
    result.notes, result.artifacts, result.bisect, result.mismatches = [], [], None, []
    if second.failure:
        set_error(result, second.failure.phase, second.failure.message, second.failure.details)
        return
    result.mismatches = second.flaky
    result.message = "eager disagrees with itself, so no verdict is possible: " + second.flaky[0].summary
    result.details = _located(second.flaky, "eager run 1 vs eager run 2")


def _comparable(obs: Optional[CallRecord], compiled: Compiled) -> Optional[CallRecord]:
    """The observation without the module state this kind of compiled object cannot show (a package's
    weights), so eager's changes there are not held against it."""
    if obs is None or compiled.comparable is None:
        return obs
    return dataclasses.replace(obs, state={k: v for k, v in obs.state.items() if k in compiled.comparable})


def _phase_of(e: BaseException, tracker: CompileTracker, compiled: Optional[Compiled], shipping: bool) -> str:
    if isinstance(e, PhaseError):
        return e.phase
    if tracker.run_phase == R.COMPARE:
        return R.COMPARE
    if compiled is None:  # building failed: torch.compile itself, or the export before a shipped program
        return R.EXPORT if shipping else R.COMPILE
    if compiled.uses_dynamo and (tracker.compiling or is_compile_error(e)):
        return R.COMPILE
    return R.RUN


def _record_health(case: Case, ref: Reference, compiled: Optional[Compiled], result: Observation) -> None:
    if ref.fp64_note:
        result.notes.append(ref.fp64_note)
    if case.backend.is_shipping:
        # torch.export traces the whole model into one graph or fails; dynamo's counters say nothing about it
        result.health = Health(graphs=1 if compiled is not None else 0)
        result.compile_time = compiled.seconds if compiled is not None else None
        result.cache = cache_stats()
        return
    result.health = read_health()
    result.compile_time = compile_seconds()
    result.cache = cache_stats()
    if result.outcome == R.PASS and result.health.graphs == 0:
        why = "; ".join(result.health.break_reasons) or "dynamo recorded no reason: does the code run any tensor op?"
        if "RNN" in why:
            why += "; to compile RNN modules set dynamo_config: {allow_rnn: true}"
        set_error(result, R.COMPILE, f"torch.compile captured no graph, so nothing was verified ({why})",
                  "dynamo compiled 0 graphs: every frame ran eagerly.\nReasons:\n"
                  + "\n".join(f"- {r}" for r in result.health.break_reasons))


def _measure(ref: Reference, compiled: Compiled, timer: perf.CallTimer, result: Observation,
             started: float) -> None:
    """Latency within its budget: the loop when a call pair is cheap enough, else (or when the loop got no
    sample in time) the verification calls' own warm timings; not those under CUDA graphs, whose first calls
    record graphs."""
    budget = perf.latency_budget(time.perf_counter() - started)
    eager = ref.eager_timer
    eager_s = eager.estimate() or 0.0
    pair = eager_s + (timer.estimate() if timer.warm else eager_s)  # a compiled object's first call compiles
    from_calls = bool(eager.warm and timer.warm and compiled.keeps_outputs)
    why = f"a pair takes about {pair:.2g} s: the latency budget of {budget:.2g} s leaves no room for warm-ups " \
          "and repeats"
    try:
        if perf.loop_affordable(pair, budget) or not from_calls:
            repeats = _measure_loop(ref, compiled, result, budget, pair)
            if repeats:
                if repeats < perf.MIN_REPEATS:
                    result.notes.append(f"latency from {repeats} repeat(s) of each side: the latency budget of "
                                        f"{budget:.2g} s allowed no more")
                return
            if not from_calls:
                result.notes.append(f"latency not measured: a call pair takes about {pair:.2g} s, more than the "
                                    f"latency budget of {budget:.2g} s allows")
                return
            why = f"the latency loop got no sample within its budget of {budget:.2g} s"
        peaks = [p for p in (ref.eager_peak_mb, perf.peak_memory_mb(ref.device)) if p is not None]
        result.perf = perf.from_calls(eager, timer, max(peaks) if peaks else None)
        result.notes.append(f"latency from the verification calls: {len(eager.warm)} eager and {len(timer.warm)} "
                            f"compiled warm call(s) ({why})")
    except Exception as e:  # timing is extra information: it never changes the verdict
        result.notes.append(f"latency not measured ({exception_summary(e)})")


def _measure_loop(ref: Reference, compiled: Compiled, result: Observation, budget: float, pair: float) -> int:
    """The alternating loop, on a copy of its own for eager (freed after); how many repeats it made."""
    args, kwargs = ref.input_sets[0]
    eager_target = ref.fresh_module() if ref.module is not None else ref.fn
    result.perf, repeats = perf.measure(eager_target, compiled.call, args, kwargs, ref.device, budget, pair,
                                        grad=ref.spec.train)
    return repeats


def _check_outputs_kept(ref: Reference, calls: list, result: Observation, on_phase: Callable[[str], None]) -> None:
    """An output the caller holds must not change when the compiled object is called again (as it does when a
    backend reuses one output buffer), unless eager's does too: only then is eager's own behaviour needed, from
    its second run."""
    changed, notes = overwritten(calls)
    result.notes += notes
    if not changed or _eager_unsettled(ref, result, on_phase):
        return
    late = sorted(changed - ref.second_run(on_phase).overwritten)
    if not late:
        return
    result.outcome = R.MISMATCH
    result.mismatches = [Mismatch(where=leaf, kind="overwritten", input_set=i + 1, summary=(
        f"{leaf} of input set {i + 1} changed when the compiled object was called again (eager's output "
        "stays as it was returned)")) for i, leaf in late]
    result.message = f"input set {late[0][0] + 1}: {result.mismatches[0].summary}"
    result.details = _located(result.mismatches, "outputs checked after the last call")


def _apply_dynamo_config(options: dict) -> None:
    import torch._dynamo.config as dynamo_config

    for key, value in options.items():  # names were checked against this torch before the run started
        setattr(dynamo_config, key, value)


def _located(diffs: list, label: str) -> str:
    lines = [f"{label}: {len(diffs)} difference(s)"]
    lines += [f"  {d.summary}" for d in diffs]
    return "\n".join(lines)

