"""The one judgement, as pure functions: gates, expected failures, the baseline and --fail-on, in that order.
Fast tier: no torch, no worker."""

from __future__ import annotations

import dataclasses
import json

import pytest

from verify_compile import records
from verify_compile import results as R
from verify_compile.judgement.baseline import Baseline
from verify_compile.judgement.judge import conclude, judge_case
from verify_compile.results import Health, Observation, Perf
from verify_compile.spec import Expectation, XFail

DEFAULT = R.DEFAULT_FAIL_ON
NONE = Expectation()


def observed(outcome: str = "pass", message: str = "", **fields) -> Observation:
    return Observation(case_id="m[b]", index=0, model="m", backend="b", config="c.yaml", line=3,
                       outcome=outcome, message=message, **fields)


def expect(xfail: str | None = None, outcomes: tuple = (), **limits) -> Expectation:
    made = XFail(xfail, tuple(outcomes)) if outcomes else XFail(xfail) if xfail else None
    return Expectation(xfail=made, **limits)


def judged(observation: Observation, fail_on: tuple = DEFAULT, expectation: Expectation = NONE,
           baseline: dict | None = None):
    return judge_case(observation, expectation, Baseline(baseline) if baseline is not None else None, fail_on)


def judge_run(observations: list, fail_on: tuple, interrupted: int | None = None):
    return conclude([judged(o, fail_on) for o in observations], {}, fail_on, interrupted)


def test_a_pass_stays_a_pass_and_says_why_it_does_not_fail():
    r = judged(observed())
    assert (r.outcome, r.observed, r.failed) == ("pass", "pass", False)
    assert r.judgement == ("does not fail the run: 'pass' is not in --fail-on (mismatch,error,xpass,gate)",)


def test_a_mismatch_fails_by_default_and_not_under_fail_on_none():
    assert judged(observed("mismatch", "x")).failed
    r = judged(observed("mismatch", "x"), ())
    assert (r.outcome, r.failed) == ("mismatch", False)
    assert "not in --fail-on (none)" in r.judgement[-1]


def test_flaky_fails_only_when_asked():
    assert not judged(observed("flaky")).failed
    assert judged(observed("flaky"), ("mismatch", "flaky")).failed


def test_gates_apply_to_a_pass_only():
    limits = expect(max_graph_breaks=0, min_speedup=1.0)
    r = judged(observed(health=Health(graphs=2, graph_breaks=1, break_reasons=["print"]), perf=Perf(speedup=0.5)),
               expectation=limits)
    assert r.outcome == "gate" and r.failed
    assert "1 graph break(s) > max_graph_breaks 0" in r.message and "speedup 0.50x < min_speedup 1x" in r.message
    assert "- print" in r.details and r.judgement[0].startswith("gate:")
    mismatch = judged(observed("mismatch", health=Health(graph_breaks=5)), expectation=limits)
    assert mismatch.outcome == "mismatch"


@pytest.mark.parametrize("seen, final", [("mismatch", "xfail"), ("error", "xfail"), ("pass", "xpass"),
                                         ("skip", "skip"), ("flaky", "flaky")])
def test_expected_failures(seen, final):
    r = judged(observed(seen, "boom"), expectation=expect("issue #1"))
    assert (r.outcome, r.observed) == (final, seen)
    if final == "xfail":
        assert r.message == f"expected failure (issue #1): {seen}: boom" and not r.failed
    if final == "xpass":
        assert r.failed and "remove the xfail entry" in r.message


@pytest.mark.parametrize("seen, final, failed", [("mismatch", "xfail", False), ("error", "error", True),
                                                 ("pass", "xpass", True), ("gate", "gate", True)])
def test_an_xfail_that_names_its_outcome_reports_any_other_as_what_it_is(seen, final, failed):
    """An entry written for a known mismatch must not hide a new crash of the same case (pytest's `raises`)."""
    limits = {"max_graph_breaks": 0} if seen == "gate" else {}
    observation = observed("pass" if seen == "gate" else seen, "boom", health=Health(graph_breaks=1))
    r = judged(observation, expectation=expect("#7", ("mismatch",), **limits))
    assert (r.outcome, r.failed) == (final, failed)
    if final not in ("xfail", "xpass"):
        assert "expects mismatch (#7), not" in r.judgement[-2] and "expected failure" not in r.message


def test_a_gate_can_be_an_expected_failure():
    r = judged(observed(health=Health(graph_breaks=3)), expectation=expect("known breaks", max_graph_breaks=0))
    assert r.outcome == "xfail" and "gate" in r.message


def test_an_interrupted_case_is_never_an_expected_failure():
    r = judged(observed("error", "interrupted: stopped", phase="interrupted"), expectation=expect("xf"))
    assert r.outcome == "error" and r.failed and r.verdict.recorded is None


def test_an_interrupted_case_fails_the_run_whatever_fail_on_says():
    """A merge of an interrupted shard's results must not pass where the shard itself failed: its unfinished
    cases were never verified."""
    stopped = observed("error", "interrupted: stopped", phase="interrupted")
    for fail_on in ((), ("mismatch",), DEFAULT):
        run = judge_run([observed(), stopped], fail_on)
        assert run.conclusion == "failed" and [r.failed for r in run.results] == [False, True]
        assert "stopped before it finished" in run.results[1].judgement[-1]


@pytest.mark.parametrize("seen, expected, final, status", [
    ("mismatch", "mismatch", "xfail", "unchanged"), ("pass", "mismatch", "xpass", "improved"),
    ("mismatch", "pass", "mismatch", "regressed"), ("flaky", "pass", "gate", "regressed"),
    ("pass", "pass", "pass", "unchanged"), ("pass", None, "pass", "new")])
def test_baseline(seen, expected, final, status):
    baseline = {} if expected is None else {"m[b]": {"outcome": expected}}
    r = judged(observed(seen, "msg"), baseline=baseline)
    assert (r.outcome, r.baseline["status"], r.verdict.recorded) == (final, status, seen)
    assert any(step.startswith("baseline:") for step in r.judgement)


def test_health_regression_against_the_baseline_is_a_gate():
    r = judged(observed(health=Health(graph_breaks=2)), baseline={"m[b]": {"outcome": "pass", "graph_breaks": 0}})
    assert r.outcome == "gate" and r.baseline["status"] == "regressed"


def test_update_mode_judges_each_case_against_what_it_records():
    """--update-baseline: a known mismatch is recorded and therefore expected; a flaky case still shows."""
    update = Baseline({}, update=True)
    mismatch = judge_case(observed("mismatch", "d"), NONE, update, DEFAULT)
    assert (mismatch.outcome, mismatch.baseline["status"], mismatch.failed) == ("xfail", "unchanged", False)
    gate = judge_case(observed(health=Health(graph_breaks=1)), expect(max_graph_breaks=0), update, DEFAULT)
    assert (gate.outcome, gate.verdict.recorded) == ("xfail", "gate")


def test_judging_again_starts_from_the_observation():
    observation = observed(health=Health(graph_breaks=3))
    first = judged(observation, expectation=expect(max_graph_breaks=0))
    assert first.outcome == "gate" and first.observation == observation
    again = judged(first.observation, expectation=expect(max_graph_breaks=5))  # the config was relaxed since
    assert (again.outcome, again.details, again.message) == ("pass", "", "")
    with_baseline = judged(first.observation, expectation=expect(max_graph_breaks=0),
                           baseline={"m[b]": {"outcome": "gate"}})
    assert with_baseline.outcome == "xfail"


def test_json_round_trip_keeps_the_observation_and_the_expectation():
    r = judged(observed("mismatch", "diff"), expectation=expect("xf", ("mismatch", "error")))
    run = conclude([r], {}, DEFAULT)
    (back, expectation), = records.load_json_results(records.dump_json(run), "r.json")[1]
    assert back == r.observation and expectation == r.expectation
    assert judged(back).outcome == "mismatch" and judged(back, expectation=expectation).outcome == "xfail"


def test_conclusion():
    assert judge_run([observed()], DEFAULT).conclusion == "passed"
    assert judge_run([observed("mismatch")], DEFAULT).conclusion == "failed"
    assert judge_run([observed("mismatch")], ()).conclusion == "passed"
    assert judge_run([observed()], DEFAULT, interrupted=2).conclusion == "failed"
    assert judge_run([], DEFAULT).conclusion == "passed"


def test_outcomes_and_phases_are_plain_strings():
    assert R.Outcome.MISMATCH == "mismatch" and f"{R.Outcome.MISMATCH}" == "mismatch"
    assert str(R.Phase.COMPILE) == "compile" and R.OUTCOMES[0] == "pass"


@pytest.mark.parametrize("change, words", [
    ({"health": {"graphs": 1, "graph_breaks": "x"}}, "health.graph_breaks"),
    ({"perf": {"speedup": "fast"}}, "perf.speedup"),
    ({"outcome": "weird"}, "unknown observed outcome"),
    ({"outcome": "xfail"}, "unknown observed outcome"),
    ({"phase": 5}, "'phase'"),
    ({"notes": 1.5}, "'notes'"),
    ({"notes": [1]}, "'notes'"),
    ({"case_id": None}, "'case_id'"),
    ({"mismatches": [{"where": "o", "kind": "values", "summary": "s", "n_bad": [1]}]}, "mismatches.n_bad"),
    ({"mismatches": [{"where": "o"}]}, "mismatches.kind' is missing"),
])
def test_a_merged_observation_the_judgement_cannot_read_is_refused(change, words):
    """Each of these once reached the judgement of `merge` and ended it in a traceback with no report (or, for an
    unknown observed outcome, in a pass)."""
    record = judged(observed(health=Health(graphs=1))).to_dict()
    record["observation"].update(change)
    text = json.dumps({"format": records.RESULTS_FORMAT, "meta": {}, "results": [record]})
    with pytest.raises(ValueError, match="malformed") as e:
        records.load_json_results(text, "r.json")
    assert words in str(e.value)


@pytest.mark.parametrize("change, words", [
    ({"max_graph_breaks": "0"}, "'max_graph_breaks'"),
    ({"xfail": {"reason": ["a"]}}, "'xfail.reason'"),
    ({"xfail": "x"}, "'xfail.' must be an object"),
    ({"min_speedup": True}, "'min_speedup'"),
])
def test_a_merged_expectation_the_judgement_cannot_read_is_refused(change, words):
    record = judged(observed()).to_dict()
    record["expectation"].update(change)
    text = json.dumps({"format": records.RESULTS_FORMAT, "meta": {}, "results": [record]})
    with pytest.raises(ValueError, match="malformed") as e:
        records.load_json_results(text, "r.json")
    assert words in str(e.value)


# A format-1 result as verify-compile 1.0 wrote it: one flat record, the observation beside the verdict.
V1_RECORD = {"case_id": "m[b]", "index": 0, "model": "m", "backend": "b", "config": "c.yaml", "line": 3,
             "outcome": "xfail", "message": "expected failure (#1): mismatch: diff", "details": "located",
             "phase": None, "device": "cpu", "dtype": "float32", "duration": 1.5, "compile_time": 0.2,
             "input_sets": 2, "mismatches": [{"where": "output", "kind": "values", "summary": "output: 1 of 4",
                                               "input_set": 1, "numel": 4, "n_bad": 1, "max_abs": "inf"}],
             "health": {"graphs": 1, "graph_breaks": 2, "break_reasons": ["print"], "recompiles": 0,
                        "recompile_reasons": [], "fallbacks": 0},
             "perf": None, "cache": {}, "xfail_reason": "#1", "captured": "", "artifacts": [], "bisect": None,
             "baseline": None, "notes": ["n"], "limits": {"max_graph_breaks": 5}, "observed": "mismatch",
             "observed_message": "diff", "failed": False, "judgement": ["xfail: ..."]}


def test_format_1_results_are_read_and_judged_the_same():
    text = json.dumps({"format": "verify-compile-results/1", "meta": {"torch": "2.13.0"}, "results": [V1_RECORD]})
    meta, [(observation, expectation)] = records.load_json_results(text, "old.json")
    assert meta == {"torch": "2.13.0"}
    assert (observation.outcome, observation.message, observation.details) == ("mismatch", "diff", "located")
    assert observation.health.graph_breaks == 2 and observation.mismatches[0].max_abs == "inf"
    assert expectation == Expectation(xfail=XFail("#1"), max_graph_breaks=5)
    r = judged(observation, expectation=expectation)
    assert (r.outcome, r.message) == ("xfail", V1_RECORD["message"])
    gate = {**V1_RECORD, "outcome": "gate", "observed": "pass", "observed_message": "", "details": "gate text",
            "limits": {"max_graph_breaks": 0}, "xfail_reason": None}
    _, [(o, e)] = records.load_json_results(json.dumps({"format": "verify-compile-results/1", "results": [gate]}), "g")
    assert (o.outcome, o.details, judged(o, expectation=e).outcome) == ("pass", "", "gate")


def test_a_stopped_case_never_enters_the_baseline(tmp_path):
    """`merge --update-baseline` of an interrupted shard must not record 'error' for cases that never ran: a real
    error there later would pass as a known one. Their old entries are kept."""
    from verify_compile.judgement.baseline import load_baseline, save_baseline

    path = str(tmp_path / "b.yaml")
    save_baseline(path, [judged(observed())])
    stopped = observed("error", "interrupted: stopped", phase="interrupted")
    other = dataclasses.replace(observed("mismatch", "diff"), case_id="n[b]", index=1)
    assert save_baseline(path, judge_run([stopped, other], DEFAULT).results) == 2
    assert load_baseline(path) == {"m[b]": {"outcome": "pass"}, "n[b]": {"outcome": "mismatch"}}


def test_merged_meta_takes_only_text_times():
    """A results file whose meta has a number for `started` ended `merge` in a traceback (int < str)."""
    from verify_compile.app import merged_meta

    meta = merged_meta([{"started": "2026-01-01T00:00:00+00:00", "finished": 7}, {"started": 5}], 2)
    assert (meta["started"], meta["finished"], meta["cases"]) == ("2026-01-01T00:00:00+00:00", None, 2)


@pytest.mark.parametrize("name, content, words", [
    ("b.yaml", b"version: 1\ncases:\n  m[b]: {outcome: pass, graph_breaks: .inf}\n", "whole number >= 0, got inf"),
    ("b.yaml", b"version: 1\ncases:\n  m[b]: {outcome: pass, recompiles: 1.7}\n", "whole number >= 0, got 1.7"),
    ("b.csv", b"case,outcome\nm[b],pass\xff\n", "cannot read baseline"),
])
def test_a_baseline_that_cannot_be_read_is_a_config_error(tmp_path, name, content, words):
    """`.inf` (OverflowError) and a non-UTF-8 CSV ended the run in a traceback; 1.7 was silently taken as 1."""
    from verify_compile.errors import ConfigError
    from verify_compile.judgement.baseline import load_baseline

    (tmp_path / name).write_bytes(content)
    with pytest.raises(ConfigError, match=words):
        load_baseline(str(tmp_path / name))
    (tmp_path / "ok.csv").write_text("case,outcome,graph_breaks\nm[b],pass,2\n")
    assert load_baseline(str(tmp_path / "ok.csv")) == {"m[b]": {"outcome": "pass", "graph_breaks": 2}}


def test_results_nested_too_deeply_are_refused_not_a_recursion_error():
    from verify_compile.orchestration.journal import parse_journal

    deep_json = '{"format": "verify-compile-results/2", "results": ' + "[" * 100000 + "]" * 100000 + "}"
    with pytest.raises(ValueError, match="nested too deeply"):
        records.load_json_results(deep_json, "r.json")
    record = judged(observed()).to_dict()
    nest: dict = {"summary": "s"}
    record["observation"]["bisect"] = nest
    for _ in range(900):  # dataclasses.asdict and the sanitiser would recurse through each level
        nest["next"] = nest = {}
    text = json.dumps({"format": records.RESULTS_FORMAT, "results": [record]})
    with pytest.raises(ValueError, match="nested too deeply"):
        records.load_json_results(text, "r.json")
    for version in (2, 3):
        header = f'{{"format": "verify-compile-journal/{version}", "configs": ["/c.yaml"]}}\n'
        with pytest.raises(ValueError, match="j.jsonl:2: corrupt journal line"):
            parse_journal(header + "[" * 100000 + "\n" + header, "j.jsonl", ["/c.yaml"])


def test_every_outcome_has_one_style():
    assert set(R.OUTCOME_STYLES) == set(R.OUTCOMES)
    assert sorted(s.severity for s in R.OUTCOME_STYLES.values()) == list(range(len(R.OUTCOMES)))
