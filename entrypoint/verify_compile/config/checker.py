"""Collecting config mistakes, each with its file and line, and the checks every config section uses."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, Optional

from verify_compile.config.yamlload import LocDict, LocList
from verify_compile.errors import ConfigError, did_you_mean


class Checker:
    """Collects every error of one config file, each at its line."""

    def __init__(self, path: Path, base_dir: Optional[Path] = None,
                 relative_hint: str = "paths are relative to the config file") -> None:
        self.path = path
        self.base_dir = base_dir or path.resolve().parent
        self.relative_hint = relative_hint
        self.errors: list[ConfigError] = []

    def error(self, message: str, line: Optional[int], hint: Optional[str] = None) -> None:
        self.errors.append(ConfigError(message, str(self.path), line, hint))

    def keys(self, mapping: LocDict, allowed: tuple, what: str, free_prefix: Optional[str] = None) -> None:
        for key in mapping:
            if free_prefix and str(key).startswith(free_prefix):
                continue
            if key not in allowed:
                hint = did_you_mean(key, allowed) or f"known keys: {', '.join(allowed)}"
                self.error(f"unknown key '{key}' in {what}", mapping.line_of(key), hint)

    def typed(self, value: Any, line: int, what: str, kinds: tuple, kind_name: str) -> bool:
        # bool is an int in Python; a YAML `true` is never a number here.
        if isinstance(value, bool) and bool not in kinds:
            ok = False
        else:
            ok = isinstance(value, kinds)
        if not ok:
            self.error(f"{what} must be {kind_name}, got {show(value)}", line)
        return ok

    def target_exists(self, target: Any, line: int, what: str) -> None:
        """A `file.py:attr` must name an existing file; a `package.module:attr` an importable top package."""
        if not self.typed(target, line, what, (str,), "a string like 'models.py:MyModel'"):
            return
        path_part, sep, attr = target.rpartition(":")
        if not sep or not path_part or not attr:
            self.error(f"{what} '{target}' must look like 'file.py:attr' or 'package.module:attr'", line)
            return
        if path_part.endswith(".py") or "/" in path_part:
            if not (self.base_dir / path_part).is_file():
                self.error(f"{what} file '{path_part}' not found (looked in {self.base_dir})", line,
                           self.relative_hint)
            return
        top = path_part.split(".")[0]
        local = (self.base_dir / f"{top}.py").is_file() or (self.base_dir / top).is_dir()
        if not local and importlib.util.find_spec(top) is None:
            self.error(f"{what}: no module named '{top}'", line,
                       "install it (action input extra_requirements) or use a path like 'models.py:attr'")


def show(value: Any) -> str:
    text = repr(value if not isinstance(value, (LocDict, LocList)) else type(value).__mro__[1](value))
    return text if len(text) <= 60 else text[:57] + "..."
