"""Running one case: the model under one backend, over all its input sets, compared after each call."""

from __future__ import annotations

import time
import traceback
from typing import Callable, Optional

import torch

from verify_compile import results as R
from verify_compile.config.spec import BackendSpec, RunSettings
from verify_compile.engine.calls import call_once, overwritten
from verify_compile.engine.compare import compare_observations
from verify_compile.engine.diagnostics import diagnose
from verify_compile.engine.health import cache_stats, compile_seconds, read_health, reset_counters
from verify_compile.engine.loading import LoadError, resolve_backend
from verify_compile.engine.perf import measure
from verify_compile.engine.reference import Reference, ReferenceCache
from verify_compile.errors import did_you_mean, exception_summary
from verify_compile.orchestration.cases import Case
from verify_compile.results import CaseResult, Mismatch, set_error


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
             settings: RunSettings = RunSettings()) -> CaseResult:
    """Verify one case in this process. Never raises for anything the case itself does."""
    start = time.perf_counter()
    spec = case.model
    result = CaseResult(case_id=case.id, index=case.index, model=spec.name, backend=case.backend.id,
                        config=spec.config_file, line=spec.line, outcome=R.PASS, dtype=spec.dtype)
    device, skip_reason = resolve_device(spec.device)
    if device is None:
        result.outcome, result.message = R.SKIP, skip_reason
        return result
    result.device = str(device)
    ref = refs.get(spec, device, on_phase)
    result.input_sets = len(ref.input_sets)
    if ref.failure:
        set_error(result, ref.failure.phase, ref.failure.message, ref.failure.details)
    elif ref.flaky:
        result.outcome = R.FLAKY
        result.mismatches = ref.flaky
        result.message = ("eager disagrees with itself, so no verdict is possible: "
                          + ref.flaky[0].summary)
        result.details = _located(ref, ref.flaky, "eager run 1 vs eager run 2")
    else:
        _verify(case, ref, result, on_phase, settings, start)
    result.duration = time.perf_counter() - start
    return result  # an observation: the parent judges it (judgement/judge.py)


def _verify(case: Case, ref: Reference, result: CaseResult, on_phase: Callable[[str], None],
            settings: RunSettings, started: float) -> None:
    spec, backend_spec = case.model, case.backend
    reset_counters()
    phase = R.COMPILE
    tracker = CompileTracker(on_phase)
    try:
        on_phase(R.COMPILE)
        _apply_dynamo_config(spec.dynamo_config)  # the worker restores torch's config after every case
        backend = resolve_backend(backend_spec, spec.base_dir)
        module = ref.fresh_module()
        target = module if module is not None else ref.fn
        compiled = torch.compile(target, **_compile_kwargs(backend_spec, backend))
        calls = []
        for i, (args, kwargs) in enumerate(ref.input_sets):
            phase = tracker.run_phase = f"{R.RUN} (input set {i + 1})"
            on_phase(phase)
            with tracker:
                observed = call_once(compiled, module, args, kwargs, ref.seed_for(i), spec.train, ref.pristine)
            calls.append(observed)
            phase = R.COMPARE
            diffs = compare_observations(ref.eager[i], observed, spec.tolerance,
                                         fp64=lambda i=i: ref.fp64(i), pristine=ref.pristine)
            if diffs:
                for d in diffs:
                    d.input_set = i + 1
                result.outcome, result.mismatches = R.MISMATCH, diffs
                more = f" (+{len(diffs) - 1} more)" if len(diffs) > 1 else ""
                result.message = f"{ref.set_name(i)}: {diffs[0].summary}{more}"
                result.details = _located(ref, diffs, ref.labels[i])
                diagnose(case, ref, i, observed, result, settings, on_phase, started)
                break
        else:
            _check_outputs_kept(ref, calls + ref.extra_call(compiled, module), result)
    except Exception as e:
        if phase != R.COMPARE:
            phase = R.COMPILE if tracker.compiling or _is_compile_error(e) else R.RUN
        message = str(e) if isinstance(e, LoadError) else exception_summary(e)
        set_error(result, phase, message, traceback.format_exc())
    result.health = read_health()
    result.compile_time = compile_seconds()
    result.cache = cache_stats()
    if ref.fp64_note:
        result.notes.append(ref.fp64_note)
    if result.outcome == R.PASS and result.health.graphs == 0:
        why = "; ".join(result.health.break_reasons) or "dynamo recorded no reason: does the code run any tensor op?"
        if "RNN" in why:
            why += "; to compile RNN modules set dynamo_config: {allow_rnn: true}"
        set_error(result, R.COMPILE, f"torch.compile captured no graph, so nothing was verified ({why})",
               "dynamo compiled 0 graphs: every frame ran eagerly.\nReasons:\n"
               + "\n".join(f"- {r}" for r in result.health.break_reasons))
    if result.outcome == R.PASS and spec.benchmark:
        args, kwargs = ref.input_sets[0]
        eager_target = ref.fresh_module() if ref.module is not None else ref.fn
        try:
            result.perf = measure(eager_target, compiled, args, kwargs, ref.device, grad=spec.train)
        except Exception as e:  # timing is extra information: it never changes the verdict
            result.notes.append(f"latency not measured ({exception_summary(e)})")


def _check_outputs_kept(ref: Reference, calls: list, result: CaseResult) -> None:
    """An output the caller holds must not change when the compiled object is called again (as it does when a
    backend reuses one output buffer), unless eager's does too."""
    changed, notes = overwritten(calls)
    result.notes += notes
    late = sorted(changed - ref.overwritten)
    if not late:
        return
    result.outcome = R.MISMATCH
    result.mismatches = [Mismatch(where=leaf, kind="overwritten", input_set=i + 1, summary=(
        f"{leaf} of input set {i + 1} changed when the compiled object was called again (eager's output "
        "stays as it was returned)")) for i, leaf in late]
    result.message = f"input set {late[0][0] + 1}: {result.mismatches[0].summary}"
    result.details = _located(ref, result.mismatches, "outputs checked after the last call")


class CompileTracker:
    """Knows whether dynamo is compiling right now, so an exception or a hang is put in the right phase:
    the first call of a compiled object both compiles and runs it."""

    def __init__(self, on_phase: Callable[[str], None]) -> None:
        self.on_phase = on_phase
        self.compiling = False
        self.run_phase = R.RUN

    def _start(self, *args: object) -> None:
        self.compiling = True
        self.on_phase(R.COMPILE)

    def _end(self, *args: object) -> None:
        self.compiling = False
        self.on_phase(self.run_phase)

    def __enter__(self) -> CompileTracker:
        handler = _callback_handler()
        if handler is not None:
            handler.register_start_callback(self._start)
            handler.register_end_callback(self._end)
        return self

    def __exit__(self, *exc: object) -> None:
        handler = _callback_handler()
        if handler is not None:
            handler.remove_start_callback(self._start)
            handler.remove_end_callback(self._end)


def _callback_handler() -> Optional[object]:
    try:  # compile callbacks exist from torch 2.5 on; before that, phases are coarser
        from torch._dynamo.callback import callback_handler
    except ImportError:
        return None
    return callback_handler


def _apply_dynamo_config(options: dict) -> None:
    import torch._dynamo.config as dynamo_config

    for key, value in options.items():
        if not hasattr(dynamo_config, key):
            hint = did_you_mean(key, list(dynamo_config.get_config_copy()))
            raise LoadError(f"dynamo_config: torch._dynamo.config has no option '{key}'"
                            + (f"; {hint}" if hint else ""))
        setattr(dynamo_config, key, value)


def _compile_kwargs(spec: BackendSpec, backend: object) -> dict:
    kwargs = {"backend": backend, "fullgraph": spec.fullgraph, "dynamic": spec.dynamic}
    if spec.mode:
        kwargs["mode"] = spec.mode
    if spec.options:
        kwargs["options"] = dict(spec.options)
    return kwargs


def _is_compile_error(e: BaseException) -> bool:
    import torch._dynamo.exc as exc

    return isinstance(e, (exc.TorchDynamoException, LoadError))


def _located(ref: Reference, diffs: list, label: str) -> str:
    lines = [f"{label}: {len(diffs)} difference(s)"]
    lines += [f"  {d.summary}" for d in diffs]
    return "\n".join(lines)

