"""`verify-compile action`: the GitHub Action's entrypoint, run in the job's Python or inside the image.

It turns the `INPUT_*` variables into a run (or merge) request (github/inputs.py) and runs it in this process,
then tells the runner about the results: outputs in `$GITHUB_OUTPUT`, the Markdown
summary in `$GITHUB_STEP_SUMMARY`, and `::error` annotations on the failing models' lines in their configs.
Everything the run prints (progress, exception text, a model's own output) is fenced with `::stop-commands::`,
so no text the tool does not control can run as a workflow command. The exit code is the CLI's.
The same Markdown is always written to a file (output `summary_path`); inputs `summary` and `annotations` turn
the step summary and the annotations off.
"""

from __future__ import annotations

import os
import secrets
import shlex
import site
import subprocess
import sys
import sysconfig
import tempfile
import time
import traceback
from contextlib import contextmanager
from typing import Iterator, Mapping, Optional

from verify_compile import app
from verify_compile import results as R
from verify_compile.errors import USAGE_EXIT, ConfigError
from verify_compile.github import annotations
from verify_compile.github.commands import (
    MAX_ANNOTATIONS,
    append_file,
    command,
    fence,
    format_outputs,
    parse_bool,
    read_input,
    stop_token,
)
from verify_compile.github.inputs import build_request, describe
from verify_compile.orchestration.signals import StopSignals
from verify_compile.reports import sanitize
from verify_compile.reports.markdown import LIMIT_BYTES, code_block, render_markdown
from verify_compile.requests import Request
from verify_compile.results import CaseResult, RunResult


def main(argv: list[str]) -> int:
    """The action, from inputs to outputs. A cancelled job's SIGINT/SIGTERM (any number of them) stops the cases
    only: the reports, the summary and the outputs are still written, and the exit code is 128 + the signal."""
    with StopSignals() as signals:
        code = _main(argv, signals)
    return 128 + signals.signum if signals.signum and code < 128 else code


def _main(argv: list[str], signals: StopSignals) -> int:
    env = os.environ
    try:
        request = build_request(env, argv)
        show_summary = parse_bool(read_input(env, "summary", "true"), "summary")
        annotate = parse_bool(read_input(env, "annotations", "true"), "annotations")
        limit = parse_limit(read_input(env, "annotations_limit", str(MAX_ANNOTATIONS)))
    except (ValueError, ConfigError) as e:  # nothing ran: the outputs and the summary still say so
        _emit(command("error", str(e), title="verify-compile: bad action input"))
        summary = (f"## verify-compile: nothing was run\n\nExit code {USAGE_EXIT}; an input of the action is wrong:\n\n"
                   + code_block(sanitize.text(e)))
        _publish(env, None, 0.0, summary, read_input(env, "summary", "true").lower() != "false")
        return USAGE_EXIT
    start = time.monotonic()
    with fenced_log():
        code = _install(read_input(env, "extra_requirements"))
        done = _execute(request, signals) if code == 0 else app.Completed(code)
    code, run, problems = done.exit_code, done.run, done.problems
    seconds = time.monotonic() - start
    workspace = env.get("GITHUB_WORKSPACE") or os.getcwd()
    if run is None:
        summary = _nothing_ran(code, problems, workspace, annotate)
    else:
        print_failures(run.results, workspace, annotate, limit)
        summary = render_markdown(run) + "\n"
    if not _publish(env, run, seconds, summary, show_summary) and code == 0:
        return 1  # later steps read the outputs: a step that could not give them has not done its job
    return code


def _publish(env: Mapping[str, str], run: Optional[RunResult], seconds: float, summary: str,
             show_summary: bool) -> bool:
    """The summary (a file, and the step summary unless it is off) and the step's outputs; False when a runner
    file could not be written (said in the log: the reports are written already)."""
    summary_path = write_summary(env, summary)
    written = True
    files = [("GITHUB_STEP_SUMMARY", summary)] if show_summary else []
    files.append(("GITHUB_OUTPUT", format_outputs(outputs(run, seconds, summary_path))))
    for name, text in files:
        try:
            append_file(env.get(name), text)
        except OSError as e:
            written = False
            _emit(command("error", f"cannot write ${name} ({env.get(name)}): {e.strerror or e}; the reports "
                                   "were written", title="verify-compile"))
    return written


def _nothing_ran(code: int, problems: list, workspace: str, annotate: bool) -> str:
    """Annotations for a run that stopped before any case ran, and its summary's text."""
    for problem in problems[:MAX_ANNOTATIONS] if annotate else ():  # each problem on its own line of its file
        _emit(command("error", problem.message + (f" ({problem.hint})" if problem.hint else ""),
                      file=annotations.workspace_path(problem.file, workspace) if problem.file else None,
                      line=problem.line, title="verify-compile: configuration"))
    if annotate and not problems:
        _emit(command("error", f"verify-compile stopped before any case ran (exit code {code}); see the log "
                      "above", title="verify-compile"))
    why = "; the step's log says why.\n"
    if problems:
        why = "; the configuration has problems:\n\n" + code_block(_capped([str(p) for p in problems]))
    return f"## verify-compile: nothing was run\n\nExit code {code}{why}"


def write_summary(env: Mapping[str, str], text: str) -> str:
    """The summary's Markdown in a file on the runner (output `summary_path`): where action.yml says (a folder it
    mounts in docker mode), else in the runner's temp folder. Empty when it cannot be written."""
    path = env.get("VC_SUMMARY_PATH") or os.path.join(
        env.get("RUNNER_TEMP") or tempfile.gettempdir(), f"verify-compile-summary-{secrets.token_hex(4)}.md")
    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        _emit(command("warning", f"could not write the summary file {path}: {e.strerror or e}",
                      title="verify-compile"))
        return ""
    return path


def _capped(lines: list, limit: int = LIMIT_BYTES - 4096) -> str:
    """As many lines as fit under GitHub's 1 MiB step-summary limit, and how many were left out."""
    kept, size = [], 0
    for line in lines:
        size += len(line.encode("utf-8", "replace")) + 1
        if size > limit:
            kept.append(f"... {len(lines) - len(kept)} more problem(s) left out to stay under GitHub's 1 MiB "
                        "summary limit; the step's log lists them all")
            break
        kept.append(line)
    return "\n".join(kept)


@contextmanager
def fenced_log() -> Iterator[None]:
    """Stop workflow commands for everything printed inside, by this process or its children.

    stderr is pointed at stdout at the descriptor level for the duration: the runner reads the two pipes
    separately, so only one stream keeps the fence lines in order around the text they fence."""
    token = stop_token()
    sys.stderr.flush()
    _emit(f"::stop-commands::{token}")
    saved = os.dup(2)
    os.dup2(1, 2)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        _emit(f"::{token}::")


def _execute(request: Request, signals: StopSignals) -> app.Completed:
    """Run the request in this process, inside the fence."""
    print("verify-compile: " + sanitize.text(describe(request)), flush=True)  # paths from inputs: any bytes
    try:
        return app.execute(request, signals)
    except Exception:  # a bug: its traceback may quote user text, so print it here, inside the fence
        traceback.print_exc()
        return app.Completed(1)


def _install(requirements: str) -> int:
    """pip-install the user's extra requirements (`-r file`, package specs) into this Python. Where its
    site-packages is read-only (the image run as the runner's uid), they go to the user site, which the
    workers, being fresh interpreters, see."""
    if not requirements:
        return 0
    user = sys.prefix == sys.base_prefix and not os.access(sysconfig.get_paths()["purelib"], os.W_OK)
    cmd = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off",
           *(["--user"] if user else []), *shlex.split(requirements)]
    print("extra requirements: " + shlex.join(cmd[1:]), flush=True)
    code = subprocess.call(cmd)
    if user:
        site.addsitedir(site.getusersitepackages())
    if code:
        print(f"verify-compile: installing extra_requirements failed (pip exit code {code})", flush=True)
        return USAGE_EXIT
    return 0


def parse_limit(text: str) -> int:
    """Input `annotations_limit`: how many annotations of each level, 0 to GitHub's 10."""
    if not text.isdigit() or not 0 <= int(text) <= MAX_ANNOTATIONS:
        raise ValueError(f"input 'annotations_limit' must be a whole number from 0 to {MAX_ANNOTATIONS} (GitHub "
                         f"shows no more per step), not '{text}'")
    return int(text)


def print_failures(results: list, workspace: str, annotate: bool = True, limit: int = MAX_ANNOTATIONS) -> None:
    """Each case that is not a pass (and not a mere skip) in a collapsed, fenced log group with its details;
    then, unless `annotate` is off, annotations on the configs (github/annotations.py)."""
    for r in results:
        if r.outcome not in (R.PASS, R.SKIP) or r.failed:
            _emit(command("group", f"{r.case_id}: {r.outcome}"))
            sys.stdout.write(fence(_detail_text(r)))
            _emit(command("endgroup"))
    if annotate:
        annotations.annotate(results, workspace, _emit, limit)


def outputs(run: Optional[RunResult], seconds: float = 0.0, summary_path: str = "") -> dict:
    """The step's outputs: one count per outcome, adding up to `total` (a case stopped by a signal counts as
    `interrupted`, not `errored`), and the paths of the reports this run wrote (never a stale file). A run that
    stopped before any case ran has failed."""
    results = run.results if run else []
    interrupted = sum(1 for r in results if r.observation.interrupted)
    c = R.counts(results)
    reports = run.reports if run else {}
    return {"conclusion": run.conclusion if run else R.FAILED, "time": f"{seconds:.1f}", "summary_path": summary_path,
            "junit_path": reports.get("junit", ""), "json_path": reports.get("json", ""),
            "markdown_path": reports.get("markdown", ""), "html_path": reports.get("html", ""),
            "total": len(results), **{name: c[outcome] for name, outcome in COUNTS.items()},
            "errored": c[R.ERROR] - interrupted, "interrupted": interrupted,
            "failed": len(run.failed) if run else 0}


# Output name -> the outcome it counts ("errored" and "interrupted" split the errors).
COUNTS = {"passed": R.PASS, "mismatched": R.MISMATCH, "skipped": R.SKIP, "flaky": R.FLAKY, "xfailed": R.XFAIL,
          "xpassed": R.XPASS, "gated": R.GATE}


def _detail_text(r: CaseResult) -> str:
    text = f"{r.case_id}: {r.outcome}" + (f" ({r.phase})" if r.phase else "") + f"\n{r.message}\n"
    if r.details and r.details != r.message:
        text += f"\n{r.details}\n"
    if r.captured:
        text += f"\ncaptured output:\n{r.captured}\n"
    return text


def _emit(line: str) -> None:
    print(line, flush=True)
