"""Pure helpers for talking to a GitHub Actions runner: reading inputs, workflow commands, output files.

Everything here follows the runner's own rules (actions/toolkit `core`), so text the tool does not control can
neither break a command nor smuggle in one of its own.
"""

from __future__ import annotations

import secrets
from typing import Mapping, Optional

from verify_compile.reports import sanitize

MAX_ANNOTATIONS = 10  # GitHub shows at most 10 error (and 10 warning) annotations per step


def read_input(env: Mapping[str, str], name: str, default: str = "") -> str:
    """An action input as the runner passes it: `INPUT_<NAME>`, upper-cased with only spaces replaced, so a
    hyphenated id arrives as `INPUT_FAIL-ON`; both that and `INPUT_FAIL_ON` are accepted. Trimmed like
    `core.getInput`."""
    key = name.upper().replace(" ", "_")
    for spelling in (key, key.replace("-", "_"), key.replace("_", "-")):
        value = env.get(f"INPUT_{spelling}")
        if value is not None and value.strip():
            return value.strip()
    return default


def parse_bool(value: str, name: str) -> bool:
    """`core.getBooleanInput`: the YAML 1.2 core-schema spellings only, anything else is a usage error."""
    if value in ("true", "True", "TRUE"):
        return True
    if value in ("false", "False", "FALSE"):
        return False
    raise ValueError(f"input '{name}' must be true or false, not '{value}'")


def escape_data(text: str) -> str:
    """As the runner unescapes it; any other control character is shown, never passed (see reports.sanitize)."""
    return sanitize.text(text, keep_cr=True).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, message: str = "", **properties: Optional[object]) -> str:
    """One workflow command line, e.g. `::error file=c.yaml,line=3,title=T::msg`, every field escaped."""
    props = ",".join(f"{k}={escape_property(str(v))}" for k, v in properties.items() if v is not None)
    return f"::{name}{' ' + props if props else ''}::{escape_data(message)}"


def stop_token() -> str:
    """A fresh, unguessable `::stop-commands::` token: fenced text cannot end the fence early."""
    return "vc-" + secrets.token_hex(16)


def fence(text: str) -> str:
    """`text` between `::stop-commands::T` and `::T::`, so no line of it is run as a workflow command."""
    token = stop_token()
    body = text if text.endswith("\n") or not text else text + "\n"
    return f"::stop-commands::{token}\n{body}::{token}::\n"


def format_outputs(outputs: Mapping[str, object]) -> str:
    """`$GITHUB_OUTPUT` entries in the multi-line form `name<<DELIM` ... `DELIM`, with a random delimiter that
    the value provably does not contain (a value cannot end its own entry and write another output)."""
    parts = []
    for name, value in outputs.items():
        text = "" if value is None else str(value)
        delimiter = "ghadelimiter_" + secrets.token_hex(16)
        while delimiter in text or delimiter in name:  # practically never; cheap to be sure
            delimiter = "ghadelimiter_" + secrets.token_hex(16)
        parts.append(f"{name}<<{delimiter}\n{text}\n{delimiter}\n")
    return "".join(parts)


def append_file(path: Optional[str], text: str) -> None:
    """Append to a runner file command (`$GITHUB_OUTPUT`, `$GITHUB_STEP_SUMMARY`). Appending in place matters:
    the runner owns the file, and in a container it is a bind mount that a rename would not reach."""
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(text)
