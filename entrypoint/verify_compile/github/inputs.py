"""The action's inputs as a request (verify_compile.requests): the `INPUT_*` variables map onto its fields, and
the `args` input, which is command-line text, is read with the CLI's own option definitions."""

from __future__ import annotations

import argparse
import dataclasses
import glob
import shlex
from typing import Mapping

from verify_compile.errors import ConfigError
from verify_compile.github.commands import parse_bool, read_input
from verify_compile.requests import Request, from_args, options_parser

DEFAULT_JUNIT = "verify-compile-junit.xml"


def build_request(env: Mapping[str, str], extra: list[str]) -> Request:
    """The request the inputs mean; `extra`: arguments after `verify-compile action`, read like `args`.
    ValueError or ConfigError for an input that is wrong."""
    merge = read_input(env, "merge")
    command = "merge" if merge else "run"
    paths = _paths(merge) if merge else _paths(read_input(env, "config"))
    if not paths and not merge:
        raise ValueError("input 'config' is required: the YAML config(s) to verify")
    parser = options_parser(command)
    namespace = parser.parse_args([])  # every option at its default, then the inputs over them
    namespace.junit = read_input(env, "junit_path", DEFAULT_JUNIT)
    namespace.junit_strict = parse_bool(read_input(env, "junit_strict", "false"), "junit_strict")
    namespace.json = read_input(env, "json_path") or None
    namespace.markdown = read_input(env, "markdown_path") or None
    namespace.html = read_input(env, "html_path") or None
    namespace.fail_on = read_input(env, "fail_on") or namespace.fail_on
    if command == "run":
        for name in ("backends", "device", "shard", "cache_dir"):
            setattr(namespace, name, read_input(env, name) or None)
        namespace.localize = parse_bool(read_input(env, "localize", "false"), "localize")
    extra_args = shlex.split(read_input(env, "args")) + list(extra)
    asks = [a for a in extra_args[:extra_args.index("--") if "--" in extra_args else None]
            if a.split("=", 1)[0] in ("-h", "--help", "--version")]
    if asks:  # refused as unknown options anyway; say why
        raise ValueError(f"input 'args' holds '{asks[0]}', which would print help or the version and verify "
                         "nothing; remove it")
    try:
        parsed = parser.parse_args(extra_args, namespace=namespace)
    except argparse.ArgumentError as e:
        raise ConfigError(f"input 'args': {e}", hint=f"see verify-compile {command} --help") from None
    return from_args(parsed, command, tuple(paths))


def describe(request: Request) -> str:
    """The request in one line, for the log: what differs from the defaults."""
    fields = {}
    for f in dataclasses.fields(request):
        value = getattr(request, f.name)
        if dataclasses.is_dataclass(value):
            fields.update({f"{f.name}.{k}": v for k, v in dataclasses.asdict(value).items()
                           if v != getattr(type(value)(), k)})
        elif value not in (None, False, ()):
            fields[f.name] = value
    return ", ".join(f"{k}={v!r}" for k, v in fields.items())


def _paths(text: str) -> list:
    """Space- or newline-separated paths, globs expanded (`**` recursing into folders); a pattern matching nothing
    is kept, so the run names it."""
    return list(dict.fromkeys(f for pattern in shlex.split(text)
                              for f in (sorted(glob.glob(pattern, recursive=True)) or [pattern])))
