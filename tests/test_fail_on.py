"""Every rendering agrees with the exit code, for the default and custom --fail-on: the JSON conclusion and
per-case flags, the Markdown summary's first line, the HTML page's <title>, and JUnit's failure elements."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

from helpers import FIXTURES, results_of, run_cli, write

CONFIG = f"""
version: 1
models:
  - name: seed
    function: {FIXTURES}/models.py:seed_scenario
    inputs: [{{args: [{{shape: [4]}}, [{{shape: [4]}}, {{shape: [4]}}], 3]}}]
    backends: [aot_eager, "{FIXTURES}/backends.py:mul_to_add"]
    benchmark: false
  - name: noisy
    function: {FIXTURES}/models.py:noisy
    inputs: [{{args: [{{shape: [4]}}]}}]
    backends: [aot_eager]
    benchmark: false
"""

# (--fail-on, --only, exit code, failing case ids)
VARIANTS = [
    (None, "seed*", 1, {"seed[mul_to_add]"}),
    ("none", "seed*", 0, set()),
    ("mismatch,flaky", "noisy*", 1, {"noisy[aot_eager]"}),
    ("error", "*", 0, set()),
    ("mismatch,flaky", "*", 1, {"seed[mul_to_add]", "noisy[aot_eager]"}),
]


@pytest.mark.parametrize("fail_on, only, code, failing", VARIANTS,
                         ids=["default", "none", "mismatch-flaky-on-flaky-only", "error", "mismatch-flaky"])
def test_every_report_agrees_with_the_exit_code(tmp_path, fail_on, only, code, failing):
    config = write(tmp_path / "c.yaml", CONFIG)
    args = ["run", str(config), "--only", only, "--json", "r.json", "--markdown", "s.md", "--html", "r.html",
            "--junit", "j.xml"] + (["--fail-on", fail_on] if fail_on else [])
    proc = run_cli(*args, cwd=tmp_path, timeout=300)
    assert proc.returncode == code, proc.stderr
    word = "failed" if code else "passed"
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["conclusion"] == word
    results = results_of(tmp_path / "r.json")
    assert {r["case_id"] for r in results if r["failed"]} == failing
    assert all(r["judgement"] and r["observed"] for r in results)
    first = (tmp_path / "s.md").read_text().splitlines()[0]
    assert first.startswith(f"## verify-compile: {'❌' if code else '✅'} {word}:"), first
    title = re.search(r"<title>(.*?)</title>", (tmp_path / "r.html").read_text()).group(1)
    assert title.startswith(f"verify-compile {word}:"), title
    root = ET.parse(tmp_path / "j.xml").getroot()
    red = {tc.get("name") for tc in root.iter("testcase") if tc.find("failure") is not None
           or tc.find("error") is not None}
    assert red == failing
    assert f"verify-compile: {word}" in proc.stderr
