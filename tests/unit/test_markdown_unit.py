"""The Markdown summary as a pure rendering of the judgement. Fast tier."""

from __future__ import annotations

from verify_compile.judgement.judge import judge_run
from verify_compile.reports.markdown import render_markdown
from verify_compile.results import CaseResult


def test_a_red_case_lists_its_notes_and_the_headline_follows_the_conclusion():
    r = CaseResult(case_id="m[aot_inductor]", index=0, model="m", backend="aot_inductor", config="c.yaml", line=3,
                   outcome="mismatch", message="input set 1: output differs",
                   notes=["not compared: the package owns its weights (param fc.weight)"])
    text = render_markdown(judge_run([r], {}, ("mismatch",)))
    assert text.splitlines()[0].startswith("## verify-compile: ❌ failed:")
    assert "note: not compared: the package owns its weights (param fc.weight)" in text
    assert render_markdown(judge_run([r], {}, ())).splitlines()[0].startswith("## verify-compile: ✅ passed:")
