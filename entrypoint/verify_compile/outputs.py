"""Writing the report files a run asked for. Each is a pure rendering of the same results."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from verify_compile.reports.junit import render_junit
from verify_compile.reports.markdown import render_markdown
from verify_compile.results import dump_json


def write_reports(results: list, meta: dict, junit: Optional[str] = None, junit_file_line: bool = False,
                  json_path: Optional[str] = None, markdown: Optional[str] = None,
                  html: Optional[str] = None) -> None:
    if junit:
        _write(junit, render_junit(results, meta, file_line=junit_file_line))
    if json_path:
        _write(json_path, dump_json(results, meta))
    if markdown:
        _write(markdown, render_markdown(results, meta))
    if html:
        from verify_compile.reports.html import render_html

        _write(html, render_html(results, meta))


def _write(path: str, text: str) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)  # a reader never sees half a report
