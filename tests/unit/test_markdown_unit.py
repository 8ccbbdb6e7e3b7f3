"""The Markdown summary as a pure rendering of the judgement. Fast tier."""

from __future__ import annotations

from helpers import judged
from verify_compile.judgement.judge import conclude
from verify_compile.reports.markdown import render_markdown


def test_a_red_case_lists_its_notes_and_the_headline_follows_the_conclusion():
    fields = {"case_id": "m[aot_inductor]", "backend": "aot_inductor",
              "notes": ["not compared: the package owns its weights (param fc.weight)"]}
    r = judged("mismatch", "input set 1: output differs", ("mismatch",), **fields)
    text = render_markdown(conclude([r], {}, ("mismatch",)))
    assert text.splitlines()[0].startswith("## verify-compile: ❌ failed:")
    assert "note: not compared: the package owns its weights (param fc.weight)" in text
    r = judged("mismatch", "input set 1: output differs", (), **fields)
    assert render_markdown(conclude([r], {}, ())).splitlines()[0].startswith("## verify-compile: ✅ passed:")
