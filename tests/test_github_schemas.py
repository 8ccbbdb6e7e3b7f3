"""The action, the repository's workflows and the Dockerfile pass the validators GitHub users reach for:
check-jsonschema's GitHub schemas and hadolint. (How they agree with each other, read without a tool:
tests/unit/test_action_files.py; the README's workflows: test_readme.py.)"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from helpers import REPO

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.y*ml"))


def tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]' provides it)")
    return path


def check(*cmd: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_action_matches_the_github_actions_schema():
    check(tool("check-jsonschema"), "--builtin-schema", "vendor.github-actions", str(REPO / "action.yml"))


def test_workflows_match_the_github_workflows_schema():
    assert WORKFLOWS, "the example workflow is missing"
    check(tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS))


def test_dockerfile_passes_hadolint():
    check(tool("hadolint"), str(REPO / "Dockerfile"))
