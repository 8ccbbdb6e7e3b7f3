"""Workflow commands and step outputs as the runner reads them: escaping, fences, inputs by either spelling, and
outputs whose values look like delimiters. Fast tier; tests/test_action.py drives the action as a process."""

from __future__ import annotations

from helpers import live_commands, parse_command, read_outputs
from verify_compile.github.commands import command, escape_data, escape_property, fence, format_outputs, read_input


def test_workflow_command_helpers():
    assert escape_data("100%\r\nnext") == "100%25%0D%0Anext"
    assert escape_property("a:b,c%") == "a%3Ab%2Cc%25"
    line = command("error", "bad\n::set-output name=x::y", file="c,1.yaml", line=3, title="t: x")
    assert line == "::error file=c%2C1.yaml,line=3,title=t%3A x::bad%0A::set-output name=x::y"
    assert parse_command(line) == ("error", {"file": "c,1.yaml", "line": "3", "title": "t: x"},
                                   "bad\n::set-output name=x::y")
    fenced = fence("::error::x\n##[error]y")
    assert live_commands(fenced) == [fenced.splitlines()[0]]
    assert read_input({"INPUT_FAIL-ON": " error "}, "fail_on") == "error"
    assert read_input({"INPUT_FAIL_ON": "mismatch"}, "fail_on") == "mismatch"
    assert read_input({}, "junit_path", "x.xml") == "x.xml"


def test_outputs_survive_values_that_look_like_delimiters(tmp_path):
    path = tmp_path / "output"
    value = "line one\nEOF\nghadelimiter_1234\nname<<EOF"
    path.write_text(format_outputs({"a": value, "b": 7}))
    assert read_outputs(path) == {"a": value, "b": "7"}

