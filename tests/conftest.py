"""Fixtures the tests share; plain helpers are in helpers.py."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

import pytest

from helpers import CHROMIUM_MISSING, DEFAULT_FIXTURES, JUNIT_XSD, SHARED_MISSING, ConfigDir, find_chromium


@pytest.fixture
def junit_schema():
    if JUNIT_XSD is None or not JUNIT_XSD.is_file():
        pytest.skip(f"the strict JUnit schema cannot be checked: {SHARED_MISSING}")
    import xmlschema

    return xmlschema.XMLSchema(str(JUNIT_XSD))


@pytest.fixture
def config_dir(tmp_path: Path) -> ConfigDir:
    """The test's tmp_path as a ConfigDir: the fixture models.py and backends.py copied in, `config_dir(text)`
    writes cfg.yaml there, `config_dir.run(...)` runs the CLI there."""
    return ConfigDir(tmp_path)


@pytest.fixture(scope="module")
def module_config_dir(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., ConfigDir]:
    """For module-scoped fixtures: `module_config_dir(name, fixtures=...)` is a new ConfigDir of its own."""
    def make(name: str, fixtures: Iterable[str] = DEFAULT_FIXTURES) -> ConfigDir:
        return ConfigDir(tmp_path_factory.mktemp(name), fixtures)
    return make


@pytest.fixture(scope="module")
def chromium() -> str:
    """Headless Chromium's path, for the tests that render the HTML report (a skip that says how to get it)."""
    found = find_chromium()
    if found is None:
        pytest.skip(CHROMIUM_MISSING)
    return found
