"""What happens after a mismatch, inside the worker that saw it: repro bundles and bisection."""

from __future__ import annotations

from typing import Callable

from verify_compile.cases import Case
from verify_compile.compare import Observation
from verify_compile.reference import Reference
from verify_compile.results import CaseResult
from verify_compile.spec import RunSettings


def diagnose(case: Case, ref: Reference, set_index: int, observed: Observation, result: CaseResult,
             settings: RunSettings, on_phase: Callable[[str], None], started: float) -> None:
    """Attach diagnostics to a mismatch result. Never raises: a diagnosis that fails leaves a note.

    `set_index` is the 0-based input set that mismatched; `started` is the case's time.perf_counter() start,
    so work here can stay inside the case's timeout."""
