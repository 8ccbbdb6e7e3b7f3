"""The one judgement: `judge(observation, expectation, baseline, fail_on) -> Verdict`, and nowhere else.

A worker (or the pool, for a case that never reported back) observes a raw outcome: pass, mismatch, error,
skip or flaky. The judgement applies, in this fixed order, the health and speed gates of the expectation, its
expected failure (`xfail`), the baseline, and `--fail-on`. Each stage may propose another outcome and message;
only `judge` writes them into the verdict, with the steps that changed them. It starts from the observation
every time, so a resumed run and a merge judge again with the current config, baseline and `--fail-on`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

from verify_compile import results as R
from verify_compile.judgement.baseline import Baseline, compare_with, entry_of
from verify_compile.results import CaseResult, Observation, RunResult, Verdict
from verify_compile.spec import Expectation


@dataclass(frozen=True)
class _Step:
    """What one stage of the judgement proposes."""

    outcome: str
    message: str
    why: str  # the judgement step, as reports list it
    details: Optional[str] = None  # a new explanation, replacing the observation's


def judge(observation: Observation, expectation: Expectation, baseline: Optional[Baseline] = None,
          fail_on: Iterable[str] = R.DEFAULT_FAIL_ON) -> Verdict:
    """The verdict on one observed case."""
    fail_on = tuple(fail_on)
    shown = ",".join(fail_on) or "none"
    if observation.interrupted:  # never verified: no expectation applies, and it fails whatever --fail-on says
        return Verdict(R.ERROR, observation.message, True, (
            f"fails the run: the case was stopped before it finished (whatever --fail-on ({shown}) says)",))
    steps: list = []
    draft = _Step(observation.outcome, observation.message, "")
    draft = _apply(draft, _gates(observation, expectation), steps)
    draft = _apply(draft, _xfail(draft.outcome, draft.message, expectation), steps)
    recorded, status = draft.outcome, None  # a baseline records the outcome as it stands here
    if baseline is not None:
        expected = baseline.expected(observation.case_id, entry_of(recorded, observation.health))
        (outcome, message, why), status = compare_with(draft.outcome, draft.message, observation.health, expected)
        draft = _apply(draft, _Step(outcome, message, why), steps)
    failed = draft.outcome in fail_on
    steps.append(f"{'fails' if failed else 'does not fail'} the run: '{draft.outcome}' is "
                 f"{'' if failed else 'not '}in --fail-on ({shown})")
    return Verdict(outcome=draft.outcome, message=draft.message, failed=failed, judgement=tuple(steps),
                   details=draft.details, baseline=status, recorded=recorded)


def _apply(draft: _Step, step: Optional[_Step], steps: list) -> _Step:
    if step is None:
        return draft
    steps.append(step.why)
    return _Step(step.outcome, step.message, step.why, step.details if step.details is not None else draft.details)


def judge_case(observation: Observation, expectation: Expectation, baseline: Optional[Baseline] = None,
               fail_on: Iterable[str] = R.DEFAULT_FAIL_ON) -> CaseResult:
    return CaseResult(observation, expectation, judge(observation, expectation, baseline, fail_on))


def conclude(results: list, meta: dict, fail_on: Iterable[str], interrupted: Optional[int] = None,
             journal: Optional[str] = None, incomplete: bool = False) -> RunResult:
    """The run's one conclusion over cases that are already judged; `incomplete`: cases are missing (shards
    that were not merged), so nothing can say the run passed."""
    failed = interrupted is not None or incomplete or any(r.failed for r in results)
    return RunResult(results=sorted(results, key=lambda r: r.index), meta=meta,
                     conclusion=R.FAILED if failed else R.PASSED, fail_on=tuple(fail_on), interrupted=interrupted,
                     journal=journal)


def _gates(observation: Observation, expectation: Expectation) -> Optional[_Step]:
    if observation.outcome != R.PASS:
        return None
    h, p, e = observation.health, observation.perf, expectation
    gates = []
    if h and e.max_graph_breaks is not None and h.graph_breaks > e.max_graph_breaks:
        gates.append(f"{h.graph_breaks} graph break(s) > max_graph_breaks {e.max_graph_breaks}")
    if h and e.max_recompiles is not None and h.recompiles > e.max_recompiles:
        gates.append(f"{h.recompiles} recompile(s) > max_recompiles {e.max_recompiles}")
    speedup = p.speedup if p else None
    if e.min_speedup is not None and speedup is not None and speedup < e.min_speedup:
        gates.append(f"speedup {speedup:.2f}x < min_speedup {e.min_speedup:g}x")
    if not gates:
        return None
    message = "correct, but " + "; ".join(gates)
    reasons = (h.break_reasons + h.recompile_reasons) if h else []
    details = message + ("\n\n" + "\n".join(f"- {x}" for x in reasons) if reasons else "")
    return _Step(R.GATE, message, f"gate: {message}", details)


def _xfail(outcome: str, message: str, expectation: Expectation) -> Optional[_Step]:
    xfail = expectation.xfail
    if xfail is None or outcome == R.SKIP:  # a case that never ran says nothing about its expected failure
        return None
    expected = " or ".join(xfail.outcomes)
    if outcome in xfail.outcomes:
        return _Step(R.XFAIL, f"expected failure ({xfail.reason}): {outcome}: {message}",
                     f"xfail: {outcome} is expected by the config ({xfail.reason})")
    if outcome == R.PASS:
        return _Step(R.XPASS, f"passed, but xfail says it should fail ({xfail.reason}): remove the xfail entry",
                     "xpass: the config expects a failure, and it passed")
    return _Step(outcome, message, f"xfail: the config expects {expected} ({xfail.reason}), not {outcome}: "
                                   "reported as it is")
