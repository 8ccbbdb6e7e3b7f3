"""JUnit, JSON and Markdown reports of a real run: valid against the strict schema, read back correctly by
junitparser (what EnricoMi's publisher uses), and free of junit-xml's traps."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

from helpers import results_by_id, run_cli, write

MODELS = '''
import torch

def relu3(x):
    return torch.relu(x) * 3

def noisy(x):
    import os
    return x + int.from_bytes(os.urandom(2), "little") * 1e-3

def loud(x):
    print("\\x1b[31mred text\\x1b[0m and a bell \\x07 from the model")
    return torch.relu(x) * 3
'''

CONFIG = """\
version: 1
defaults:
  device: cpu
  benchmark: false
models:
  - name: relu3
    function: models.py:relu3
    inputs: [{args: [{shape: [8]}]}]
    backends: [aot_eager, relu_accuracy_error_TESTING_ONLY, relu_compile_error_TESTING_ONLY]
  - name: loud
    function: models.py:loud
    inputs: [{args: [{shape: [8]}]}]
    backends: [relu_accuracy_error_TESTING_ONLY]
  - name: noisy
    function: models.py:noisy
    inputs: [{args: [{shape: [4]}]}]
    backends: [aot_eager]
  - name: gpu_only
    function: models.py:relu3
    device: cuda
    inputs: [{args: [{shape: [8]}]}]
    backends: [aot_eager]
  - name: known
    function: models.py:relu3
    inputs: [{args: [{shape: [8]}]}]
    backends: [aot_eager, relu_accuracy_error_TESTING_ONLY]
    xfail: {relu_accuracy_error_TESTING_ONLY: "tracked upstream", aot_eager: "fixed already"}
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("reports")
    write(d / "models.py", MODELS)
    write(d / "cfg.yaml", CONFIG)
    proc = run_cli("run", "cfg.yaml", "--junit", "out/report.xml", "--junit-strict", "--json", "out/results.json",
                   "--markdown", "out/summary.md", cwd=d)
    return d, proc


def _cases(xml_path):
    from junitparser import JUnitXml

    return {case.name: case for suite in JUnitXml.fromfile(str(xml_path)) for case in suite}


def test_exit_code_is_1_when_a_failing_outcome_happened(run):
    d, proc = run
    assert proc.returncode == 1
    assert "case(s) failed" in proc.stderr


def test_junit_is_valid_against_the_strict_schema(run, junit_schema):
    d, _ = run
    junit_schema.validate(str(d / "out" / "report.xml"))


def test_junit_outcomes_read_back_by_junitparser(run):
    from junitparser import Error, Failure, Skipped

    d, _ = run
    cases = _cases(d / "out" / "report.xml")
    expected = {
        "relu3[aot_eager]": None,
        "relu3[relu_accuracy_error_TESTING_ONLY]": Failure,
        "relu3[relu_compile_error_TESTING_ONLY]": Error,
        "loud[relu_accuracy_error_TESTING_ONLY]": Failure,
        "noisy[aot_eager]": Skipped,  # flaky
        "gpu_only[aot_eager]": Skipped,
        "known[relu_accuracy_error_TESTING_ONLY]": Skipped,  # xfail
        "known[aot_eager]": Failure,  # xpass
    }
    assert set(cases) == set(expected)
    for name, kind in expected.items():
        result = cases[name].result
        if kind is None:
            assert result == [], name
        else:
            assert len(result) == 1 and isinstance(result[0], kind), (name, result)
            assert result[0].message, f"{name}: junit-xml drops an empty message and the case passes"


def test_failure_message_and_body_carry_the_located_diff(run):
    d, _ = run
    failure = _cases(d / "out" / "report.xml")["relu3[relu_accuracy_error_TESTING_ONLY]"].result[0]
    assert failure.type == "mismatch"
    assert "output" in failure.message and "max abs err" in failure.message
    assert "input set 1" in failure.text, "GitLab shows only the body"


def test_error_type_is_the_phase_and_body_the_traceback(run):
    d, _ = run
    error = _cases(d / "out" / "report.xml")["relu3[relu_compile_error_TESTING_ONLY]"].result[0]
    assert error.type == "compile"
    assert "Traceback" in error.text


def test_skips_say_why(run):
    d, _ = run
    cases = _cases(d / "out" / "report.xml")
    assert cases["noisy[aot_eager]"].result[0].message.startswith("flaky: eager disagrees with itself")
    assert "no CUDA device" in cases["gpu_only[aot_eager]"].result[0].message or _has_gpu()
    assert "tracked upstream" in cases["known[relu_accuracy_error_TESTING_ONLY]"].result[0].message


def _has_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


def test_junit_xml_traps_are_closed(run):
    d, _ = run
    text = (d / "out" / "report.xml").read_text()
    assert "disabled=" not in text
    times = re.findall(r'time="([^"]+)"', text)
    assert times and all(re.fullmatch(r"\d+\.\d{3}", t) for t in times), times
    assert "\x1b" not in text and "[31m" not in text and "\x07" not in text
    assert "red text" in text, "captured output is kept, minus its colour codes"
    root = ET.fromstring(text.encode())
    names = [c.get("name") for c in root.iter("testcase")]
    assert len(names) == len(set(names)), "consumers drop duplicate names"


def test_file_line_mode_points_at_the_model_entry(run, tmp_path):
    d, _ = run
    proc = run_cli("run", "cfg.yaml", "--only", "relu3", "--junit", str(tmp_path / "r.xml"), "--junit-file-line",
                   cwd=d)
    assert proc.returncode == 1
    case = next(ET.parse(tmp_path / "r.xml").getroot().iter("testcase"))
    assert case.get("file") == "cfg.yaml" and case.get("line") == "6"


def test_json_holds_every_case_full_record(run):
    d, _ = run
    data = json.loads((d / "out" / "results.json").read_text())
    assert data["format"] == "verify-compile-results/2" and data["meta"]["torch"]
    assert all(set(r) == {"observation", "expectation", "verdict"} for r in data["results"])
    by_id = results_by_id(d / "out" / "results.json")
    mismatch = by_id["relu3[relu_accuracy_error_TESTING_ONLY]"]
    assert mismatch["mismatches"][0]["where"] == "output"
    assert mismatch["health"]["graphs"] == 1 and mismatch["compile_time"] is not None
    indexes = [r["observation"]["index"] for r in data["results"]]
    assert indexes == sorted(indexes)


def test_markdown_summary_has_matrix_and_details(run):
    d, _ = run
    md = (d / "out" / "summary.md").read_text()
    assert "| model |" in md and "| relu3 |" in md
    assert "<details>" in md and "relu3[relu_compile_error_TESTING_ONLY]" in md


def test_terminal_shows_a_line_per_case_and_a_final_table(run):
    _, proc = run
    assert re.search(r"\[\s*\d+/8\] MISMATCH relu3\[relu_accuracy_error_TESTING_ONLY\]", proc.stderr)
    assert "case" in proc.stdout and "8 case(s):" in proc.stdout


def test_fail_on_chooses_what_fails_the_run(run):
    d, _ = run
    assert run_cli("run", "cfg.yaml", "--only", "noisy", cwd=d).returncode == 0
    assert run_cli("run", "cfg.yaml", "--only", "noisy", "--fail-on", "mismatch,flaky", cwd=d).returncode == 1
    assert run_cli("run", "cfg.yaml", "--only", "relu3[aot_eager]", cwd=d).returncode == 0
