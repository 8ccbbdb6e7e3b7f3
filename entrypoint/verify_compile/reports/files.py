"""Writing the report files a run asked for. Each is a pure rendering of the same results."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable, Optional

from verify_compile.errors import ConfigError
from verify_compile.reports.junit import render_junit
from verify_compile.reports.markdown import render_markdown
from verify_compile.results import RunResult, dump_json


def check_writable(option: str, path: Optional[str], folder: bool = False) -> None:
    """Fail before a run, not after it: `path` must be a file (or, with `folder`, a folder) we can create."""
    if not path:
        return
    p = Path(path)
    if p.exists() and p.is_dir() != folder:
        raise ConfigError(f"{option} {path}: is {'not ' if folder else ''}a directory",
                          hint="give a folder" if folder else "give a file path")
    ancestor = p.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir() or not os.access(ancestor, os.W_OK):
        raise ConfigError(f"{option} {path}: cannot create it under {ancestor}")


def write_reports(run: RunResult, junit: Optional[str] = None, junit_file_line: bool = False,
                  json_path: Optional[str] = None, markdown: Optional[str] = None,
                  html: Optional[str] = None) -> tuple:
    """Write every requested report from the one judgement; one that cannot be written never costs the others.
    Returns ({kind: path written}, [kinds that failed])."""
    def html_report() -> str:
        from verify_compile.reports.html import render_html

        return render_html(run)

    wanted = [("junit", junit, lambda: render_junit(run, file_line=junit_file_line)),
              ("json", json_path, lambda: dump_json(run)),
              ("markdown", markdown, lambda: render_markdown(run)),
              ("html", html, html_report)]
    written, failed = {}, []
    for kind, path, render in wanted:
        if path:
            if _write(path, render):
                written[kind] = path
            else:
                failed.append(kind)
    return written, failed


def _write(path: str, render: Callable[[], str]) -> bool:
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(render(), encoding="utf-8")
        tmp.replace(target)  # a reader never sees half a report
        return True
    except OSError as e:
        tmp.unlink(missing_ok=True)
        print(f"verify-compile: could not write {path}: {e.strerror or e}", file=sys.stderr)
        return False
