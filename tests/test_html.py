"""The HTML report, from a real run of the CLI: content, escaping, no network, and a render in headless Chromium.

Chromium is Debian's `chromium` package (helpers.find_chromium installs it where it can; the browser tests
skip otherwise, saying what to install).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import subprocess
import textwrap
from html.parser import HTMLParser
from pathlib import Path
from typing import Callable

import pytest

from helpers import ConfigDir, browse, read_png
from verify_compile.records import load_json_results

WIDTH, HEIGHT = 1400, 1000
XSS = "<script>alert(1)</script>"

MODELS = f'''
import torch


def scale_shift(x, y):
    print("{XSS} & more")
    return x * y + 1.0
'''
BROKEN = 'raise ImportError("cannot import this model <b>on purpose</b>")\n'
# Wrong on purpose: every multiplication of the traced graph becomes an addition.
MUL_TO_ADD = '''
import operator

import torch


def mul_to_add(gm, example_inputs):
    for node in gm.graph.nodes:
        if node.op == "call_function" and node.target in (operator.mul, torch.mul):
            node.target = operator.add
    gm.recompile()
    return gm.forward
'''
CONFIG = '''
version: 1
defaults:
  device: cpu
  backends: [aot_eager, "wrong_backend.py:mul_to_add"]
models:
  - name: scale_shift
    function: models.py:scale_shift
    inputs:
      - args: [{shape: [4, 8]}, {shape: [4, 8]}]
  - name: broken
    function: broken.py:f
    inputs:
      - args: [{shape: [3]}]
'''


class Run:
    def __init__(self, directory: Path, page: str, results: list) -> None:
        self.dir, self.page, self.results = directory, page, results
        self.by_id = {r.case_id: r for r in results}


@pytest.fixture(scope="module")
def run(module_config_dir: Callable[..., ConfigDir]) -> Run:
    folder = module_config_dir("html", fixtures=())
    for name, text in (("models.py", MODELS), ("broken.py", BROKEN), ("wrong_backend.py", MUL_TO_ADD),
                       ("config.yaml", CONFIG)):
        folder.add(name, textwrap.dedent(text).lstrip())
    proc = folder.run("run", "config.yaml", "--html", "out.html", "--json", "out.json", timeout=300)
    d = folder.path
    assert proc.returncode == 1, proc.stdout + proc.stderr  # a mismatch and errors fail the run
    assert (d / "out.html").is_file(), proc.stderr
    _, records = load_json_results((d / "out.json").read_text(), "out.json")
    results = [observation for observation, _ in records]
    assert [r.outcome for r in results] == ["pass", "mismatch", "error", "error"], proc.stderr
    return Run(d, (d / "out.html").read_text(encoding="utf-8"), results)


class _Tags(HTMLParser):
    """Every start tag and its attributes; raises on an end tag that closes anything but the innermost element."""

    VOID = {"meta", "link", "input", "br", "hr", "img"}

    def __init__(self) -> None:
        super().__init__()
        self.tags: list = []
        self.stack: list = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1] if self.stack else None}>"
        self.stack.pop()


def test_page_shows_every_case_and_its_diff_and_error(run: Run) -> None:
    page = run.page
    for r in run.results:
        assert html.escape(r.case_id) in page
    mismatch = run.by_id["scale_shift[mul_to_add]"]
    assert mismatch.mismatches and html.escape(mismatch.details) in page  # the located diff, as the engine wrote it
    m = mismatch.mismatches[0]
    assert f"{m.n_bad} / {m.numel}" in page and f"atol {m.atol:g}" in page
    assert str(list(m.worst_index)) in page
    assert "Error in phase load" in page
    assert "cannot import this model &lt;b&gt;on purpose&lt;/b&gt;" in page
    assert "Compile health" in page and "Captured output" in page


def test_page_is_well_formed_escaped_and_offline(run: Run) -> None:
    page = run.page
    parser = _Tags()
    parser.feed(page)
    parser.close()
    assert parser.stack == []
    tags = parser.tags
    assert [t for t, _ in tags].count("script") == 1  # ours; the captured <script> is text
    assert html.escape(XSS) in page and XSS not in page
    assert "<b>on purpose" not in page
    assert not re.search(r"https?://", page)
    for tag, attrs in tags:
        assert not any(a.startswith("on") for a in attrs), f"inline handler on <{tag}>"
        assert "src" not in attrs, f"<{tag}> loads {attrs['src']}"
        if tag == "link":
            assert attrs["href"].startswith("data:")
    assert "@import" not in page and "url(" not in page
    csp = next(a["content"] for t, a in tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in csp


# --- headless Chromium -------------------------------------------------------------------------------------------

def _browse(chromium: str, tmp: Path, page: Path, *flags: str) -> subprocess.CompletedProcess:
    return browse(chromium, tmp / "profile", page, *flags, size=(WIDTH, HEIGHT))


def test_page_renders_in_headless_chromium(run: Run, chromium: str, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    proc = _browse(chromium, tmp_path, run.dir / "out.html", f"--screenshot={shot}")
    assert shot.is_file(), proc.stderr[-2000:]
    width, height, pixels = read_png(shot)
    assert (width, height) == (WIDTH, HEIGHT)
    assert len(pixels) > 50, "the screenshot is (nearly) blank"
    red = re.search(r"--mismatch:#([0-9a-f]{6})", run.page).group(1)
    assert bytes.fromhex(red) in pixels, "the styled mismatch badge is not on screen"
    print(f"screenshot: {shot}")


def test_sorting_and_filtering_run_in_chromium(run: Run, chromium: str, tmp_path: Path) -> None:
    # The page's CSP allows only its own script by hash, so the probe's hash is added, which also shows that
    # the page's script runs under that policy.
    probe = textwrap.dedent("""
        document.addEventListener("DOMContentLoaded", () => {
          const order = () => Array.from(document.querySelectorAll("#cases > tbody")).map(tb => +tb.dataset.i);
          const head = label => Array.from(document.querySelectorAll("#cases th button"))
            .find(b => b.textContent === label);
          const out = {};
          head("#").click(); head("#").click(); out.desc = order();
          head("outcome").click(); out.severity = order();
          document.querySelector('button.chip[data-outcome="pass"]').click();
          out.hidden = Array.from(document.querySelectorAll("#cases > tbody[hidden]")).map(tb => +tb.dataset.i);
          out.shown = document.getElementById("shown").textContent;
          document.querySelector("#case-1 tr.row").click();
          out.opened = document.getElementById("case-1").classList.contains("open");
          document.body.insertAdjacentHTML("beforeend", "<pre id=probe></pre>");
          document.getElementById("probe").textContent = JSON.stringify(out);
        });
    """)
    digest = base64.b64encode(hashlib.sha256(probe.encode()).digest()).decode()
    page = run.page.replace("script-src ", f"script-src 'sha256-{digest}' ", 1)
    page = page.replace("</body>", f"<script>{probe}</script></body>")
    target = tmp_path / "probe.html"
    target.write_text(page, encoding="utf-8")
    dom = _browse(chromium, tmp_path, target, "--dump-dom").stdout
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, dom[-3000:]
    out = json.loads(html.unescape(found.group(1)))
    assert out["desc"] == [3, 2, 1, 0]
    assert out["severity"] == [2, 3, 1, 0]  # errors, then the mismatch, then the pass
    assert out["hidden"] == [0] and out["shown"] == "3 of 4 shown"
    assert out["opened"] is True  # a passing case's details open on click
    assert re.search(r'<html lang="en" class="js">', dom)
