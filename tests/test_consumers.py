"""What each JUnit consumer shows of our report, against golden files (tests/consumers/golden/, regenerated with
`python tests/consumers/update_golden.py`): junitparser (EnricoMi's publisher parses with it) everywhere; the
three GitHub Actions' own parsers where $VERIFY_COMPILE_CONSUMERS names their sources, and everywhere through
tests/consumers/views.py's models of them, which update_golden.py checks against the real parsers."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest
from consumers import real, reports, views

from helpers import flat, judged
from verify_compile import results as R
from verify_compile.reports.junit import render_junit
from verify_compile.results import RunResult

ACTIONS = ("enricomi", "dorny", "mikepenz")
MODES = tuple(reports.MODES)
REGENERATE = "python tests/consumers/update_golden.py"
# Where a consumer has no place for a skip's reason (none reads <skipped>'s attribute or text): what it shows.
SKIP_SHOWS = {"enricomi": lambda name: None, "dorny": lambda name: None, "mikepenz": lambda name: name}


def _golden(consumer: str, mode: str) -> dict:
    path = reports.golden_path(consumer, mode)
    assert path.is_file(), f"{path} is missing: run {REGENERATE}"
    return json.loads(path.read_text(encoding="utf-8"))


def _shown(golden: dict) -> dict:
    return {"counts": golden["counts"], "tests": golden["tests"]}


def _recorded() -> list[dict]:
    """The recorded run's results, judged as the reports render them, each one mapping (helpers.flat)."""
    return [flat(r) for r in json.loads(reports.RESULTS.read_text(encoding="utf-8"))["results"]]


def _reason(r: dict) -> str:
    """The reason our report gives a case, from its recorded result: an error's without its phase (the type
    says it), a non-failing outcome's prefixed with the outcome (<skipped> has no type)."""
    if r["failed"] and r["outcome"] == R.ERROR:
        return r["message"].removeprefix(f"{r['phase']}: ")
    return r["message"] if r["failed"] or r["outcome"] == R.SKIP else f"{r['outcome']}: {r['message']}"


def _category(r: dict, errors_apart: bool) -> str:
    if r["outcome"] == R.PASS:
        return "passed"
    if r["failed"]:
        return "errored" if r["outcome"] == R.ERROR and errors_apart else "failed"
    return "skipped"


@pytest.mark.parametrize("mode", MODES)
def test_fixture_reports_are_what_the_renderer_writes(mode):
    committed = reports.report_path(mode).read_text(encoding="utf-8")
    assert reports.comparable(reports.render(mode)) == reports.comparable(committed), \
        f"{reports.report_path(mode).name} is stale: run {REGENERATE}"


def test_fixture_run_holds_every_outcome_and_phase():
    recorded = _recorded()
    assert {r["outcome"] for r in recorded} == set(R.OUTCOMES)
    assert {r["phase"] for r in recorded if r["outcome"] == R.ERROR} >= {R.COMPILE, R.CRASH, R.INTERRUPTED}


def test_strict_report_is_valid_and_differs_only_by_file_line(junit_schema):
    junit_schema.validate(str(reports.report_path("strict")))
    default = reports.report_path("file-line").read_text(encoding="utf-8")
    without = re.sub(r' file="[^"]*" line="\d+"', "", default)
    assert reports.comparable(without) == reports.comparable(reports.report_path("strict").read_text("utf-8"))
    assert not junit_schema.is_valid(str(reports.report_path("file-line"))), "the strict schema rejects file/line"


def test_render_junit_defaults_to_file_line():
    cases = list(ET.fromstring(render_junit(reports.load_run(), base_dir=str(reports.REPO))).iter("testcase"))
    assert all(c.get("file") == "tests/consumers/fixture.yaml" and int(c.get("line")) > 0 for c in cases)


@pytest.mark.parametrize("mode", MODES)
def test_junitparser_reads_what_its_golden_file_says(mode):
    got = views.junitparser_view(str(reports.report_path(mode)))
    assert got == _shown(_golden("junitparser", mode)), f"run {REGENERATE} if the change is intended"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("consumer", ACTIONS)
def test_golden_file_is_what_the_report_now_carries(consumer, mode):
    """views.py's model reads the committed report where the action reads it."""
    xml = reports.report_path(mode)
    model = {"enricomi": lambda: views.enricomi_model(str(xml)), "dorny": lambda: views.dorny_model(str(xml), xml.name),
             "mikepenz": lambda: views.mikepenz_model(str(xml), real.WORKSPACE)}[consumer]()
    assert model == _shown(_golden(consumer, mode)), f"run {REGENERATE} if the change is intended"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("consumer", ACTIONS)
def test_the_action_itself_shows_what_its_golden_file_says(consumer, mode):
    sources = real.sources_from_env()
    if sources is None:
        pytest.skip(f"${real.ENV} is not set: the actions' sources are not here (see tests/consumers/update_golden.py)")
    if sources.missing():
        pytest.skip(f"${real.ENV} lacks {', '.join(sources.missing())}")
    got = real.real_view(consumer, reports.report_path(mode), sources)
    assert got == _shown(_golden(consumer, mode)), f"{consumer} at {sources.commit(consumer)} shows otherwise"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("consumer", views.CONSUMERS)
def test_every_consumer_shows_every_case_in_its_category_with_its_reason(consumer, mode):
    golden = _golden(consumer, mode)
    errors_apart = golden["counts"]["errored"] is not None
    assert set(golden["tests"]) == {r["case_id"] for r in _recorded()}
    for r in _recorded():
        shown = golden["tests"][r["case_id"]]
        assert shown["category"] == _category(r, errors_apart), r["case_id"]
        if shown["category"] == "skipped" and consumer in SKIP_SHOWS:
            assert shown["shows"] == SKIP_SHOWS[consumer](r["case_id"]), f"{consumer} now shows skip reasons"
        elif shown["category"] != "passed":
            assert _reason(r) in shown["shows"], (r["case_id"], shown["shows"])
            assert consumer != "junitparser" or shown["text"].startswith(_reason(r)), "GitLab shows the text"


@pytest.mark.parametrize("consumer", views.CONSUMERS)
def test_no_consumer_shows_a_phase_twice(consumer):
    """dorny/test-reporter shows `type: message`; the others the message alone (the phase is in the body)."""
    for r in (r for r in _recorded() if r["failed"] and r["outcome"] == R.ERROR):
        shown = _golden(consumer, "file-line")["tests"][r["case_id"]]["shows"]
        prefix = f"{r['phase']}: "
        if consumer == "dorny":
            assert shown.startswith(prefix) and not shown.startswith(prefix * 2), shown
        else:
            assert not shown.startswith(prefix), shown


@pytest.mark.parametrize("mode", MODES)
def test_annotations_point_at_the_model_entry_only_with_file_line(mode):
    """mikepenz and EnricoMi annotate testcase file/line; without them, a file named after the classname."""
    for r in (r for r in _recorded() if r["failed"]):
        mikepenz = _golden("mikepenz", mode)["tests"][r["case_id"]]["annotation"]
        enricomi = _golden("enricomi", mode)["tests"][r["case_id"]]["annotation"]
        dorny = _golden("dorny", mode)["tests"][r["case_id"]]["annotation"]
        if mode == "file-line":
            assert mikepenz == enricomi == {"path": r["config"], "line": r["line"]}
        else:
            assert mikepenz == {"path": r["model"], "line": 1}
            assert enricomi == {"path": f"fixture.{r['model']}", "line": 0}
        assert dorny == {"path": reports.MODES[mode][0], "line": 0}, "dorny reads Java stack frames only"


def _render_one(outcome: str, message: str, **fields) -> ET.Element:
    result = judged(outcome, message, **fields)
    root = ET.fromstring(render_junit(RunResult(results=[result], meta={}), file_line=False))
    return next(root.iter("testcase"))


def test_a_skip_carries_its_reason_as_text_too():
    skipped = _render_one(outcome=R.SKIP, message="no CUDA device").find("skipped")
    assert skipped.get("message") == skipped.text == "no CUDA device"
    flaky = _render_one(outcome=R.FLAKY, message="eager differs", details="run 1 vs 2").find("skipped")
    assert flaky.get("message") == "flaky: eager differs" and flaky.text == "flaky: eager differs\n\nrun 1 vs 2"


def test_an_error_names_its_phase_once():
    error = _render_one(outcome=R.ERROR, phase=R.CRASH, message="crash: killed by SIGSEGV",
                        details="crash: killed by SIGSEGV\n\nlast output").find("error")
    assert (error.get("type"), error.get("message")) == ("crash", "killed by SIGSEGV")
    assert error.text == "killed by SIGSEGV\nerror (phase crash)\n\nlast output"
    bare = _render_one(outcome=R.ERROR, phase=R.LOAD, message="load: ").find("error")
    assert bare.get("message") == "load: ", "a message that is only the phase is kept, not emptied"
