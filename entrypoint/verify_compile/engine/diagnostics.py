"""What happens after a mismatch, inside the worker that saw it: repro bundles and bisection."""

from __future__ import annotations

import shlex
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional

from verify_compile.engine.compare import CallRecord
from verify_compile.engine.compilers import Compiled
from verify_compile.engine.reference import Reference
from verify_compile.results import Observation
from verify_compile.spec import Case, RunSettings

_MARGIN_S = 5.0  # of the case's timeout, kept for sending the result before the pool's deadline
_MIN_BISECT_S = 10.0  # less than this cannot even import torch and compile once


def diagnose(case: Case, ref: Reference, set_index: int, observed: CallRecord, result: Observation,
             settings: RunSettings, on_phase: Callable[[str], None], started: float,
             compiled: Optional[Compiled] = None) -> None:
    """Attach diagnostics to a mismatch result. Never raises: a diagnosis that fails leaves a note.

    `set_index` is the 0-based input set that mismatched; `started` is the case's time.perf_counter() start,
    so work here can stay inside the case's timeout; `compiled` is what was verified (its package is kept)."""
    try:
        bundle = None
        if settings.repro_dir:
            bundle = _bundle(case, ref, set_index, observed, result, Path(settings.repro_dir), compiled)
            if bundle is not None:
                result.artifacts.append(str(bundle))
                result.details += (f"\n\nrepro bundle: {bundle}\nrecreate the mismatch outside verify-compile: "
                                   f"python {shlex.quote(str(bundle / 'repro.py'))}  (exit 1 while it reproduces)")
        if settings.localize or case.model.localize:  # first: bisection would take all the time left
            from verify_compile.engine.localize import localize
            localize(case, set_index, result, bundle, on_phase, _time_left(case, started),
                     bisecting=settings.bisect or case.model.bisect)
        if settings.bisect or case.model.bisect:
            _bisect(case, ref, set_index, observed, result, bundle, on_phase, started)
    except Exception as e:  # diagnostics are extra information: they never change the verdict
        result.notes.append(f"diagnosis failed ({type(e).__name__}: {e})")


def _bundle(case: Case, ref: Reference, set_index: int, observed: CallRecord, result: Observation,
            root: Path, compiled: Optional[Compiled] = None) -> Optional[Path]:
    from verify_compile.engine.repro import write_bundle

    try:
        folder, notes = write_bundle(case, ref, set_index, observed, result, root, compiled)
    except Exception as e:
        result.notes.append(f"no repro bundle ({type(e).__name__}: {e})")
        return None
    result.notes.extend(notes)
    return folder


def _bisect(case: Case, ref: Reference, set_index: int, observed: CallRecord, result: Observation,
            bundle: Optional[Path], on_phase: Callable[[str], None], started: float) -> None:
    from verify_compile.engine.bisection import run_bisect

    if case.backend.is_shipping:
        result.notes.append(f"not bisected: CompilerBisector bisects torch.compile, and '{case.backend.backend}' "
                            "does not go through torch.compile; run the bundle's repro.py to inspect it")
        return
    if case.backend.backend != "inductor":
        result.notes.append(f"not bisected: CompilerBisector bisects inductor, and this case's backend is "
                            f"'{case.backend.backend}'")
        return
    if _time_left(case, started) < _MIN_BISECT_S:
        result.notes.append(f"not bisected: only {_time_left(case, started):.0f} s of the case's "
                            f"{case.model.timeout:g} s timeout left")
        return
    on_phase("bisect")
    scratch = None
    if bundle is None:  # bisection replays a bundle: without --repro-dir, a temporary one
        scratch = Path(tempfile.mkdtemp(prefix="verify-compile-bisect-"))
        bundle = _bundle(case, ref, set_index, observed, result, scratch)
    try:
        if bundle is None:
            result.notes.append("not bisected: the repro bundle it replays could not be written")
            return
        found, why = run_bisect(bundle, _time_left(case, started))
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    if found is not None:
        result.bisect = found
    else:
        result.notes.append(why)


def _time_left(case: Case, started: float) -> float:
    return case.model.timeout - (time.perf_counter() - started) - _MARGIN_S
