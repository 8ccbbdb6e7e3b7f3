"""Renderings of judged results that need no run: the HTML page's NaN and infinity strings, the live progress
line on a terminal. Fast tier; tests/test_html.py and tests/test_reports.py render the reports of a real run."""

from __future__ import annotations

import io

from verify_compile.results import RunResult


def test_nan_and_inf_strings_render() -> None:
    from helpers import judged
    from verify_compile.reports.html import render_html
    from verify_compile.results import Mismatch

    nan = Mismatch(where="output", kind="nan", summary="NaN where eager has a number", numel=4, n_bad=1,
                   max_abs="inf", max_rel="nan", worst_index=[2], expected=0.5, actual="nan", atol=1e-5, rtol=1e-6)
    r = judged("mismatch", "", (), baseline={"m[b]": {"outcome": "pass"}}, mismatches=[nan],
               artifacts=["javascript:alert(1)"], bisect={"summary": "inductor > lowerings > relu"})
    page = render_html(RunResult(results=[r], meta={"torch": "2.x"}))
    assert 'data-k="Infinity"' in page and "inf abs, nan rel at output" in page
    assert 'href="javascript:' not in page  # quoted into a relative path, never a scheme
    assert "regressed" in page and "inductor &gt; lowerings &gt; relu" in page


def test_live_progress_on_a_terminal():
    from helpers import judged
    from verify_compile.reports.terminal import Progress

    out = io.StringIO()
    progress = Progress(total=3, stream=out, live=True)
    progress.phase("mlp[inductor]", "compile")
    assert "0/3 done" in out.getvalue() and "mlp[inductor]: compile" in out.getvalue()
    progress.result(judged("pass", case_id="mlp[inductor]", model="mlp", backend="inductor", duration=2.0))
    assert "[1/3]" in out.getvalue() and "ETA" in out.getvalue() and "\x1b[32m" in out.getvalue()
