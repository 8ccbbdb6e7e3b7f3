"""Annotations on the configs' lines: every case that is not a pass gets one, at the level its verdict deserves,
within GitHub's per-step limits (it shows at most 10 annotations of each level per step)."""

from __future__ import annotations

import os
from typing import Callable, Optional

from verify_compile import results as R
from verify_compile.github.commands import MAX_ANNOTATIONS, command
from verify_compile.results import CaseResult

_QUIET = (R.SKIP, R.XFAIL)  # not run, or failing as expected: worth a notice, not a warning


def level_of(r: CaseResult) -> Optional[str]:
    """`error` for a case that fails the run; `warning` for a failure (or a flaky case) that `fail_on` leaves out;
    `notice` for a skip or an expected failure; None for a pass."""
    if r.failed:
        return "error"
    if r.outcome == R.PASS:
        return None
    return "notice" if r.outcome in _QUIET else "warning"


def annotate(results: list, workspace: str, emit: Callable[[str], None], limit: int = MAX_ANNOTATIONS) -> None:
    """At most `limit` annotations of each level, most severe cases first within a level, then one notice saying
    how many were left out."""
    shown = {"error": 0, "warning": 0, "notice": 0}
    left = dict(shown)
    ordered = sorted(results, key=lambda r: (R.OUTCOME_STYLES[r.outcome].severity, r.index))
    for r in ordered:
        level = level_of(r)
        if level is None:
            continue
        budget = limit - (1 if level == "notice" else 0)  # the notice of what was left out needs a place
        if shown[level] < budget:
            shown[level] += 1
            emit(annotation(r, level, workspace))
        else:
            left[level] += 1
    if any(left.values()):
        emit(command("notice", ", ".join(f"{n} more {level}(s)" for level, n in left.items() if n)
                     + f" not annotated (at most {limit} of each level per step); see the step summary",
                     title="verify-compile"))


def annotation(r: CaseResult, level: str, workspace: str) -> str:
    """`::error file=CONFIG,line=N,title=...::message`, pointing at the model's line in its config."""
    where = f" in {r.phase}" if r.outcome == R.ERROR and r.phase else ""
    return command(level, r.message or r.outcome, file=workspace_path(r.config, workspace), line=r.line or None,
                   title=f"verify-compile: {r.case_id} {r.outcome}{where}")


def workspace_path(path: str, workspace: str) -> str:
    """A config path as annotations want it: relative to the repository root (the workspace)."""
    absolute = os.path.abspath(path)  # a relative config path is relative to where the run started: the cwd
    try:
        relative = os.path.relpath(absolute, os.path.abspath(workspace))
    except ValueError:  # another drive
        return absolute
    return absolute if relative.startswith("..") else relative
