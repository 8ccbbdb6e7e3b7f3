"""The one judgement: observations become outcomes here, and nowhere else.

A worker (or the pool, for a case that never reported back) observes a raw outcome: pass, mismatch, error,
skip or flaky. This module applies, in this fixed order, the health and speed gates from the config, the
config's expected failures, the baseline, and `--fail-on`. Each result keeps what was observed beside the final
outcome, says whether it fails the run and why (`judgement`), and the run gets one conclusion. Judging starts
from the observation every time, so a resumed run and a merge judge again with the current config, baseline
and `--fail-on`.
"""

from __future__ import annotations

import dataclasses
from typing import Iterable, Optional

from verify_compile import results as R
from verify_compile.judgement.baseline import judge_against
from verify_compile.results import CaseResult, RunResult

LIMIT_KEYS = ("max_graph_breaks", "max_recompiles", "min_speedup")


def expect(result: CaseResult, xfail: Optional[str], limits: dict) -> CaseResult:
    """A copy of the result that carries the config's expectations for its case (xfail reason and gates)."""
    return dataclasses.replace(result, xfail_reason=xfail,
                               limits={k: v for k, v in limits.items() if k in LIMIT_KEYS and v is not None})


def judge_run(results: Iterable[CaseResult], meta: dict, fail_on: tuple, baseline: Optional[dict] = None,
              interrupted: Optional[int] = None, journal: Optional[str] = None) -> RunResult:
    judged = [judge_case(r, fail_on, baseline) for r in results]
    failed = interrupted is not None or any(r.failed for r in judged)
    return RunResult(results=judged, meta=meta, conclusion=R.FAILED if failed else R.PASSED,
                     fail_on=tuple(fail_on), interrupted=interrupted, journal=journal)


def judge_case(observed: CaseResult, fail_on: tuple, baseline: Optional[dict] = None) -> CaseResult:
    """A judged copy of one result."""
    r = _as_observed(observed)
    shown = ",".join(fail_on) or "none"
    if r.phase == R.INTERRUPTED:  # never verified: no expectation applies, and it fails whatever --fail-on says
        r.failed = True
        r.judgement.append(f"fails the run: the case was stopped before it finished (whatever --fail-on ({shown}) "
                           "says)")
        return r
    _gates(r)
    _expected_failure(r)
    if baseline is not None:
        step = judge_against(r, baseline.get(r.case_id))
        if step:
            r.judgement.append(step)
    r.failed = r.outcome in fail_on
    r.judgement.append(f"{'fails' if r.failed else 'does not fail'} the run: '{r.outcome}' is "
                       f"{'' if r.failed else 'not '}in --fail-on ({shown})")
    return r


def _as_observed(r: CaseResult) -> CaseResult:
    """A copy reset to what the run observed (results from before this field existed are taken as they are)."""
    r = dataclasses.replace(r, judgement=[], failed=False, notes=list(r.notes))
    if r.observed is None:
        legacy = r.baseline or {}
        r.observed = legacy.get("actual", r.outcome)
        r.observed_message = legacy.get("actual_message", r.message)
    elif r.outcome != r.observed and r.observed == R.PASS:
        r.details = ""  # a gate's explanation; a pass has no details of its own
    r.outcome, r.message, r.baseline = r.observed, r.observed_message or "", None
    return r


def _gates(r: CaseResult) -> None:
    if r.outcome != R.PASS:
        return
    h, p, limits = r.health, r.perf, r.limits
    gates = []
    if h and limits.get("max_graph_breaks") is not None and h.graph_breaks > limits["max_graph_breaks"]:
        gates.append(f"{h.graph_breaks} graph break(s) > max_graph_breaks {limits['max_graph_breaks']}")
    if h and limits.get("max_recompiles") is not None and h.recompiles > limits["max_recompiles"]:
        gates.append(f"{h.recompiles} recompile(s) > max_recompiles {limits['max_recompiles']}")
    speedup = p.speedup if p else None
    if limits.get("min_speedup") is not None and speedup is not None and speedup < limits["min_speedup"]:
        gates.append(f"speedup {speedup:.2f}x < min_speedup {limits['min_speedup']:g}x")
    if not gates:
        return
    r.outcome = R.GATE
    r.message = "correct, but " + "; ".join(gates)
    reasons = (h.break_reasons + h.recompile_reasons) if h else []
    r.details = r.message + ("\n\n" + "\n".join(f"- {x}" for x in reasons) if reasons else "")
    r.judgement.append(f"gate: {r.message}")


def _expected_failure(r: CaseResult) -> None:
    if r.xfail_reason is None:
        return
    if r.outcome in (R.MISMATCH, R.ERROR, R.GATE):
        r.message = f"expected failure ({r.xfail_reason}): {r.outcome}: {r.message}"
        r.judgement.append(f"xfail: {r.outcome} is expected by the config ({r.xfail_reason})")
        r.outcome = R.XFAIL
    elif r.outcome == R.PASS:
        r.outcome = R.XPASS
        r.message = f"passed, but xfail says it should fail ({r.xfail_reason}): remove the xfail entry"
        r.judgement.append("xpass: the config expects a failure, and it passed")
