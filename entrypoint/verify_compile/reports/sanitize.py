"""The one boundary that every text from outside crosses before any report renders it.

Names, paths, messages, captured output and output keys come from configs, file names, models and results
files that someone else wrote. Past this boundary a string is valid Unicode (a lone surrogate, e.g. from a
non-UTF-8 file name, becomes U+FFFD), carries no terminal escape sequences (colour codes are dropped) and no
control characters (each other one is shown as `\\xNN`), so it is safe in XML, on a terminal and in a workflow
command. Each medium still escapes its own markup (HTML, Markdown table pipes, XML entities).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from verify_compile.errors import ConfigError
from verify_compile.records import decode
from verify_compile.results import Observation
from verify_compile.spec import Expectation

_SURROGATES = re.compile("[\ud800-\udfff]")
# CSI (colours, cursor moves), OSC (window titles, hyperlinks: up to BEL or ST) and other two-byte escapes
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]")
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ufffe\uffff]")
_CONTROLS_BUT_CR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")


def text(value: Any, keep_cr: bool = False) -> str:
    """`value` as safe text: valid Unicode, no escape sequences, controls other than newline and tab shown
    (`keep_cr`: carriage returns too, for an encoder that escapes them itself)."""
    s = value if isinstance(value, str) else str(value)
    if not s.isprintable() or _SURROGATES.search(s):  # fast path: most text is plain
        s = _SURROGATES.sub("\ufffd", s)
        s = _ESCAPES.sub("", s)
        if not keep_cr:
            s = s.replace("\r\n", "\n")
        s = (_CONTROLS_BUT_CR if keep_cr else _CONTROLS).sub(_shown, s)
    return s


def _shown(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 256 else f"\\u{code:04x}"


def deep(value: Any) -> Any:
    """Every string in `value` (dicts, their keys, lists, tuples) made safe; other values unchanged."""
    if isinstance(value, str):
        return text(value)
    if isinstance(value, dict):
        return {deep(k): deep(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(deep(v) for v in value)
    return value


def observation(o: Observation) -> Observation:
    """A copy of `o` with every string in it safe."""
    return decode(Observation, deep(dataclasses.asdict(o)))


def expectation(e: Expectation) -> Expectation:
    return decode(Expectation, deep(dataclasses.asdict(e)))


def meta(m: dict) -> dict:
    return deep(dict(m or {}))


def problem(e: ConfigError) -> ConfigError:
    """A configuration problem safe to print, annotate and summarise (its file name may be any bytes)."""
    return ConfigError(text(e.message), text(e.file) if e.file else None, e.line, text(e.hint) if e.hint else None)
