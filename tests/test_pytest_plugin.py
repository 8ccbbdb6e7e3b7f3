"""The pytest plugin, driven as a user drives it: `pytest --verify-compile CONFIG` in a project of its own, with
real workers and backends; its JUnit report read back."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from helpers import REPO, ConfigDir

CONFIG = """version: 1
defaults: {device: cpu, benchmark: false}
models:
  - name: good
    function: models.py:relu_model
    inputs: [{args: [{shape: [6]}]}]
    backends: [aot_eager, backends.py:mul_to_add]
  - name: seed
    function: models.py:seed_scenario
    inputs: [{args: [{shape: [4]}, [{shape: [4]}, {shape: [4]}], 4]}]
    backends: [backends.py:mul_to_add, aot_eager]
    xfail: {mul_to_add: {reason: "known mul bug", outcome: mismatch}, aot_eager: "wrongly expected"}
  - name: gpu
    function: models.py:relu_model
    device: cuda
    inputs: [{args: [{shape: [6]}]}]
    backends: [aot_eager]
  - name: crash
    function: models.py:relu_model
    inputs: [{args: [{shape: [6]}]}]
    backends: [backends.py:segfault]
"""


def pytest_in(folder: Path, *args: str) -> subprocess.CompletedProcess:
    """A user's `pytest` in their own project folder (this repository's settings stay out of it)."""
    (folder / "pytest.ini").write_text("[pytest]\n")
    env = {**os.environ, "PYTHONPATH": str(REPO / "entrypoint")}
    return subprocess.run([sys.executable, "-m", "pytest", *args], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    folder = ConfigDir(tmp_path_factory.mktemp("plugin"))
    folder(CONFIG, name="models.yaml")
    if torch_has_cuda():
        (folder.path / "models.yaml").write_text(CONFIG.replace("device: cuda", "device: cuda:99"))
    return folder.path


def torch_has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def test_every_case_is_a_test_with_its_verdict(project):
    proc = pytest_in(project, "--verify-compile", "models.yaml", "--junitxml", "junit.xml", "-v", "-rsxX")
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert "models.yaml::good[aot_eager] PASSED" in out
    assert "models.yaml::good[mul_to_add] FAILED" in out
    assert "models.yaml::seed[mul_to_add] XFAIL" in out and "known mul bug" in out
    assert "models.yaml::seed[aot_eager] FAILED" in out and "XPASS(strict)" in out
    assert "models.yaml::gpu[aot_eager] SKIPPED" in out and "no CUDA device is visible" in out
    assert "models.yaml::crash[segfault] FAILED" in out
    assert "good[mul_to_add]: mismatch: input set 1: output: " in out, "the located message, no traceback"
    cases = {c.get("name"): c for c in ET.parse(project / "junit.xml").getroot().iter("testcase")}
    assert set(cases) == {"good[aot_eager]", "good[mul_to_add]", "seed[mul_to_add]", "seed[aot_eager]",
                          "gpu[aot_eager]", "crash[segfault]"}
    assert "worst at" in cases["good[mul_to_add]"].find("failure").get("message")
    assert cases["crash[segfault]"].find("failure") is not None
    assert cases["gpu[aot_eager]"].find("skipped") is not None


def test_k_lf_and_x_work_as_for_any_test(project):
    only = pytest_in(project, "--verify-compile", "models.yaml", "-k", "good and aot_eager", "-q")
    assert only.returncode == 0 and "1 passed, 5 deselected" in only.stdout, only.stdout
    pytest_in(project, "--verify-compile", "models.yaml", "-q")
    last_failed = pytest_in(project, "--verify-compile", "models.yaml", "--lf", "-q")
    assert "3 failed" in last_failed.stdout and "passed" not in last_failed.stdout, last_failed.stdout
    first = pytest_in(project, "--verify-compile", "models.yaml", "-x", "-q")
    assert "1 failed, 1 passed" in first.stdout, first.stdout


def test_fail_on_decides_what_fails(project):
    proc = pytest_in(project, "--verify-compile", "models.yaml", "--verify-compile-fail-on", "error", "-q", "-rs",
                     "-k", "good")
    assert proc.returncode == 0 and "1 passed, 1 skipped" in proc.stdout, proc.stdout
    assert "mismatch: input set 1" in proc.stdout


def test_a_config_error_is_a_usage_error_naming_file_and_line(tmp_path):
    folder = ConfigDir(tmp_path)
    folder("version: 1\nmodels:\n  - name: m\n    function: models.py:relu_model\n    backend: [eager]\n",
           name="bad.yaml")
    proc = pytest_in(tmp_path, "--verify-compile", "bad.yaml")
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "bad.yaml:5: unknown key 'backend'" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    typo = ConfigDir(tmp_path / "typo")
    typo("version: 1\nmodels:\n  - name: m\n    function: models.py:relu_model\n    backends: [aot_eagr]\n"
         "    inputs: [{args: [1]}]\n", name="typo.yaml")
    proc = pytest_in(typo.path, "--verify-compile", "typo.yaml")
    assert proc.returncode == 4 and "typo.yaml:5: unknown backend" in proc.stderr, proc.stdout + proc.stderr


def test_without_the_option_the_plugin_does_nothing(tmp_path):
    (tmp_path / "test_x.py").write_text("def test_x():\n    pass\n")
    proc = pytest_in(tmp_path, "-q")
    assert proc.returncode == 0 and "1 passed" in proc.stdout, proc.stdout


@pytest.mark.inductor
def test_the_example_config_runs_as_tests(tmp_path):
    """`pytest --verify-compile configs/example.yaml` (the README's line), into pytest's own JUnit."""
    proc = pytest_in(tmp_path, "--verify-compile", str(REPO / "configs" / "example.yaml"), "--junitxml", "j.xml",
                     "-q")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    cases = list(ET.parse(tmp_path / "j.xml").getroot().iter("testcase"))
    assert len(cases) >= 10 and all(c.find("failure") is None for c in cases)

