"""Fixtures the tests share; plain helpers are in helpers.py."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

import pytest

from helpers import FIXTURES, JUNIT_XSD, SHARED_MISSING


@pytest.fixture
def junit_schema():
    if JUNIT_XSD is None or not JUNIT_XSD.is_file():
        pytest.skip(f"the strict JUnit schema cannot be checked: {SHARED_MISSING}")
    import xmlschema

    return xmlschema.XMLSchema(str(JUNIT_XSD))


@pytest.fixture
def config_dir(tmp_path: Path) -> Callable[..., Path]:
    """A folder holding copies of the fixture models and backends and a config written into it:
    `config_dir(text, name="c.yaml")` returns the config's path (its folder is the tests' working directory)."""
    for name in ("models.py", "backends.py"):
        shutil.copy(FIXTURES / name, tmp_path / name)

    def make(text: str, name: str = "c.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path
    return make
