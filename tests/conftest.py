"""Shared helpers: run the real CLI in a subprocess and read back what it wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"


def _shared() -> Path:
    """The read-only shared folder: $SHARED_DIR, else beside the checkout, else where this project's machines
    keep it (a clean clone for CI may live elsewhere)."""
    candidates = [os.environ.get("SHARED_DIR"), REPO.parent / "shared", "/work/shared"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "schemas").is_dir():
            return Path(candidate)
    return REPO.parent / "shared"


SHARED = _shared()
JUNIT_XSD = SHARED / "schemas" / "junit-10.xsd"


def run_cli(*args: str, cwd: Path | str | None = None, timeout: float = 600,
            env: dict | None = None) -> subprocess.CompletedProcess:
    """`verify-compile ARGS` as a user would run it (a fresh process; the package is imported as installed)."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO / "entrypoint"), **(env or {})}
    return subprocess.run([sys.executable, "-m", "verify_compile", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=full_env)


def results_by_id(json_path: Path) -> dict:
    data = json.loads(Path(json_path).read_text())
    return {r["case_id"]: r for r in data["results"]}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def junit_schema():
    if not JUNIT_XSD.is_file():
        pytest.skip(f"the strict JUnit schema is not present at {JUNIT_XSD} (the shared folder is missing)")
    import xmlschema

    return xmlschema.XMLSchema(str(JUNIT_XSD))
