"""The fixture's two JUnit reports, rendered from its recorded results (results.json) by the current renderer."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from verify_compile.reports.junit import render_junit
from verify_compile.results import RunResult, load_json_results

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
RESULTS = HERE / "results.json"
GOLDEN = HERE / "golden"
# mode -> (report file, render_junit's file_line): the default report, and the strict schema's form
MODES = {"file-line": ("report.xml", True), "strict": ("report-strict.xml", False)}


def load_run() -> RunResult:
    """The recorded run, its config paths made absolute: the report names them relative to the repository
    whatever the working directory."""
    meta, results = load_json_results(RESULTS.read_text(encoding="utf-8"), str(RESULTS))
    results = [dataclasses.replace(r, config=str(REPO / r.config)) for r in results]
    return RunResult(results=results, meta=meta)


def render(mode: str) -> str:
    return render_junit(load_run(), file_line=MODES[mode][1], base_dir=str(REPO))


def report_path(mode: str) -> Path:
    return HERE / MODES[mode][0]


def comparable(xml_text: str) -> str:
    """The report minus what differs from machine to machine for the same results: the renderer's host name."""
    return re.sub(r' hostname="[^"]*"', "", xml_text)


def golden_path(consumer: str, mode: str) -> Path:
    return GOLDEN / f"{consumer}-{mode}.json"
