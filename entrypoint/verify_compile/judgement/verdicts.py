"""Outcomes decided after a case ran: compile-health and speed gates, expected failures, and the results
that stand in for cases that never reported back. Torch-free, so the parent process never imports torch."""

from __future__ import annotations

from verify_compile import results as R
from verify_compile.orchestration.cases import Case
from verify_compile.results import CaseResult

_MAX_DETAILS = 20000


def apply_expectations(case: Case, result: CaseResult) -> CaseResult:
    """Gates on compile health and speed, then the config's expected failures."""
    spec = case.model
    if result.outcome == R.PASS:
        gates = []
        h, p = result.health, result.perf
        if h and spec.max_graph_breaks is not None and h.graph_breaks > spec.max_graph_breaks:
            gates.append(f"{h.graph_breaks} graph break(s) > max_graph_breaks {spec.max_graph_breaks}")
        if h and spec.max_recompiles is not None and h.recompiles > spec.max_recompiles:
            gates.append(f"{h.recompiles} recompile(s) > max_recompiles {spec.max_recompiles}")
        if spec.min_speedup is not None and p and p.speedup is not None and p.speedup < spec.min_speedup:
            gates.append(f"speedup {p.speedup:.2f}x < min_speedup {spec.min_speedup:g}x")
        if gates:
            result.outcome = R.GATE
            result.message = "correct, but " + "; ".join(gates)
            reasons = (h.break_reasons if h else []) + (h.recompile_reasons if h else [])
            result.details = result.message + ("\n\n" + "\n".join(f"- {r}" for r in reasons) if reasons else "")
    if case.xfail is None:
        return result
    if result.outcome in (R.MISMATCH, R.ERROR, R.GATE):
        result.message = f"expected failure ({case.xfail}): {result.outcome}: {result.message}"
        result.outcome = R.XFAIL
    elif result.outcome == R.PASS:
        result.outcome = R.XPASS
        result.message = f"passed, but xfail says it should fail ({case.xfail}): remove the xfail entry"
    return result


def set_error(result: CaseResult, phase: str, message: str, details: str) -> None:
    result.outcome, result.phase, result.message = R.ERROR, phase, f"{phase}: {message}"
    result.details = details[-_MAX_DETAILS:]


def error_result(case: Case, phase: str, message: str, details: str = "",
                 duration: float = 0.0, captured: str = "") -> CaseResult:
    """A result for a case that never reported back (crash, timeout, interruption)."""
    result = CaseResult(case_id=case.id, index=case.index, model=case.model.name, backend=case.backend.id,
                        config=case.model.config_file, line=case.model.line, outcome=R.PASS,
                        dtype=case.model.dtype, xfail_reason=case.xfail, duration=duration, captured=captured)
    set_error(result, phase, message, details or message)
    return apply_expectations(case, result) if phase != R.INTERRUPTED else result
