"""What each JUnit consumer shows of a report: junitparser as it is (it runs everywhere), and a small model of
each GitHub Action's parser, ported from its sources (file and function named in READS), for CI, where the
actions' sources cannot be fetched. real.py runs the actions themselves; update_golden.py refuses to write a
golden file where a model and its action disagree, so the models stay faithful.

Every view returns the same shape (a golden file's body):

    counts: passed, failed, errored (None where the consumer folds errors into failures), skipped
    tests:  {testcase name: {category, shows, annotation}}

`shows` is the reason text the consumer puts before a user for that test (None where it shows none), and
`annotation` the {path, line} of the GitHub annotation it makes for it (None where it makes none).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any, Iterable, Optional

READS = {
    "junitparser": "junitparser.JUnitXml.fromfile: per testcase `result` (Failure, Error, Skipped elements) with "
                   "their `message` attribute and `text`; file/line are read from the testcase attributes.",
    "enricomi": "python/publish/junit.py process_junit_xml_elems (junitparser; result = most severe element, "
                "message = its `message` attribute, content = its text, test_file/line = testcase file/line); "
                "python/publish/__init__.py get_case_annotation (failures and errors only: path = test_file or "
                "classname or '/', line = line or 0, raw_details = message unless the text starts with it, then "
                "text, system-out, system-err) and get_skipped_tests_list (skipped tests by name only).",
    "dorny": "src/parsers/java-junit/java-junit-parser.ts getTestCaseResult (failure or error -> failed, skipped "
             "-> skipped) and getTestCaseError (message = type + ': ' + `message` attribute, details = text; path "
             "and line only from Java stack frames 'at pkg.Class(File.java:N)' of tracked files; <skipped> is not "
             "read at all); src/report/get-report.ts getTestsReport (under each test: error.message, else the "
             "first line of details); src/report/get-annotations.ts getAnnotations (path = that path, else the "
             "report's own path; line = that line, else 0).",
    "mikepenz": "src/testParser.ts parseTestCases (failure or error -> failed unless skipped; <skipped> and its "
                "text are never read) and createTestCaseAnnotation (message = first issue's `message` attribute, "
                "else the first 2 lines of its text, else the test's name; raw details = text) with "
                "resolveFileAndLine (testcase file/line, else the classname's last dot-segment as the file name, "
                "a line found in the text, else 1) and resolvePath (an existing file, else the first "
                "'**/NAME.*' in the workspace, else NAME).",
}
CONSUMERS = tuple(READS)


def headline(text: Optional[str]) -> Optional[str]:
    """Text up to its first blank line: the reason a body starts with, without the diff or traceback after it."""
    if not text or not text.strip():
        return None
    return re.split(r"\n\s*\n", text.strip(), maxsplit=1)[0]


def entry(category: str, shows: Optional[str], annotation: Optional[dict] = None) -> dict:
    return {"category": category, "shows": shows, "annotation": annotation}


def _counts(tests: dict, errors_apart: bool) -> dict:
    def count(category: str) -> int:
        return sum(1 for t in tests.values() if t["category"] == category)
    return {"passed": count("passed"), "failed": count("failed"),
            "errored": count("errored") if errors_apart else None, "skipped": count("skipped")}


def view(tests: dict, errors_apart: bool) -> dict:
    return {"counts": _counts(tests, errors_apart), "tests": tests}


def _testcases(root: ET.Element) -> Iterable[tuple[ET.Element, ET.Element]]:
    for suite in root.iter("testsuite"):
        for case in suite.findall("testcase"):
            yield suite, case


def _location(case: ET.Element) -> Optional[dict]:
    return {"path": case.get("file"), "line": int(case.get("line"))} if case.get("file") else None


# junitparser: the real thing, everywhere.

def junitparser_view(xml_path: str) -> dict:
    from junitparser import Error, Failure, JUnitXml, Skipped

    kinds = ((Error, "errored"), (Failure, "failed"), (Skipped, "skipped"))
    tests = {}
    for suite in JUnitXml.fromfile(xml_path):
        for case in suite:
            result = case.result[0] if case.result else None
            category = next((name for kind, name in kinds if isinstance(result, kind)), "passed")
            shown = entry(category, result.message if result is not None else None, _location(case._elem))
            shown["text"] = headline(result.text) if result is not None else None  # what GitLab shows
            tests[case.name] = shown
    return view(tests, errors_apart=True)


# EnricoMi/publish-unit-test-result-action: its junit.py reads through junitparser too.

def _same_start(message: Optional[str], content: Optional[str]) -> bool:
    """publish/__init__.py message_is_contained_in_content."""
    if not (message and content):
        return False
    return re.sub(r"\s+", " ", content.strip()).startswith(re.sub(r"\s+", " ", message.strip()))


def _enricomi_entry(case: Any) -> dict:  # a junitparser TestCase
    result = case.result[0] if case.result else None
    tag = result._tag if result is not None else "success"
    category = {"success": "passed", "failure": "failed", "error": "errored"}.get(tag, "skipped")
    if category not in ("failed", "errored"):
        return entry(category, None)  # skipped tests are listed by name only
    message, content = result.message, result.text
    parts = ([] if _same_start(message, content) else [message]) + [content, case.system_out, case.system_err]
    raw_details = "\n".join(p.rstrip() for p in parts if p and p.rstrip())
    line = case._elem.get("line")
    return entry(category, headline(raw_details),
                  {"path": case._elem.get("file") or case.classname or "/", "line": int(line) if line else 0})


def enricomi_model(xml_path: str) -> dict:
    from junitparser import JUnitXml

    tests = {case.name: _enricomi_entry(case) for suite in JUnitXml.fromfile(xml_path) for case in suite}
    return view(tests, errors_apart=True)


# dorny/test-reporter, reporter java-junit (the README's set-up).

_JAVA_FRAME = re.compile(r"^\s*at (\S+/\S*/)?(.*)\((.*):(\d+)\)$")


def _dorny_entry(case: ET.Element, report: str) -> dict:
    issue = next(iter(case.findall("failure") or case.findall("error")), None)  # tc.failure ?? tc.error
    if issue is None:
        return entry("skipped" if case.find("skipped") is not None else "passed", None)
    message = issue.get("message")
    if issue.get("type"):
        message = f"{issue.get('type')}: {message}"
    details = issue.text or ""
    if message is None:
        message = next((line for line in details.splitlines() if line.strip()), None)
    # Python tracebacks hold no Java frame, so the annotation falls back to the report itself, line 0.
    assert not any(_JAVA_FRAME.match(line) for line in details.splitlines()), "model: a Java frame needs trackedFiles"
    return entry("failed", message, {"path": report, "line": 0})


def dorny_model(xml_path: str, report: str) -> dict:
    root = ET.parse(xml_path).getroot()
    return view({case.get("name").strip(): _dorny_entry(case, report) for _, case in _testcases(root)},
                errors_apart=False)


# mikepenz/action-junit-report, with include_passed so that every test gets an entry.

_EMOJI = re.compile("[\U0001f300-\U0001f5ff\U0001f900-\U0001f9ff\U0001f600-\U0001f64f\U0001f680-\U0001f6ff"
                    "\u2600-\u26ff\u2700-\u27bf\U0001f1e6-\U0001f1ff\U0001f191-\U0001f251\U0001f004\U0001f0cf"
                    "\U0001f170-\U0001f171\U0001f17e-\U0001f17f\U0001f18e\u3030\u2b50\u2b55\u2934-\u2935"
                    "\u2b05-\u2b07\u2b1b-\u2b1c\u3297\u3299\u303d\u00a9\u00ae\u2122\u23f3\u24c2\u23e9-\u23ef"
                    "\u25b6\u23f8-\u23fa]")


def _int(text: Optional[str]) -> Optional[int]:
    match = re.match(r"\s*[+-]?\d+", text or "")
    return int(match.group()) if match and int(match.group()) else None  # parseInt; 0 counts as absent


def _mikepenz_position(case: ET.Element, suite: ET.Element, issue: Optional[ET.Element], trace: str) -> tuple:
    """testParser.ts resolveFileAndLine, given testcase file/line, else the issue's, else the suite's."""
    def attr(key: str) -> Optional[str]:
        return case.get(key) or (issue.get(key) if issue is not None else None) or suite.get(key)
    name = attr("file") or (case.get("classname") or case.get("name")).split(".")[-1]
    line = _int(attr("line"))
    if name and line:
        return name, line
    pattern = " [^ ]*" + re.escape(name).replace("::", "/") + r".*?:\d+"
    matches = re.findall(pattern, trace)
    if not matches:
        return name, line or 1
    return name, _int(matches[-1].split(":")[-1]) or -1


def _mikepenz_path(name: str, workspace: list[str]) -> str:
    """testParser.ts resolvePath, in a workspace holding these files (paths relative to its root)."""
    if name in workspace:
        return name
    stem = name.removeprefix("./")
    glob = re.compile(r"(.*/)?" + re.escape(stem) + r"\.[^/]+")  # '**/STEM.*'
    found = [f for f in workspace if glob.fullmatch(f)]
    return found[0] if found else stem


def _mikepenz_entry(case: ET.Element, suite: ET.Element, workspace: list[str]) -> dict:
    issues = case.findall("failure") + case.findall("error")
    skip = case.find("skipped") is not None or case.get("status") in ("disabled", "ignored")
    issue = issues[0] if issues else None
    trace = (issue.text or "").strip() if issue is not None else ""
    message = ((issue.get("message") if issue is not None else None) or "\n".join(trace.split("\n")[:2])
               or case.get("name")).strip()
    category = "skipped" if skip else "failed" if issues else "passed"
    annotation = None
    if category == "failed":  # passed and skipped entries are notices, shown only with annotate_notice
        name, line = _mikepenz_position(case, suite, issue, trace)
        annotation = {"path": _mikepenz_path(name, workspace), "line": line}
    return entry(category, _EMOJI.sub("", message), annotation)


def mikepenz_model(xml_path: str, workspace: list[str]) -> dict:
    root = ET.parse(xml_path).getroot()
    return view({case.get("name"): _mikepenz_entry(case, suite, workspace) for suite, case in _testcases(root)},
                errors_apart=False)
