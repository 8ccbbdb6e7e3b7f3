"""A Markdown summary (GitHub's step summary, a PR comment): a model x backend matrix, then each red case's
details in a collapsible block. Always under GitHub's 1 MiB step-summary limit."""

from __future__ import annotations

import html
from collections import OrderedDict

from verify_compile import results as R
from verify_compile.reports.terminal import totals_line
from verify_compile.results import CaseResult, RunResult

MARKS = {outcome: style.mark for outcome, style in R.OUTCOME_STYLES.items()}
LIMIT_BYTES = 1000 * 1024  # GitHub refuses a step summary over 1 MiB; keep a margin


def render_markdown(run: RunResult, limit: int = LIMIT_BYTES) -> str:
    """The first line says `passed` or `failed` as the exit code does; outcome marks stay per case."""
    results = sorted(run.results, key=lambda r: r.index)
    meta = run.meta or {}
    head = [f"## verify-compile: {_headline(run, results)}", "", _meta_line(meta), "", *_matrix(results), "",
            "Legend: " + ", ".join(f"{mark} {outcome}" for outcome, mark in MARKS.items()), ""]
    text = "\n".join(head)
    red = [r for r in results if r.outcome not in (R.PASS, R.SKIP)]
    if red:
        text += "\n### Details\n\n"
    for i, r in enumerate(red):
        block = _details(r)
        if len((text + block).encode("utf-8")) > limit - 200:
            text += f"\n_{len(red) - i} more case(s) left out to stay under GitHub's 1 MiB summary limit; " \
                    "see the JUnit or JSON report._\n"
            break
        text += block
    return text


def _headline(run: RunResult, results: list) -> str:
    mark = "❌" if run.conclusion == R.FAILED else "✅"
    return f"{mark} {run.conclusion}: " + totals_line(results)


def _meta_line(meta: dict) -> str:
    parts = [f"{k} `{str(meta[k]).replace('`', chr(39))}`" for k in ("torch", "device", "gpu", "python", "shard")
             if meta.get(k)]
    if meta.get("missing_shards"):  # merged without them: the matrix above is incomplete
        parts.append("**missing shards** `" + ", ".join(map(str, meta["missing_shards"])).replace("`", "'") + "`")
    return " · ".join(parts)


def _matrix(results: list) -> list:
    backends = list(OrderedDict.fromkeys(r.backend for r in results))
    models: OrderedDict = OrderedDict()
    for r in results:
        models.setdefault(r.model, {})[r.backend] = r
    lines = ["| model | " + " | ".join(_cell(b) for b in backends) + " |",
             "|---|" + "---|" * len(backends)]
    for model, row in models.items():
        cells = [_result_cell(row[b]) if b in row else "" for b in backends]
        lines.append(f"| {_cell(model)} | " + " | ".join(cells) + " |")
    return lines


def _result_cell(r: CaseResult) -> str:
    mark = MARKS.get(r.outcome, r.outcome)
    parts = [mark]
    if r.outcome == R.MISMATCH and r.mismatches:
        worst = r.mismatches[0]
        error = f" max err {worst.max_abs:.2g}" if isinstance(worst.max_abs, float) else f" {worst.kind}"
        parts.append(_cell(f"{worst.where}{error}"))
    elif r.outcome == R.ERROR:
        parts.append(_cell(r.phase or "error"))
    elif r.outcome not in (R.PASS,):
        parts.append(r.outcome)
    if r.baseline and r.baseline.get("status") != "unchanged":
        parts.append(f"_{r.baseline['status']}_")
    if r.compile_time:
        parts.append(f"{r.compile_time:.1f}s")
    if r.perf and r.perf.speedup:
        parts.append(f"{r.perf.speedup:.2f}x")
    return " ".join(parts)


def _details(r: CaseResult) -> str:
    mark = MARKS.get(r.outcome, "")
    summary = html.escape(f"{r.case_id}: {r.outcome}: {r.message}"[:300])
    body = r.details or r.message
    if r.baseline:
        body = f"baseline: {r.baseline.get('status')} (expected {r.baseline.get('expected')})\n\n" + body
    if r.bisect:
        body = f"bisect: {r.bisect.get('summary')}\n\n" + body
    if r.localization and r.localization.get("text"):  # first: the submodule and line where it starts
        body = f"{r.localization['text']}\n\n" + body
    if r.notes:  # e.g. the state an AOTInductor package owns and that could not be compared
        body += "\n\n" + "\n".join(f"note: {n}" for n in r.notes)
    if r.artifacts:
        body += "\n\nartifacts: " + ", ".join(r.artifacts)
    return f"<details><summary>{mark} {summary}</summary>\n\n{code_block(body[-20000:])}\n</details>\n\n"


def code_block(text: str) -> str:
    """A fenced text block that no backticks in `text` can close early."""
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}text\n{text}\n{fence}\n"


def _cell(text: str) -> str:
    """Outside text as a table cell: on one line, no raw HTML, no column break."""
    return html.escape(" ".join(str(text).split()), quote=False).replace("|", "\\|")
