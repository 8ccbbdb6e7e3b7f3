"""The fixture's two JUnit reports, rendered from its recorded results (results.json) by the current renderer."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

from verify_compile.judgement.judge import conclude, judge_case
from verify_compile.records import load_json_results
from verify_compile.reports.junit import render_junit
from verify_compile.results import RunResult

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
RESULTS = HERE / "results.json"
GOLDEN = HERE / "golden"
# mode -> (report file, render_junit's file_line): the default report, and the strict schema's form
MODES = {"file-line": ("report.xml", True), "strict": ("report-strict.xml", False)}


def load_run() -> RunResult:
    """The recorded run, judged again as `merge` would, its config paths made absolute: the report names them
    relative to the repository whatever the working directory."""
    text = RESULTS.read_text(encoding="utf-8")
    meta, records = load_json_results(text, str(RESULTS))
    fail_on = tuple(json.loads(text)["fail_on"])
    results = [judge_case(dataclasses.replace(o, config=str(REPO / o.config)), e, None, fail_on) for o, e in records]
    return conclude(results, meta, fail_on)


def render(mode: str) -> str:
    return render_junit(load_run(), file_line=MODES[mode][1], base_dir=str(REPO))


def report_path(mode: str) -> Path:
    return HERE / MODES[mode][0]


def comparable(xml_text: str) -> str:
    """The report minus what differs from machine to machine for the same results: the renderer's host name."""
    return re.sub(r' hostname="[^"]*"', "", xml_text)


def golden_path(consumer: str, mode: str) -> Path:
    return GOLDEN / f"{consumer}-{mode}.json"
