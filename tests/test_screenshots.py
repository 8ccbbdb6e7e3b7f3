"""The README's screenshots (docs/screenshots.py): the committed PNGs are real, small images the README shows, and
the script makes them from a real run whose rendered pages hold every case (headless Chromium; skips where
Chromium is missing, as tests/test_html.py does)."""

from __future__ import annotations

import html
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from helpers import REPO, browse, read_png

MAX_BYTES = 400 * 1024  # a README image: a few hundred KB at most


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("screenshots", REPO / "docs" / "screenshots.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


screenshots = _script()
PNGS = ("html-report.png", "step-summary.png")


@pytest.mark.parametrize("name", PNGS)
def test_the_committed_screenshots_are_small_real_images_the_readme_shows(name: str) -> None:
    path = REPO / "docs" / name
    assert 20 * 1024 < path.stat().st_size <= MAX_BYTES
    width, height, _ = read_png(path, pixels=False)  # complete and intact; the made ones are looked at below
    assert width >= 1000 and 300 <= height <= screenshots.MAX_HEIGHT
    assert f"](docs/{name})" in (REPO / "README.md").read_text(), "the README does not show it"


@pytest.fixture(scope="module")
def shots(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> object:
    pytest.importorskip("markdown_it", reason="markdown-it-py renders the step summary (pip install -e '.[test]')")
    out, work = tmp_path_factory.mktemp("shots"), tmp_path_factory.mktemp("work")
    return screenshots.make(out, chromium, work)


def test_the_screenshots_come_from_a_run_with_a_pass_a_mismatch_and_an_error(shots: object) -> None:
    assert shots.outcomes == screenshots.EXPECTED
    assert {"pass", "mismatch", "error"} <= set(shots.outcomes.values())


def test_the_screenshots_are_real_images_of_the_requested_size(shots: object) -> None:
    width, height, pixels = read_png(shots.html_png)
    assert (width, height) == screenshots.HTML_SIZE and len(pixels) > 50
    red = re.search(r"--mismatch:#([0-9a-f]{6})", shots.html_report.read_text()).group(1)
    assert bytes.fromhex(red) in pixels, "the mismatch badge is not on screen"
    width, height, pixels = read_png(shots.summary_png)
    # As tall as the summary: its table and both collapsed failures, nothing cut, no empty page below.
    assert width == screenshots.SUMMARY_WIDTH and 300 <= height < screenshots.MAX_HEIGHT and len(pixels) > 50
    for png in (shots.html_png, shots.summary_png):
        assert png.stat().st_size <= MAX_BYTES


def _dom_text(chromium: str, page: Path, profile: Path) -> str:
    dom = browse(chromium, profile, page, "--dump-dom").stdout
    return html.unescape(re.sub(r"<[^>]+>", " ", dom))


def test_the_rendered_pages_hold_the_cases(shots: object, chromium: str, tmp_path: Path) -> None:
    report = _dom_text(chromium, shots.html_report, tmp_path / "profile")
    for case_id in screenshots.EXPECTED:
        assert case_id in report
    summary = _dom_text(chromium, shots.summary_page, tmp_path / "profile")
    assert "verify-compile: ❌ failed: 5 case(s): 3 pass, 1 mismatch, 1 error" in summary
    for case_id, outcome in screenshots.EXPECTED.items():
        model, backend = case_id[:-1].split("[")
        assert model in summary and backend in summary  # the matrix's row and column
        if outcome != "pass":
            assert f"{case_id}: {outcome}:" in summary  # a collapsed block of its own
    assert "<details>" not in summary, "the summary's HTML was shown as text, not rendered"
