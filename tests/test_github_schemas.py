"""The action, the repository's workflows and the Dockerfile pass the validators GitHub users reach for:
check-jsonschema's GitHub schemas and hadolint. The README's workflows are checked in test_readme.py."""

from __future__ import annotations

import re
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


def test_every_action_input_reaches_the_step():
    """An input that is declared but not passed on (or the reverse) is silently ignored; catch both."""
    import yaml

    action = yaml.safe_load((REPO / "action.yml").read_text())
    (step,) = action["runs"]["steps"]
    passed = {m.lower() for m in re.findall(r"\$\{\{ inputs\.(\w+) \}\}", str(step["env"]))}
    assert passed == set(action["inputs"])
    assert "${{" not in step["run"], "inputs must reach the script through env, never inside run:"
    assert set(action["outputs"]) >= {"junit_path", "total", "passed", "mismatched", "errored", "skipped"}
    # docker mode hands every INPUT_ variable on to the container by name
    forwarded = re.search(r"for name in (.*?); do", step["run"], re.S).group(1).replace("\\", " ").split()
    assert {f"INPUT_{n}" for n in forwarded} == {k for k in step["env"] if k.startswith("INPUT_")}


def test_merge_installs_the_dependencies_but_torch():
    """mode python + merge installs the tool --no-deps and then its dependencies by hand: keep them in step
    (all but torch and numpy, which only the workers' torch needs)."""
    tomllib = pytest.importorskip("tomllib")
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    run = (REPO / "action.yml").read_text()
    line = next(line for line in run.splitlines() if "pyyaml" in line and "pip install" in line)
    assert set(re.findall(r'"([A-Za-z][\w.-]*[<>=!~][^"]*)"', line)) == {
        d for d in deps if not d.startswith(("torch", "numpy"))}


def test_dockerfile_passes_hadolint():
    check(tool("hadolint"), str(REPO / "Dockerfile"))


def test_the_repositorys_workflows_pin_every_action():
    """A moving tag (@v4) can change under a workflow; an exact release (@v4.2.2) or a commit cannot."""
    for path in WORKFLOWS:
        for ref in re.findall(r"^\s*(?:-\s*)?uses:\s*(\S+)", path.read_text(), re.M):
            assert ref.startswith("./") or re.search(r"@(v\d+\.\d+\.\d+|[0-9a-f]{40})$", ref), f"{path.name}: {ref}"


def test_the_release_pushes_the_image_the_action_pulls():
    """The release tags each image `VERSION-torchTORCH-VARIANT`; the action pulls exactly that name, for the torch
    the Dockerfile pins."""
    import yaml

    release = (REPO / ".github" / "workflows" / "release.yml").read_text()
    assert 'echo "$image:$VERSION-torch$TORCH-$VARIANT"' in release
    assert "ghcr.io/${GITHUB_REPOSITORY,,}" in release
    action = yaml.safe_load((REPO / "action.yml").read_text())
    run = action["runs"]["steps"][0]["run"]
    assert 'prebuilt="ghcr.io/${VC_ACTION_REPOSITORY,,}:$version-torch$VC_TORCH_VERSION-$variant"' in run
    dockerfile_torch = re.search(r"^ARG TORCH_VERSION=(\S+)$", (REPO / "Dockerfile").read_text(), re.M).group(1)
    assert action["inputs"]["torch_version"]["default"] == dockerfile_torch
    matrix = yaml.safe_load(release)["jobs"]["images"]["strategy"]["matrix"]["include"]
    assert {m["variant"] for m in matrix} == {"cpu", "cuda"}
