"""Requests: what the command line and the action's inputs mean, built without running anything. Fast tier."""

from __future__ import annotations

import re

import pytest

from helpers import REPO
from verify_compile.errors import ConfigError
from verify_compile.github.inputs import build_request
from verify_compile.requests import (
    FILE_OPTIONS,
    FOLDER_OPTIONS,
    MergeRequest,
    Reports,
    RunRequest,
    build_parser,
    from_args,
)


def parse(*argv: str):
    args = build_parser().parse_args(list(argv))
    return from_args(args, args.command)


def test_the_command_line_becomes_a_frozen_request():
    request = parse("run", "a.yaml", "b.yaml", "--only", "m*", "--only", "n", "--junit", "r.xml", "--junit-strict",
                    "--fail-on", "error", "--timeout", "5", "--bisect")
    assert isinstance(request, RunRequest) and request.configs == ("a.yaml", "b.yaml")
    assert request.only == ("m*", "n") and request.timeout == 5.0 and request.bisect
    assert request.reports == Reports(junit="r.xml", junit_file_line=False)
    assert request.judging.fail_on == "error"
    with pytest.raises(AttributeError):
        request.timeout = 1  # type: ignore[misc]
    merge = parse("merge", "s1.json", "s2.json", "--update-baseline", "--baseline", "b.yaml")
    assert isinstance(merge, MergeRequest) and merge.inputs == ("s1.json", "s2.json")
    assert merge.judging.update_baseline and merge.reports.junit_file_line


@pytest.mark.parametrize("abbreviated", ["--htm", "--js", "--jour", "--mark", "--time"])
def test_abbreviated_options_are_refused(abbreviated, capsys):
    """argparse expanded them, so docker mode never mounted the report they named (issue #19)."""
    with pytest.raises(SystemExit) as e:
        parse("run", "a.yaml", abbreviated, "x")
    assert e.value.code == 2 and "unrecognized arguments" in capsys.readouterr().err


def test_the_action_mounts_exactly_the_path_options_of_the_cli():
    """action.yml's bash mounts the folder of every path a run writes or reads beside the configs; an option added
    to the CLI and not there would silently write inside the container in docker mode."""
    script = (REPO / "action.yml").read_text()
    listed = set(re.search(r"^\s*(--junit\|[-|a-z]+)\) option=\$word", script, re.M).group(1).split("|"))
    folders = set(re.search(r'case "\$option" in ([-|a-z]+)\) mount_for', script).group(1).split("|"))
    assert listed == set(FILE_OPTIONS) | set(FOLDER_OPTIONS) and folders == set(FOLDER_OPTIONS)
    parser = build_parser()
    run = parser._subparsers._group_actions[0].choices["run"]
    path_like = {s for a in run._actions if a.metavar in ("PATH", "FILE", "JOURNAL", "DIR")
                 for s in a.option_strings}
    assert path_like == set(FILE_OPTIONS) | set(FOLDER_OPTIONS)


def test_the_action_builds_its_request_from_inputs_and_args():
    env = {"INPUT_CONFIG": "c.yaml", "INPUT_BACKENDS": "eager", "INPUT_JUNIT_STRICT": "true",
           "INPUT_ARGS": "--only 'm[b]' --junit elsewhere.xml extra.yaml --timeout 9"}
    request = build_request(env, [])
    assert request.configs == ("c.yaml", "extra.yaml") and request.backends == "eager"
    assert request.reports.junit == "elsewhere.xml", "args go over the inputs, so outputs follow where JUnit went"
    assert not request.reports.junit_file_line and request.only == ("m[b]",) and request.timeout == 9.0
    default = build_request({"INPUT_CONFIG": "c.yaml"}, [])
    assert default.reports == Reports(junit="verify-compile-junit.xml") and default.judging.fail_on
    merge = build_request({"INPUT_MERGE": "a.json b.json", "INPUT_JSON_PATH": "all.json"}, [])
    assert isinstance(merge, MergeRequest) and merge.inputs == ("a.json", "b.json") and merge.reports.json == "all.json"


@pytest.mark.parametrize("args, words", [("--timeout soon", "invalid float"), ("--jun x.xml", "unrecognized"),
                                         ("--help", "would print help"), ("--shard", "expected one argument"),
                                         ("--vers", "unrecognized arguments: --vers")])
def test_a_wrong_args_input_is_an_input_error(args, words):
    with pytest.raises((ConfigError, ValueError), match=words):
        build_request({"INPUT_CONFIG": "c.yaml", "INPUT_ARGS": args}, [])
