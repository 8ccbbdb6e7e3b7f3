"""Helpers the tests share (a plain module: pytest advises against importing from conftest.py). Fixtures live in
conftest.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"


def _shared() -> Optional[Path]:
    """The read-only shared folder: $SHARED_DIR, else `shared/` beside the checkout; None when neither exists."""
    for candidate in (os.environ.get("SHARED_DIR"), REPO.parent / "shared"):
        if candidate and (Path(candidate) / "schemas").is_dir():
            return Path(candidate)
    return None


SHARED = _shared()
SHARED_MISSING = ("the shared folder is missing: set SHARED_DIR to it, or keep it as 'shared/' beside the "
                  f"checkout ({REPO.parent / 'shared'})")
JUNIT_XSD = SHARED / "schemas" / "junit-10.xsd" if SHARED else None


def run_cli(*args: str, cwd: Path | str | None = None, timeout: float = 600,
            env: dict | None = None) -> subprocess.CompletedProcess:
    """`verify-compile ARGS` as a user would run it (a fresh process; the package is imported as installed)."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO / "entrypoint"), **(env or {})}
    return subprocess.run([sys.executable, "-m", "verify_compile", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=full_env)


def flat(record: dict) -> dict:
    """One result of a results file as one mapping, for assertions: the observation's facts (`observed` and
    `observed_message` for its outcome and message), the verdict's outcome, message and details, and the
    expectation under `expectation`."""
    observation, verdict = record["observation"], record["verdict"]
    out = {**observation, "observed": observation["outcome"], "observed_message": observation["message"],
           "expectation": record["expectation"], **verdict}
    out["details"] = observation["details"] if verdict["details"] is None else verdict["details"]
    return out


def results_of(json_path: Path | str) -> list:
    """The results of a results file, each `flat`, in the file's order."""
    return [flat(r) for r in json.loads(Path(json_path).read_text())["results"]]


def results_by_id(json_path: Path | str) -> dict:
    return {r["case_id"]: r for r in results_of(json_path)}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def judged(outcome: str = "pass", message: str = "", fail_on: tuple = ("mismatch", "error", "xpass", "gate"),
           expectation: object = None, baseline: dict | None = None, **fields: object) -> object:
    """A judged CaseResult of case `m[b]` whose observation has `outcome`, `message` and `fields`, against
    `baseline` entries when given."""
    from verify_compile.judgement.baseline import Baseline
    from verify_compile.judgement.judge import judge_case
    from verify_compile.results import Observation
    from verify_compile.spec import Expectation

    base = {"case_id": "m[b]", "index": 0, "model": "m", "backend": "b", "config": "c.yaml", "line": 3}
    observation = Observation(**{**base, **fields}, outcome=outcome, message=message)
    return judge_case(observation, expectation or Expectation(), Baseline(baseline) if baseline is not None else None,
                      fail_on)
