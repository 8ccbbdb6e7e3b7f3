"""The one judgement, as pure functions: gates, expected failures, the baseline and --fail-on, in that order.
Fast tier: no torch, no worker."""

from __future__ import annotations

import dataclasses

import pytest

from verify_compile import results as R
from verify_compile.judgement.judge import expect, judge_case, judge_run
from verify_compile.results import CaseResult, Health, Perf

DEFAULT = R.DEFAULT_FAIL_ON


def observed(outcome: str = "pass", message: str = "", **fields) -> CaseResult:
    return CaseResult(case_id="m[b]", index=0, model="m", backend="b", config="c.yaml", line=3,
                      outcome=outcome, message=message, **fields)


def test_a_pass_stays_a_pass_and_says_why_it_does_not_fail():
    r = judge_case(observed(), DEFAULT)
    assert (r.outcome, r.observed, r.failed) == ("pass", "pass", False)
    assert r.judgement == ["does not fail the run: 'pass' is not in --fail-on (mismatch,error,xpass,gate)"]


def test_a_mismatch_fails_by_default_and_not_under_fail_on_none():
    assert judge_case(observed("mismatch", "x"), DEFAULT).failed
    r = judge_case(observed("mismatch", "x"), ())
    assert (r.outcome, r.failed) == ("mismatch", False)
    assert "not in --fail-on (none)" in r.judgement[-1]


def test_flaky_fails_only_when_asked():
    assert not judge_case(observed("flaky"), DEFAULT).failed
    assert judge_case(observed("flaky"), ("mismatch", "flaky")).failed


def test_gates_apply_to_a_pass_only():
    limits = {"max_graph_breaks": 0, "min_speedup": 1.0, "max_recompiles": None}
    r = judge_case(expect(observed(health=Health(graphs=2, graph_breaks=1, break_reasons=["print"]),
                                   perf=Perf(speedup=0.5)), None, limits), DEFAULT)
    assert r.outcome == "gate" and r.failed
    assert "1 graph break(s) > max_graph_breaks 0" in r.message and "speedup 0.50x < min_speedup 1x" in r.message
    assert "- print" in r.details and r.judgement[0].startswith("gate:")
    assert r.limits == {"max_graph_breaks": 0, "min_speedup": 1.0}  # unset limits are not recorded
    mismatch = judge_case(expect(observed("mismatch", health=Health(graph_breaks=5)), None, limits), DEFAULT)
    assert mismatch.outcome == "mismatch"


@pytest.mark.parametrize("seen, final", [("mismatch", "xfail"), ("error", "xfail"), ("pass", "xpass"),
                                         ("skip", "skip"), ("flaky", "flaky")])
def test_expected_failures(seen, final):
    r = judge_case(expect(observed(seen, "boom"), "issue #1", {}), DEFAULT)
    assert (r.outcome, r.observed) == (final, seen)
    if final == "xfail":
        assert r.message == f"expected failure (issue #1): {seen}: boom" and not r.failed
    if final == "xpass":
        assert r.failed and "remove the xfail entry" in r.message


def test_a_gate_can_be_an_expected_failure():
    r = judge_case(expect(observed(health=Health(graph_breaks=3)), "known breaks", {"max_graph_breaks": 0}),
                   DEFAULT)
    assert r.outcome == "xfail" and "gate" in r.message


def test_an_interrupted_case_is_never_an_expected_failure():
    r = judge_case(expect(observed("error", "interrupted: stopped", phase="interrupted"), "xf", {}), DEFAULT)
    assert r.outcome == "error" and r.failed


def test_an_interrupted_case_fails_the_run_whatever_fail_on_says():
    """A merge of an interrupted shard's results must not pass where the shard itself failed: its unfinished
    cases were never verified."""
    stopped = observed("error", "interrupted: stopped", phase="interrupted")
    for fail_on in ((), ("mismatch",), DEFAULT):
        run = judge_run([observed(), stopped], {}, fail_on)
        assert run.conclusion == "failed" and [r.failed for r in run.results] == [False, True]
        assert "stopped before it finished" in run.results[1].judgement[-1]


@pytest.mark.parametrize("seen, expected, final, status", [
    ("mismatch", "mismatch", "xfail", "unchanged"), ("pass", "mismatch", "xpass", "improved"),
    ("mismatch", "pass", "mismatch", "regressed"), ("flaky", "pass", "gate", "regressed"),
    ("pass", "pass", "pass", "unchanged"), ("pass", None, "pass", "new")])
def test_baseline(seen, expected, final, status):
    baseline = {} if expected is None else {"m[b]": {"outcome": expected}}
    r = judge_case(observed(seen, "msg"), DEFAULT, baseline)
    assert (r.outcome, r.baseline["status"], r.baseline["actual"]) == (final, status, seen)
    assert any(step.startswith("baseline:") for step in r.judgement)


def test_health_regression_against_the_baseline_is_a_gate():
    baseline = {"m[b]": {"outcome": "pass", "graph_breaks": 0}}
    r = judge_case(observed(health=Health(graph_breaks=2)), DEFAULT, baseline)
    assert r.outcome == "gate" and r.baseline["status"] == "regressed"


def test_judging_again_starts_from_the_observation():
    first = judge_case(expect(observed(health=Health(graph_breaks=3)), None, {"max_graph_breaks": 0}), DEFAULT)
    assert first.outcome == "gate"
    again = judge_case(expect(first, None, {"max_graph_breaks": 5}), DEFAULT)  # the config was relaxed since
    assert (again.outcome, again.details, again.message) == ("pass", "", "")
    with_baseline = judge_case(first, DEFAULT, {"m[b]": {"outcome": "gate"}})
    assert with_baseline.outcome == "xfail"
    restored = judge_case(with_baseline, DEFAULT)
    assert restored.outcome == "gate" and restored.baseline is None


def test_json_round_trip_keeps_the_observation():
    r = judge_case(expect(observed("mismatch", "diff"), "xf", {}), DEFAULT)
    back = CaseResult.from_dict(r.to_dict())
    assert (back.outcome, back.observed, back.observed_message) == ("xfail", "mismatch", "diff")
    assert judge_case(expect(back, None, {}), DEFAULT).outcome == "mismatch"


def test_conclusion():
    assert judge_run([observed()], {}, DEFAULT).conclusion == "passed"
    assert judge_run([observed("mismatch")], {}, DEFAULT).conclusion == "failed"
    assert judge_run([observed("mismatch")], {}, ()).conclusion == "passed"
    assert judge_run([observed()], {}, DEFAULT, interrupted=2).conclusion == "failed"
    assert judge_run([], {}, DEFAULT).conclusion == "passed"


def test_outcomes_and_phases_are_plain_strings():
    assert R.Outcome.MISMATCH == "mismatch" and f"{R.Outcome.MISMATCH}" == "mismatch"
    assert str(R.Phase.COMPILE) == "compile" and R.OUTCOMES[0] == "pass"


@pytest.mark.parametrize("change, words", [
    ({"health": {"graphs": 1, "graph_breaks": "x"}, "limits": {"max_graph_breaks": 0}}, "health.graph_breaks"),
    ({"limits": {"max_graph_breaks": "0"}}, "'limits'"),
    ({"perf": {"speedup": "fast"}, "limits": {"min_speedup": 1}}, "perf.speedup"),
    ({"observed": "weird"}, "unknown observed outcome"),
    ({"observed": None, "baseline": {"actual": 3}}, "unknown baseline outcome"),
    ({"phase": 5}, "'phase'"),
    ({"xfail_reason": ["a"]}, "'xfail_reason'"),
    ({"limits": ""}, "'limits'"),
    ({"notes": 1.5}, "'notes'"),
    ({"notes": [1]}, "must be text"),
    ({"mismatches": [{"where": "o", "kind": "values", "summary": "s", "n_bad": [1]}]}, "mismatches.n_bad"),
])
def test_a_merged_record_the_judgement_cannot_read_is_refused(change, words):
    """Each of these once reached the judgement of `merge` and ended it in a traceback with no report (or, for an
    unknown observed outcome, in a pass)."""
    import json

    record = {**judge_case(observed(health=Health(graphs=1)), DEFAULT).to_dict(), **change}
    text = json.dumps({"format": "verify-compile-results/1", "meta": {}, "results": [record]})
    with pytest.raises(ValueError, match="malformed") as e:
        R.load_json_results(text, "r.json")
    assert words in str(e.value)
    good = json.dumps({"format": "verify-compile-results/1", "meta": {},
                       "results": [judge_case(observed(health=Health(graphs=1), perf=Perf(speedup=2.0)),
                                              DEFAULT).to_dict()]})
    (back,) = R.load_json_results(good, "r.json")[1]
    assert judge_run([back], {}, DEFAULT).conclusion == "passed"


def test_a_stopped_case_never_enters_the_baseline(tmp_path):
    """`merge --update-baseline` of an interrupted shard must not record 'error' for cases that never ran: a real
    error there later would pass as a known one. Their old entries are kept."""
    from verify_compile.judgement.baseline import load_baseline, save_baseline

    path = str(tmp_path / "b.yaml")
    save_baseline(path, [judge_case(observed(), DEFAULT)])
    stopped = observed("error", "interrupted: stopped", phase="interrupted")
    other = dataclasses.replace(observed("mismatch", "diff"), case_id="n[b]", index=1)
    assert save_baseline(path, judge_run([stopped, other], {}, DEFAULT).results) == 2
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
    import json

    from verify_compile.orchestration.journal import parse_journal

    deep_json = '{"format": "verify-compile-results/1", "results": ' + "[" * 100000 + "]" * 100000 + "}"
    with pytest.raises(ValueError, match="nested too deeply"):
        R.load_json_results(deep_json, "r.json")
    record = judge_case(observed(), DEFAULT).to_dict()
    nest: dict = {"summary": "s"}
    record["bisect"] = nest
    for _ in range(900):  # dataclasses.asdict and the sanitiser would recurse through each level
        nest["next"] = nest = {}
    text = json.dumps({"format": "verify-compile-results/1", "results": [record]})
    with pytest.raises(ValueError, match="nested too deeply"):
        R.load_json_results(text, "r.json")
    header = '{"format": "verify-compile-journal/2", "configs": ["/c.yaml"]}\n'
    with pytest.raises(ValueError, match="j.jsonl:2: corrupt journal line"):
        parse_journal(header + "[" * 100000 + "\n" + header, "j.jsonl", ["/c.yaml"])
