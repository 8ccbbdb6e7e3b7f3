"""User-facing errors: a bad config or bad usage is reported as `file:line: what is wrong`, exit code 2."""

from __future__ import annotations

import difflib
from typing import Iterable, Optional

USAGE_EXIT = 2


class ConfigError(Exception):
    """One mistake in the user's input, located in a file when it comes from one."""

    def __init__(self, message: str, file: Optional[str] = None, line: Optional[int] = None,
                 hint: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.hint = hint

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        text = where + self.message
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text


class ConfigErrors(Exception):
    """Every mistake found in one pass, so the user fixes them all at once."""

    def __init__(self, errors: Iterable[ConfigError]) -> None:
        # A mistake in `defaults` is found once per model: report it once, in file and line order.
        unique = {(e.file or "", e.line or 0, e.message): e for e in errors}
        self.errors = [unique[k] for k in sorted(unique)]
        super().__init__("\n".join(str(e) for e in self.errors))


def did_you_mean(word: str, choices: Iterable[str]) -> Optional[str]:
    """The closest known word, phrased as a hint, or None."""
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def exception_summary(e: BaseException, limit: int = 500) -> str:
    """`Type: first line`, skipping a first line that only introduces the next (as dynamo's wrappers do)."""
    lines = [line.strip() for line in str(e).strip().splitlines() if line.strip()]
    text = lines[0] if lines else ""
    for line in lines[1:4]:
        if not text.endswith(":"):
            break
        text = f"{text} {line}"
    return f"{type(e).__name__}: {text[:limit]}" if text else type(e).__name__
