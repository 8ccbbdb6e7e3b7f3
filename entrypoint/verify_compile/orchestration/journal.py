"""The journal: every finished result is appended (one JSON line) the moment it exists, so an interrupted or
killed run loses nothing and `--resume` can skip what is done."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Optional

from verify_compile import results as R
from verify_compile.results import CaseResult

FORMAT = "verify-compile-journal/1"


class Journal:
    def __init__(self, path: str, case_ids: Iterable[str], append: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a" if append else "w", encoding="utf-8")
        if not append:
            self._write({"format": FORMAT, "cases": list(case_ids)})

    def record(self, result: CaseResult) -> None:
        self._write({"result": result.to_dict()})

    def close(self) -> None:
        self._file.close()

    def _write(self, obj: dict) -> None:
        self._file.write(json.dumps(obj, default=str) + "\n")
        self._file.flush()


def read_journal(path: str) -> dict:
    """Finished results by case id. A torn last line (the run was killed mid-write) is ignored, and results of
    cases that were interrupted are not finished: they run again."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: cannot read the journal ({e})") from None
    lines = text.splitlines()
    try:
        header = json.loads(lines[0]) if lines else {}
    except json.JSONDecodeError:
        header = {}
    if header.get("format") != FORMAT:
        raise ValueError(f"{path}:1: not a verify-compile journal")
    done: dict = {}
    for number, line in enumerate(lines[1:], start=2):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):
                break
            raise ValueError(f"{path}:{number}: corrupt journal line") from None
        result = CaseResult.from_dict(entry["result"])
        if not (result.outcome == R.ERROR and result.phase == R.INTERRUPTED):
            done[result.case_id] = result
    return done


def finished(journal: Optional[str]) -> dict:
    return read_journal(journal) if journal else {}
