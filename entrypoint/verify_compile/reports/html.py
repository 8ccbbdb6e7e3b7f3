"""A self-contained HTML report: one page with the run's totals, a sortable and filterable table of cases, and
each case's located diff, traceback, compile health, speed and captured output.

Kept readable as a downloaded CI artifact: inline CSS and JS only, no network, and a Content-Security-Policy
that allows nothing but this module's own style and script (by hash), so text that slipped past escaping still
could not run or load anything. Without JS every case's details are shown; printing expands the failures.
"""

from __future__ import annotations

import base64
import hashlib
import html
import math
import urllib.parse
from pathlib import Path
from typing import Any, Optional

from verify_compile import results as R
from verify_compile.reports.junit import clean
from verify_compile.reports.terminal import totals_line
from verify_compile.results import CaseResult, Mismatch, RunResult, counts

# Most severe first: sorting the outcome column puts what needs attention on top.
_SEVERITY = tuple(sorted(R.OUTCOME_STYLES, key=lambda o: R.OUTCOME_STYLES[o].severity))
_META_KEYS = ("torch", "device", "gpu", "cuda_version", "python", "shard", "workers", "started", "finished",
              "verify_compile")
_COLUMNS = ("#", "case", "model", "backend", "outcome", "time s", "compile s", "graphs", "breaks", "recompiles",
            "speedup", "eager ms", "compiled ms", "worst error")
_NUMERIC = {"#", "time s", "compile s", "graphs", "breaks", "recompiles", "speedup", "eager ms", "compiled ms"}
_TEXT = object()  # a cell sorted by its text
_MAX_TEXT = 100_000  # per text block: a runaway traceback or print loop must not make the page unusable
_OPEN_LIMIT = 8  # a run with this few failures opens them all; more would bury the table

_CSS = """
:root{--fg:#1f2328;--dim:#59636e;--line:#d1d9e0;--bg:#fff;--soft:#f6f8fa;--pass:#1a7f37;--mismatch:#cf222e;
--error:#8250df;--xpass:#bc4c00;--gate:#9a6700;--flaky:#b08800;--xfail:#0969da;--skip:#6e7781}
*{box-sizing:border-box}
body{margin:0;padding:20px 24px;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);
background:var(--bg)}
h1{font-size:22px;margin:0 0 4px;display:flex;gap:12px;align-items:center}
h3{font-size:13px;margin:0 0 6px;text-transform:uppercase;letter-spacing:.04em;color:var(--dim)}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.status{font-size:13px;padding:2px 10px;border-radius:12px;color:#fff}
.status.red{background:var(--mismatch)}.status.green{background:var(--pass)}
.totals{font-size:15px;margin:2px 0 12px}
.meta{display:flex;flex-wrap:wrap;gap:4px 22px;margin:0 0 14px;color:var(--dim)}
.meta div{display:flex;gap:6px}.meta dt{font-weight:600}.meta dd{margin:0;color:var(--fg)}
svg.bar{display:block;width:100%;height:8px;border-radius:4px;margin:0 0 14px;background:var(--soft)}
.controls{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin:0 0 10px}
.controls input{font:inherit;padding:3px 8px;border:1px solid var(--line);border-radius:6px;width:240px}
.controls .sep{flex:1}
button{font:inherit;cursor:pointer}
.controls button{border:1px solid var(--line);background:var(--soft);border-radius:14px;padding:2px 10px}
.chip[aria-pressed=false]{opacity:.45;text-decoration:line-through}
#shown{color:var(--dim)}
table.cases{border-collapse:collapse;width:100%;font-size:13px}
.cases th{position:sticky;top:0;background:var(--soft);border-bottom:2px solid var(--line);text-align:left;
padding:0;vertical-align:bottom}
.cases th button{border:0;background:none;padding:6px;font-weight:600;width:100%;text-align:inherit}
.cases th[aria-sort=ascending] button::after{content:" \\25B2"}
.cases th[aria-sort=descending] button::after{content:" \\25BC"}
.cases td{padding:5px 6px;border-bottom:1px solid var(--line);vertical-align:top}
.cases td.n,.cases th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.cases td.worst{min-width:14em;word-break:break-word}
@media (max-width:1250px){.cases .mb{display:none}.cases td.worst{min-width:9em}}
tr.row{cursor:pointer}tr.row:hover{background:var(--soft)}
tbody.fail tr.row td:first-child{box-shadow:inset 3px 0 var(--mismatch)}
.tog{border:0;background:none;padding:0;color:var(--xfail);font-weight:600;text-align:left}
.tog::before{content:"\\25B8 ";color:var(--dim)}tbody.open .tog::before{content:"\\25BE "}
.js tbody:not(.open) tr.more{display:none}
tr.more>td{background:var(--soft);padding:12px 16px 16px 28px}
.badge{display:inline-block;padding:0 8px;border-radius:10px;color:#fff;font-size:12px;font-weight:600;
text-transform:uppercase;letter-spacing:.03em;background:var(--skip)}
.tag{display:inline-block;margin-left:4px;padding:0 6px;border:1px solid currentColor;border-radius:8px;
font-size:11px}
.o-pass{background:var(--pass)}.o-mismatch{background:var(--mismatch)}.o-error{background:var(--error)}
.o-xpass{background:var(--xpass)}.o-gate{background:var(--gate)}.o-flaky{background:var(--flaky)}
.o-xfail{background:var(--xfail)}.o-skip{background:var(--skip)}
.f-pass{fill:var(--pass)}.f-mismatch{fill:var(--mismatch)}.f-error{fill:var(--error)}.f-xpass{fill:var(--xpass)}
.f-gate{fill:var(--gate)}.f-flaky{fill:var(--flaky)}.f-xfail{fill:var(--xfail)}.f-skip{fill:var(--skip)}
.b-regressed{color:var(--mismatch)}.b-improved{color:var(--xpass)}.b-new{color:var(--xfail)}
.b-unchanged{color:var(--dim)}
.warn{color:var(--xpass);font-weight:600}.good{color:var(--pass)}.dim{color:var(--dim)}
.facts{margin:0 0 10px;color:var(--dim)}
.msg{margin:0 0 4px;font-weight:600;white-space:pre-wrap;word-break:break-word}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(280px,1fr));gap:12px;align-items:start}
.grid section{background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:10px 12px;min-width:0}
.grid section.wide{grid-column:1/-1}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:0}dl.kv dt{color:var(--dim)}
dl.kv dd{margin:0;word-break:break-word}
table.diff{border-collapse:collapse;margin:0 0 8px;font-size:12.5px}
table.diff th,table.diff td{border:1px solid var(--line);padding:3px 8px;text-align:left;vertical-align:top}
table.diff th{background:var(--soft)}
pre{margin:0;padding:8px 10px;background:var(--soft);border-radius:4px;white-space:pre-wrap;word-break:break-all;
max-height:420px;overflow:auto}
ol,ul{margin:4px 0;padding-left:20px}li{word-break:break-word}
footer{margin-top:18px;color:var(--dim);font-size:12px}
@media print{body{padding:0;font-size:11px}.controls{display:none}.cases th{position:static}
.js tbody.fail tr.more{display:table-row}pre{max-height:none}tr.row{break-inside:avoid}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
"""

_JS = """
"use strict";
document.documentElement.classList.add("js");
document.addEventListener("DOMContentLoaded", () => {
  const table = document.getElementById("cases"), heads = Array.from(table.tHead.rows[0].cells);
  const cases = () => Array.from(table.tBodies), hidden = new Set(), search = document.getElementById("search");
  const key = (tb, i) => {
    const cell = tb.rows[0].cells[i], k = cell.dataset.k;
    if (k === undefined) return cell.textContent.trim().toLowerCase();
    return k === "" ? null : parseFloat(k);
  };
  const order = (x, y) => typeof x === "string" ? x.localeCompare(y, undefined, {numeric: true})
    : x < y ? -1 : +(x > y);
  heads.forEach((th, i) => th.querySelector("button").addEventListener("click", () => {
    const dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    heads.forEach(h => h.removeAttribute("aria-sort"));
    th.setAttribute("aria-sort", dir > 0 ? "ascending" : "descending");
    cases().sort((a, b) => {
      const x = key(a, i), y = key(b, i), tie = a.dataset.i - b.dataset.i;
      if (x === null || y === null) return (x === null) - (y === null) || tie;  // blanks last either way
      return order(x, y) * dir || tie;
    }).forEach(tb => table.appendChild(tb));
  }));
  const setOpen = (tb, open) => {
    tb.classList.toggle("open", open);
    tb.querySelector(".tog").setAttribute("aria-expanded", String(open));
  };
  table.addEventListener("click", ev => {
    const row = ev.target.closest("tr.row");
    if (row && !ev.target.closest("a") && window.getSelection().isCollapsed) {
      setOpen(row.parentElement, !row.parentElement.classList.contains("open"));
    }
  });
  const filter = () => {
    const q = search.value.trim().toLowerCase();
    let shown = 0;
    cases().forEach(tb => {
      tb.hidden = hidden.has(tb.dataset.outcome) || (q !== "" && !tb.rows[0].textContent.toLowerCase().includes(q));
      shown += !tb.hidden;
    });
    document.getElementById("shown").textContent = shown + " of " + table.tBodies.length + " shown";
  };
  document.querySelectorAll("button.chip").forEach(chip => chip.addEventListener("click", () => {
    const outcome = chip.dataset.outcome, off = !hidden.has(outcome);
    off ? hidden.add(outcome) : hidden.delete(outcome);
    chip.setAttribute("aria-pressed", String(!off));
    filter();
  }));
  search.addEventListener("input", filter);
  document.getElementById("expand").addEventListener("click", () => cases().forEach(tb => setOpen(tb, true)));
  document.getElementById("collapse").addEventListener("click", () => cases().forEach(tb => setOpen(tb, false)));
  const openHash = () => {
    const el = location.hash && document.getElementById(decodeURIComponent(location.hash.slice(1)));
    if (el && el.tagName === "TBODY") { setOpen(el, true); el.scrollIntoView(); }
  };
  window.addEventListener("hashchange", openHash);
  openHash();
  filter();
});
"""


def _sha(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


_CSP = (f"default-src 'none'; style-src {_sha(_CSS)}; script-src {_sha(_JS)}; img-src data:; base-uri 'none'; "
        "form-action 'none'")


def _e(value: Any) -> str:
    """Untrusted text as HTML: control characters and ANSI colours gone, markup escaped."""
    return html.escape(clean(str(value)))


def render_html(run: RunResult) -> str:
    """The page's title and status say `passed` or `failed` as the exit code does."""
    results = sorted(run.results, key=lambda r: r.index)
    meta = run.meta or {}
    failed = run.conclusion == R.FAILED
    open_failed = len(run.failed) <= _OPEN_LIMIT
    status = f'<span class="status {"red" if failed else "green"}">{run.conclusion.upper()}</span>'
    meta_items = "".join(f"<div><dt>{_e(k)}</dt><dd>{_e(meta[k])}</dd></div>" for k in _META_KEYS
                         if meta.get(k) not in (None, ""))
    c = {o: n for o, n in counts(results).items() if n}
    chips = "".join(f'<button type="button" class="chip" data-outcome="{_e(o)}" aria-pressed="true">'
                    f'<span class="badge o-{_e(o)}">{_e(o)}</span> {n}</button>' for o, n in c.items())
    heads = "".join(f'<th class="{"n" if h in _NUMERIC else "mb" if h in ("model", "backend") else ""}">'
                    f'<button type="button">{_e(h)}</button></th>' for h in _COLUMNS)
    body = "".join(_case(r, open_failed and r.failed) for r in results)
    total = sum(r.duration for r in results)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>verify-compile {run.conclusion}: {_e(totals_line(results))}</title>
<style>{_CSS}</style>
<script>{_JS}</script>
</head><body>
<header>
<h1>verify-compile {status}</h1>
<p class="totals">{_e(totals_line(results))} &middot; {total:.1f} s in cases</p>
<dl class="meta">{meta_items}</dl>
{_bar(c, len(results))}
</header>
<div class="controls">{chips}<input id="search" type="search" placeholder="filter by text" aria-label="filter cases">
<span id="shown"></span><span class="sep"></span>
<button type="button" id="expand">expand all</button><button type="button" id="collapse">collapse all</button></div>
<table class="cases" id="cases"><thead><tr>{heads}</tr></thead>
{body}
</table>
<footer>verify-compile {_e(meta.get("verify_compile", ""))} &middot; self-contained report, no network needed &middot;
click a row for its details, a column header to sort; link to a case with #case-N</footer>
</body></html>
"""


def _bar(c: dict, total: int) -> str:
    if not total:
        return ""
    x, rects = 0.0, []
    for outcome in _SEVERITY:
        if c.get(outcome):
            width = 100.0 * c[outcome] / total
            rects.append(f'<rect class="f-{outcome}" x="{x:.3f}%" y="0" width="{width:.3f}%" height="100%">'
                         f"<title>{c[outcome]} {outcome}</title></rect>")
            x += width
    return f'<svg class="bar" role="img" aria-label="outcomes">{"".join(rects)}</svg>'


def _case(r: CaseResult, open_: bool) -> str:
    h, p = r.health, r.perf
    worst = _worst(r.mismatches)
    if worst is not None:
        worst_cell = _cell(f"{_num(worst.max_abs, '.3g')} abs, {_num(worst.max_rel, '.3g')} rel at {worst.where}"
                           if worst.max_abs is not None else f"{worst.kind} at {worst.where}",
                           math.inf if worst.max_abs is None else worst.max_abs, cls="worst")
    else:
        text = r.message if not r.phase or r.message.startswith(r.phase) else f"{r.phase}: {r.message}"
        worst_cell = _cell(_short(text, 100) if r.outcome != R.PASS else "", None, cls="worst dim")
    outcome = f'<span class="badge o-{_e(r.outcome)}">{_e(r.outcome)}</span>'
    if r.baseline and r.baseline.get("status"):
        status = str(r.baseline["status"])
        outcome += f'<span class="tag b-{_e(status)}">{_e(status)}</span>'
    speed = p.speedup if p else None
    cells = [
        _cell(r.index + 1, r.index),
        f'<td><button type="button" class="tog mono" aria-expanded="{str(open_).lower()}">{_e(r.case_id)}</button>'
        "</td>",
        _cell(r.model, cls="mb"), _cell(r.backend, cls="mb"),  # sorted by text
        f'<td class="outcome" data-k="{_SEVERITY.index(r.outcome) if r.outcome in _SEVERITY else 99}">{outcome}</td>',
        _cell(f"{r.duration:.2f}", r.duration),
        _cell(_opt(r.compile_time, ".2f"), r.compile_time),
        _cell(h.graphs if h else "", h.graphs if h else None),
        _cell(h.graph_breaks if h else "", h.graph_breaks if h else None, "n warn" if h and h.graph_breaks else "n"),
        _cell(h.recompiles if h else "", h.recompiles if h else None, "n warn" if h and h.recompiles else "n"),
        _cell(_opt(speed, ".2f", "\u00d7"), speed, "n" if speed is None else "n good" if speed >= 1 else "n warn"),
        _cell(_opt(p and p.eager_ms, ".3g"), p and p.eager_ms),
        _cell(_opt(p and p.compiled_ms, ".3g"), p and p.compiled_ms),
        worst_cell,
    ]
    classes = " ".join(c for c in ("fail" if r.failed else "", "open" if open_ else "") if c)
    return (f'<tbody id="case-{r.index + 1}" class="{classes}" data-i="{r.index}" data-outcome="{_e(r.outcome)}">'
            f'<tr class="row">{"".join(cells)}</tr>'
            f'<tr class="more"><td colspan="{len(_COLUMNS)}">{_details(r)}</td></tr></tbody>\n')


def _details(r: CaseResult) -> str:
    anchor = f"case-{r.index + 1}"
    facts = [f"{r.config}:{r.line}" if r.config else "", r.device, r.dtype,
             f"{r.input_sets} input set(s)" if r.input_sets else "", f"phase {r.phase}" if r.phase else ""]
    head = (f'<p class="msg">{_e(r.message)}</p>' if r.message else "") + '<p class="facts">' + " &middot; ".join(
        _e(f) for f in facts if f) + f' &middot; <a href="#{anchor}">#{anchor}</a></p>'
    cards = []
    if r.localization:  # first: the submodule and the line where the mismatch starts
        head += f'<p class="msg">localized: {_e(r.localization.get("summary", ""))}</p>'
        cards.append(_card("Localization", _pre(r.localization.get("text", "")), wide=True))
    if r.mismatches:
        cards.append(_card("Located diff", _diff_table(r.mismatches) + _pre(r.details), wide=True))
    elif r.details:
        title = f"Error in phase {r.phase}" if r.outcome == R.ERROR and r.phase else "Details"
        cards.append(_card(title, _pre(r.details), wide=True))
    if r.expectation.xfail:
        xfail = r.expectation.xfail
        cards.append(_card("Expected failure", f"<p>{_e(xfail.reason)} (expects {_e(' or '.join(xfail.outcomes))})"
                                                "</p>"))
    if r.health:
        cards.append(_health_card(r.health))
    if r.perf or r.compile_time is not None or r.cache:
        cards.append(_speed_card(r))
    if r.baseline:
        shown = {"status": r.baseline.get("status"), "expected": r.baseline.get("expected"),
                 "this run": r.baseline.get("actual")}
        cards.append(_card("Baseline", _kv([(k, v) for k, v in shown.items() if v is not None])))
    if r.bisect:
        rest = [(k, v) for k, v in r.bisect.items() if k != "summary"]
        cards.append(_card("Bisect", f'<p class="msg">{_e(r.bisect.get("summary", ""))}</p>' + _kv(rest)))
    if r.notes:
        cards.append(_card("Notes", _list("", r.notes)))
    if r.artifacts:
        links = "".join(f'<li><a href="{_href(a)}">{_e(a)}</a></li>' for a in r.artifacts)
        cards.append(_card("Artifacts", f"<ul>{links}</ul>"))
    if r.captured:
        cards.append(_card("Captured output", _pre(r.captured), wide=True))
    return head + f'<div class="grid">{"".join(cards)}</div>'


def _health_card(h: Any) -> str:
    return _card("Compile health", _kv([("graphs", h.graphs), ("graph breaks", h.graph_breaks),
                                        ("recompiles", h.recompiles), ("fallbacks", h.fallbacks)])
                 + _list("graph break reasons", h.break_reasons, ordered=True)
                 + _list("recompile reasons", h.recompile_reasons, ordered=True))


def _speed_card(r: CaseResult) -> str:
    p = r.perf
    return _card("Speed", _kv([
        ("compile time", _opt(r.compile_time, ".3f", " s")), ("eager", _opt(p and p.eager_ms, ".4g", " ms")),
        ("compiled", _opt(p and p.compiled_ms, ".4g", " ms")), ("speedup", _opt(p and p.speedup, ".2f", "\u00d7")),
        ("peak memory", _opt(p and p.peak_memory_mb, ".1f", " MB")),
        ("compile cache", ", ".join(f"{v} {k}" for k, v in r.cache.items()) if r.cache else None)]))


def _diff_table(mismatches: list) -> str:
    head = ("where", "kind", "input set", "bad / numel", "max abs", "max rel", "worst index", "eager", "compiled",
            "tolerance")
    rows = []
    for m in mismatches:
        share = f"{m.n_bad} / {m.numel}" + (f" ({100.0 * m.n_bad / m.numel:.3g}%)" if m.numel else "")
        tol = "exact" if m.atol is None and m.rtol is None else f"atol {_num(m.atol)}, rtol {_num(m.rtol)}"
        index = "-" if m.worst_index is None else "(scalar)" if not m.worst_index else str(list(m.worst_index))
        cells = (m.where, m.kind, m.input_set or "-", share if m.numel else "-", _num(m.max_abs), _num(m.max_rel),
                 index, _num(m.expected), _num(m.actual), tol)
        # The title carries the engine's one-line summary; the full located diff follows the table.
        cells_html = "".join(f'<td class="mono">{_e(v)}</td>' for v in cells)
        rows.append(f'<tr title="{_e(m.summary)}">{cells_html}</tr>')
    return ('<table class="diff"><thead><tr>' + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


def _worst(mismatches: list) -> Optional[Mismatch]:
    """The mismatch to show in the table: a structural one (no error size) first, then the largest error."""
    return max(mismatches, key=lambda m: math.inf if m.max_abs is None else _float(m.max_abs), default=None)


def _float(value: Any) -> float:
    """An error size as a number; NaN/inf arrive as the strings "nan", "inf", "-inf"."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.inf  # unreadable: rank it with the worst rather than hide it
    return math.inf if math.isnan(number) else number  # a NaN error is as bad as it gets


def _key(value: Any) -> str:
    """A sort key JS's parseFloat reads: it knows "Infinity", not Python's "inf"."""
    if value is None:
        return ""
    number = _float(value)
    return "Infinity" if number == math.inf else "-Infinity" if number == -math.inf else repr(number)


def _num(value: Any, spec: str = ".6g") -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:{spec}}"
    return str(value)


def _opt(value: Optional[float], spec: str, unit: str = "") -> str:
    return "" if value is None else f"{value:{spec}}{unit}"


def _cell(text: Any, key: Any = _TEXT, cls: str = "n") -> str:
    """A table cell; one with a key (blank when None) sorts as a number, one without as its text."""
    attrs = (f' class="{cls}"' if cls else "") + ("" if key is _TEXT else f' data-k="{_key(key)}"')
    return f"<td{attrs}>{_e(text)}</td>"


def _card(title: str, body: str, wide: bool = False) -> str:
    return f'<section{" class=wide" if wide else ""}><h3>{_e(title)}</h3>{body}</section>'


def _kv(pairs: list) -> str:
    items = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in pairs if v not in (None, ""))
    return f'<dl class="kv">{items}</dl>' if items else ""


def _list(title: str, items: list, ordered: bool = False) -> str:
    if not items:
        return ""
    tag = "ol" if ordered else "ul"
    head = f'<p class="dim">{_e(title)}</p>' if title else ""
    return head + f"<{tag}>" + "".join(f"<li>{_e(i)}</li>" for i in items) + f"</{tag}>"


def _pre(text: str) -> str:
    if len(text) > _MAX_TEXT:
        text = f"[{len(text) - _MAX_TEXT} earlier characters left out]\n" + text[-_MAX_TEXT:]
    return f"<pre>{_e(text)}</pre>"


def _href(path: str) -> str:
    # An absolute path becomes a file: URI; a relative one stays relative to the report, with ':' quoted so
    # that a path like "javascript:..." can never become a scheme.
    target = Path(path).as_uri() if Path(path).is_absolute() else urllib.parse.quote(path, safe="/")
    return _e(target)


def _short(text: str, n: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 3] + "..."
