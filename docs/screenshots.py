#!/usr/bin/env python3
"""The README's "What you will see": screenshots of the HTML report and of the step summary of one small, real run
(two passes, a mismatch, an error: eager and aot_eager, two of the tests' deliberately wrong backends, no inductor),
taken with headless Chromium.

    python docs/screenshots.py            # rewrites docs/html-report.png and docs/step-summary.png (about 10 s)

The step summary is the run's Markdown (`--markdown` writes what the action puts in $GITHUB_STEP_SUMMARY),
rendered with markdown-it-py (CommonMark plus tables, raw HTML kept, as GitHub's renderer does) and styled like
GitHub's. Needs Debian's chromium (installed as tests/helpers.py does when run as root), markdown-it-py (the test
extras) and, for the summary's emoji, fonts-noto-color-emoji. tests/test_screenshots.py runs the same code into a
temporary folder.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the CLI and Chromium helpers the tests use
from helpers import CHROMIUM_MISSING, browse, find_chromium, results_by_id, run_cli  # noqa: E402

CONFIG = """\
version: 1
defaults:
  device: cpu
models:
  - name: mlp
    model: models.py:MLP
    inputs:
      - args: [{shape: [8, 32]}]
      - args: [{shape: [8, 32], dist: rand}]
    backends: [eager, aot_eager, "backends.py:one_wrong_element"]
  - name: gated
    function: models.py:gated
    inputs:
      - args: [{shape: [4, 10]}, {shape: [10]}]
    backends: [aot_eager, relu_compile_error_TESTING_ONLY]
"""
EXPECTED = {"mlp[eager]": "pass", "mlp[aot_eager]": "pass", "mlp[one_wrong_element]": "mismatch",
            "gated[aot_eager]": "pass", "gated[relu_compile_error_TESTING_ONLY]": "error"}
HTML_SIZE = (1560, 1000)  # the report's table is wide; the top of the page: the table and the first failure
SUMMARY_WIDTH, MAX_HEIGHT = 1100, 1400

# GitHub's Markdown look (github-markdown-css's values), in a box like the job summary's. Its emoji fonts are left
# out of the font stack: named, Noto Color Emoji also draws the spaces and digits here (wide, grey); Chromium's
# own fallback takes it for the emoji alone.
SUMMARY_CSS = """
body { margin: 0; padding: 24px; background: #f6f8fa; color: #1f2328; font-size: 14px; line-height: 1.5;
  font-family: -apple-system, BlinkMacSystemFont, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif; }
.box { background: #fff; border: 1px solid #d1d9e0; border-radius: 6px; }
.box > header { padding: 12px 16px; border-bottom: 1px solid #d1d9e0; font-weight: 600; }
.markdown-body { padding: 16px 32px 24px; }
h2 { font-size: 1.5em; font-weight: 600; padding-bottom: .3em; border-bottom: 1px solid #d1d9e0; margin: 16px 0; }
h3 { font-size: 1.25em; font-weight: 600; margin: 24px 0 16px; }
p, table, details, pre { margin: 0 0 16px; }
table { border-collapse: collapse; display: block; width: max-content; max-width: 100%; overflow: auto; }
th, td { border: 1px solid #d1d9e0; padding: 6px 13px; }
th { font-weight: 600; }
tr { background: #fff; border-top: 1px solid #d1d9e0b3; }
tr:nth-child(2n) { background: #f6f8fa; }
code { font-family: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "DejaVu Sans Mono", monospace;
  font-size: 85%; padding: .2em .4em; background: #818b981f; border-radius: 6px; }
pre { padding: 16px; background: #f6f8fa; border-radius: 6px; overflow: auto; }
pre code { padding: 0; background: none; font-size: 85%; }
summary { cursor: pointer; }
"""
# Measures the laid-out page, so the screenshot is exactly as tall as the summary.
MEASURE = ("<script>addEventListener('load', () => document.body.setAttribute('data-height', "
           "Math.ceil(document.querySelector('.box').getBoundingClientRect().bottom) + 24))</script>")


@dataclass(frozen=True)
class Shots:
    html_report: Path  # the run's --html page
    summary_page: Path  # the step summary's Markdown as a page
    html_png: Path
    summary_png: Path
    outcomes: dict  # case id -> outcome


def run_example(work: Path) -> dict:
    """Run CONFIG in `work` beside copies of configs/models.py and the tests' wrong backends; the outcomes."""
    shutil.copy(REPO / "configs" / "models.py", work / "models.py")
    shutil.copy(REPO / "tests" / "fixtures" / "backends.py", work / "backends.py")
    (work / "verify.yaml").write_text(CONFIG)
    proc = run_cli("run", "verify.yaml", "--json", "results.json", "--html", "report.html", "--markdown",
                   "summary.md", cwd=work, timeout=300)
    if proc.returncode != 1 or not (work / "results.json").is_file():  # a mismatch and an error fail the run
        raise RuntimeError(f"the example run exited {proc.returncode}:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    return {cid: r["outcome"] for cid, r in results_by_id(work / "results.json").items()}


def summary_html(markdown: str, title: str = "verify summary") -> str:
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f"<style>{SUMMARY_CSS}</style></head>\n<body><div class=\"box\"><header>{title}</header>"
            f'<div class="markdown-body">\n{body}</div></div>{MEASURE}</body></html>\n')


def screenshot(chromium: str, page: Path, png: Path, size: tuple, profile: Path) -> None:
    proc = browse(chromium, profile, page, "--hide-scrollbars", "--force-device-scale-factor=1",
                  f"--screenshot={png}", size=size)
    if not png.is_file():
        raise RuntimeError(f"Chromium wrote no screenshot of {page}:\n{proc.stderr[-2000:]}")


def page_height(chromium: str, page: Path, width: int, profile: Path) -> int:
    dom = browse(chromium, profile, page, "--dump-dom", size=(width, MAX_HEIGHT)).stdout
    found = re.search(r'data-height="(\d+)"', dom)
    return min(int(found.group(1)), MAX_HEIGHT) if found else MAX_HEIGHT


def make(out: Path, chromium: str, work: Path) -> Shots:
    """Run the example in `work`, then write html-report.png and step-summary.png into `out`."""
    outcomes = run_example(work)
    summary = work / "summary.html"
    summary.write_text(summary_html((work / "summary.md").read_text(encoding="utf-8")), encoding="utf-8")
    profile = work / "chromium-profile"
    shots = Shots(work / "report.html", summary, out / "html-report.png", out / "step-summary.png", outcomes)
    screenshot(chromium, shots.html_report, shots.html_png, HTML_SIZE, profile)
    height = page_height(chromium, summary, SUMMARY_WIDTH, profile)
    screenshot(chromium, summary, shots.summary_png, (SUMMARY_WIDTH, height), profile)
    return shots


def main(argv: list) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs", help="folder for the PNGs (default: docs/)")
    args = parser.parse_args(argv)
    chromium = find_chromium()
    if chromium is None:
        print(CHROMIUM_MISSING, file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as work:
        shots = make(args.out, chromium, Path(work))
    for png in (shots.html_png, shots.summary_png):
        print(f"{png} ({png.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
