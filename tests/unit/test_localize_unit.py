"""Localization without running it: how it is asked for (CLI, config, action input), what a report of it says,
how every report renders it, and that it survives a results file. Fast tier: compiles nothing."""

from __future__ import annotations

import dataclasses

import pytest

from helpers import judged, write
from verify_compile.config.loader import load_config
from verify_compile.engine.localize_text import describe
from verify_compile.errors import ConfigErrors
from verify_compile.github.inputs import build_request
from verify_compile.judgement.judge import conclude
from verify_compile.records import read_observation
from verify_compile.reports.html import render_html
from verify_compile.reports.junit import render_junit
from verify_compile.reports.markdown import render_markdown
from verify_compile.requests import build_parser, from_args
from verify_compile.spec import BackendSpec, Case, ModelSpec

REPORT = {
    "finished": True, "notes": [],
    "modules": [{"path": "decoder.ffn", "class": "FeedForward", "qualname": "FeedForward", "builtin": False,
                 "forward": "models.py:41", "called_at": "models.py:88", "parts_tested": 2,
                 "worst": "output: 3 of 12 element(s) differ (25%)", "mismatches": 1}],
    "tested": [{"path": "encoder", "reproduces": False}, {"path": "decoder", "reproduces": True},
               {"path": "decoder.ffn", "reproduces": True}],
    "graph": {"graph": 1, "graphs": 1, "ops_before": 9, "ops_after": 1, "queries": 14, "finished": True,
              "target": "decoder.ffn", "worst": "output[0]: 3 of 12 element(s) differ",
              "ops": [{"node": "mul", "op": "operator.mul", "source": "models.py:44", "code": "return h * self.g"}],
              "minimal": "/bundle/minimal.py"},
    "workaround": {"verified": True, "disabled": ["decoder.ffn"],
                   "text": "compiled with `decoder.ffn` left to eager, the model passes: add `@torch.compiler.disable` "
                           "to `FeedForward.forward` (models.py:41), or compile the submodules around it"},
}
CASE = Case(0, ModelSpec(name="m", kind="model", target="models.py:M", config_file="c.yaml", base_dir=".", line=3),
            BackendSpec(id="inductor", backend="inductor"))


def _parse(*argv: str):
    args = build_parser().parse_args(list(argv))
    return from_args(args, args.command)


def test_it_is_asked_for_on_the_command_line_in_the_config_and_as_an_action_input(tmp_path):
    assert _parse("run", "c.yaml", "--localize").localize and not _parse("run", "c.yaml").localize
    assert build_request({"INPUT_CONFIG": "c.yaml", "INPUT_LOCALIZE": "true"}, []).localize
    assert not build_request({"INPUT_CONFIG": "c.yaml"}, []).localize
    assert build_request({"INPUT_CONFIG": "c.yaml", "INPUT_ARGS": "--localize"}, []).localize
    with pytest.raises(ValueError, match="input 'localize' must be true or false"):
        build_request({"INPUT_CONFIG": "c.yaml", "INPUT_LOCALIZE": "yes please"}, [])
    write(tmp_path / "models.py", "def f(x):\n    return x\n")
    config = load_config(write(tmp_path / "c.yaml", "version: 1\ndefaults: {localize: true}\nmodels:\n"
                                                    "  - {name: a, function: models.py:f}\n"
                                                    "  - {name: b, function: models.py:f, localize: false}\n"))
    assert [m.localize for m in config.models] == [True, False]
    with pytest.raises(ConfigErrors, match="localize"):
        load_config(write(tmp_path / "bad.yaml", "version: 1\nmodels:\n  - {name: a, function: models.py:f, "
                                                 "localize: 3}\n"))


def test_the_words_name_path_and_line_first():
    summary, text = describe(dict(REPORT), CASE)
    assert summary == ("`decoder.ffn` (FeedForward, models.py:41) mismatches when compiled alone; smallest graph: "
                       "operator.mul at models.py:44")
    lines = text.splitlines()
    assert lines[0] == f"localized: {summary}"
    assert "  none of its 2 submodule(s) mismatches alone" in lines
    assert "  compiled alone with inductor: encoder ok, decoder MISMATCH, decoder.ffn MISMATCH" in lines
    assert "    operator.mul at models.py:44: return h * self.g" in lines
    assert any(line.startswith("  workaround (re-checked): compiled with `decoder.ffn` left to eager")
               for line in lines)
    assert "  minimal repro: python /bundle/minimal.py  (exit 1 while it reproduces)" in lines


def test_a_workaround_that_did_not_pass_is_never_suggested_and_an_unfinished_search_says_so():
    report = {**REPORT, "finished": False,
              "workaround": {"verified": False, "why": "with `decoder.ffn` left to eager the model still mismatches"}}
    _, text = describe(report, CASE)
    assert "workaround (re-checked)" not in text and "torch.compiler.disable" not in text
    assert "no workaround suggested: with `decoder.ffn` left to eager the model still mismatches" in text
    assert "localization did not finish" in text
    summary, _ = describe({"finished": True, "notes": [], "modules": [], "tested": [], "reproduced": False}, CASE)
    assert summary.startswith("not localized: the mismatch did not reproduce")


def test_every_report_shows_it_and_a_results_file_keeps_it():
    found = dict(REPORT)
    found["summary"], found["text"] = describe(found, CASE)
    r = judged("mismatch", "input set 1: output: 3 of 12 element(s) differ", localization=found,
               details="input set 1 of 1 (line 5): 1 difference(s)\n  output: 3 of 12 element(s) differ")
    run = conclude([r], {}, ("mismatch",))
    junit = render_junit(run)
    assert junit.index("localized: `decoder.ffn`") < junit.index("1 difference(s)")
    markdown = render_markdown(run)
    assert markdown.index("localized: `decoder.ffn`") < markdown.index("1 difference(s)")
    page = render_html(run)
    assert page.index("localized: `decoder.ffn`") < page.index("1 difference(s)")
    again = read_observation(dataclasses.asdict(r.observation))
    assert again.localization == found and again.outcome == "mismatch"
