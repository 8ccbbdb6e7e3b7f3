"""The compiled object every input set of a case is called through: `torch.compile(...)`, an exported program's
module (`export`), or an AOTInductor package loaded back (`aot_inductor`). Everything after the build (calls,
comparison, outputs-kept checks, the float64 rule, diagnostics) is shared by all three kinds."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import torch

from verify_compile import results as R
from verify_compile.channel import SCRATCH_ENV
from verify_compile.engine.exporting import (
    PhaseError,
    describe_dynamic,
    dim_names_of,
    export_program,
    input_checker,
)
from verify_compile.engine.loading import LoadError, resolve_backend
from verify_compile.engine.portable import compile_kwargs, marking_steps, state_of, uses_cudagraphs
from verify_compile.engine.reference import Reference
from verify_compile.errors import exception_summary
from verify_compile.spec import AOT_INDUCTOR, Case


@dataclass
class Compiled:
    call: Optional[Callable]  # what every input set goes through
    module: Optional[torch.nn.Module]  # whose parameters and buffers are compared after each call
    kind: str  # "torch.compile", "export" or "aot_inductor"
    comparable: Optional[frozenset] = None  # state names that can be compared; None: all of them
    check: Callable = lambda args, kwargs, index: None  # raises PhaseError for an input the program cannot take
    keeps_outputs: bool = True  # False under CUDA graphs: the next call overwrites outputs, as documented
    notes: list = field(default_factory=list)
    package: Optional[Path] = None  # the AOTInductor package that was verified
    program: object = None  # the ExportedProgram, for repro bundles
    dynamic: list = field(default_factory=list)  # [(path, dim, name or None)] exported as dynamic
    seconds: float = 0.0  # export and packaging time
    scratch: Optional[str] = None  # a temporary folder to remove after the case

    @property
    def uses_dynamo(self) -> bool:
        return self.kind == "torch.compile"

    def cleanup(self) -> None:
        if self.scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)


def build(case: Case, ref: Reference, on_phase: Callable[[str], None]) -> Compiled:
    """The compiled object for this case. torch.compile compiles lazily, on the first call; the shipping
    backends export (and package) here, raising PhaseError with the phase that failed."""
    if case.backend.is_shipping:
        return _shipped(case, ref, on_phase)
    backend = resolve_backend(case.backend, case.model.base_dir)
    module = ref.fresh_module()
    target = module if module is not None else ref.fn
    spec = case.backend
    compiled = torch.compile(target, **compile_kwargs(backend, spec.mode, spec.options, spec.dynamic, spec.fullgraph))
    if uses_cudagraphs(spec.backend, spec.mode, spec.options, ref.device):
        return Compiled(call=marking_steps(compiled), module=module, kind="torch.compile", keeps_outputs=False,
                        notes=["CUDA graphs overwrite a call's outputs on the next call (documented): each output "
                               "was copied before the next call and steps were marked with "
                               "torch.compiler.cudagraph_mark_step_begin(), so only overwrites within one call "
                               "count"])
    return Compiled(call=compiled, module=module, kind="torch.compile")


def _shipped(case: Case, ref: Reference, on_phase: Callable[[str], None]) -> Compiled:

    start = time.perf_counter()
    on_phase(R.EXPORT)
    names = dim_names_of(ref)
    program, _, dynamic = export_program(ref.fresh_module(), ref.fn, ref.input_sets, names,
                                         tuple(getattr(ref.spec, "dynamic_dims", ())))
    shipped = Compiled(call=None, module=None, kind=case.backend.backend, program=program, dynamic=dynamic,
                       check=input_checker(program, dynamic, ref.labels, names),
                       notes=[f"{case.backend.backend}: {describe_dynamic(dynamic)}"])
    pristine = set(ref.pristine)
    if case.backend.backend == AOT_INDUCTOR:
        _package(shipped, case.backend.options or {}, on_phase)
        shipped.comparable = frozenset()
        if pristine:
            shipped.notes.append(f"aot_inductor: the package owns its weights, so {_names(pristine)} could not be "
                                 "compared after each call (outputs and input mutations were)")
    else:
        shipped.call = shipped.module = program.module()
        own = set(state_of(shipped.module))
        shipped.comparable = frozenset(pristine & own)
        if pristine - own:
            shipped.notes.append(f"export: {_names(pristine - own)} cannot be compared: the exported program holds "
                                 "no such state")
    shipped.seconds = time.perf_counter() - start
    return shipped


def _package(shipped: Compiled, options: dict, on_phase: Callable[[str], None]) -> None:
    """Compile the exported program into an AOTInductor package in a scratch folder and load it back."""
    import torch._inductor

    start = time.perf_counter()
    # Under the run's scratch folder, which the parent removes even when this worker is killed mid-case.
    shipped.scratch = tempfile.mkdtemp(prefix="verify-compile-aoti-", dir=os.environ.get(SCRATCH_ENV) or None)
    shipped.package = Path(shipped.scratch) / "package.pt2"
    on_phase(R.PACKAGE)
    try:
        torch._inductor.aoti_compile_and_package(shipped.program, package_path=str(shipped.package),
                                                 inductor_configs=dict(options))
    except Exception as e:
        shipped.cleanup()
        raise PhaseError(R.PACKAGE, "AOTInductor could not compile the exported program: "
                                    + exception_summary(e)) from e
    on_phase(R.LOAD)
    try:
        shipped.call = torch._inductor.aoti_load_package(str(shipped.package))
    except Exception as e:
        shipped.cleanup()
        raise PhaseError(R.LOAD, f"the AOTInductor package does not load: {exception_summary(e)}") from e
    shipped.notes.insert(0, f"aot_inductor: one package ({shipped.package.stat().st_size // 1024} KiB, compiled in "
                            f"{time.perf_counter() - start:.1f} s) for every input set")


def _names(names: set) -> str:
    shown = sorted(names)
    more = f" and {len(shown) - 5} more" if len(shown) > 5 else ""
    return ", ".join(shown[:5]) + more


def is_compile_error(e: BaseException) -> bool:
    import torch._dynamo.exc as exc

    return isinstance(e, (exc.TorchDynamoException, LoadError))


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
