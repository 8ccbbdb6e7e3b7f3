"""A case can crash, hang, exhaust memory or leak global state: it costs that case, never the run."""

from __future__ import annotations

import pytest

from helpers import ConfigDir, results_by_id


def _config(d: ConfigDir, entries: str) -> str:
    return d("version: 1\ndefaults:\n  device: cpu\n  benchmark: false\nmodels:\n" + entries).name


def _case(name: str, backend: str, timeout: int = 120) -> str:
    return (f"  - name: {name}\n    function: models.py:relu_model\n    timeout: {timeout}\n"
            f"    inputs: [{{args: [{{shape: [4]}}]}}]\n    backends: [{backend}]\n")


@pytest.fixture(scope="module")
def crashes(module_config_dir):
    d = module_config_dir("crashes")
    entries = "".join(_case(f"{kind}", f"backends.py:{kind}") + _case(f"after_{kind}", "aot_eager")
                      for kind in ("segfault", "abort", "exit_hard", "alloc_forever", "alloc_impossible"))
    entries += _case("hang", "backends.py:hang", timeout=8) + _case("after_hang", "aot_eager")
    cfg = _config(d, entries)
    proc = d.run("run", cfg, "--json", "out.json", "--junit", "out.xml", "--junit-strict", "--memory-limit", "1.5G")
    assert proc.returncode == 1, proc.stderr
    return d.path, results_by_id(d.path / "out.json")


@pytest.mark.parametrize("kind, text", [
    ("segfault", "killed by SIGSEGV"),
    ("abort", "killed by SIGABRT"),
    ("exit_hard", "exited with code 3"),
    ("alloc_forever", "exceeded the memory limit of 1.5 GiB"),
])
def test_a_crashing_worker_costs_one_case(crashes, kind, text):
    _, results = crashes
    r = results[f"{kind}[{kind}]"]
    assert r["outcome"] == "error" and r["phase"] == "crash", r["message"]
    assert text in r["message"]
    assert "in phase 'compile'" in r["message"], "the crash is placed in the phase it hit"
    assert results[f"after_{kind}[aot_eager]"]["outcome"] == "pass", "the run went on with a new worker"


def test_an_allocation_that_fails_is_an_error_of_its_phase(crashes):
    _, results = crashes
    r = results["alloc_impossible[alloc_impossible]"]
    assert r["outcome"] == "error" and r["phase"] == "compile"
    assert results["after_alloc_impossible[aot_eager]"]["outcome"] == "pass"


def test_a_hanging_case_times_out_and_the_run_goes_on(crashes):
    _, results = crashes
    r = results["hang[hang]"]
    assert r["outcome"] == "error" and r["phase"] == "timeout"
    assert "no result after 8 s" in r["message"] and "phase 'compile'" in r["message"]
    assert 8 <= r["duration"] < 30
    assert results["after_hang[aot_eager]"]["outcome"] == "pass"


def test_crash_reports_keep_the_workers_last_words(crashes):
    _, results = crashes
    for kind in ("segfault", "abort"):
        details = results[f"{kind}[{kind}]"]["details"]
        assert "last output of the worker" in details and "Fatal Python error" in details, details
        assert "backends.py" in details, "the Python stack shows where it crashed"


def test_crashes_still_give_a_valid_report(crashes, junit_schema):
    d, _ = crashes
    junit_schema.validate(str(d / "out.xml"))


def test_no_global_state_leaks_between_cases(config_dir, tmp_path):
    cfg = _config(config_dir, _case("leaky", "backends.py:leaky") + (
        "  - name: clean\n    function: models.py:assert_clean_state\n"
        "    inputs: [{args: [{shape: [4]}]}]\n    backends: [aot_eager]\n"))
    proc = config_dir.run("run", cfg, "--json", "out.json", "--workers", "1")
    results = results_by_id(tmp_path / "out.json")
    assert results["leaky[leaky]"]["outcome"] == "pass"
    assert results["clean[aot_eager]"]["outcome"] == "pass", results["clean[aot_eager]"]["message"]
    assert proc.returncode == 0


def test_workers_are_the_oom_killers_first_choice(config_dir, tmp_path):
    cfg = _config(config_dir, "  - name: oom_adj\n    model: models.py:AssertsExpendable\n"
                  "    inputs: [{args: [{shape: [4]}]}]\n    backends: [eager]\n")
    proc = config_dir.run("run", cfg, "--json", "out.json")
    assert proc.returncode == 0, results_by_id(tmp_path / "out.json")["oom_adj[eager]"]["message"]


def test_eager_reference_is_computed_once_per_model(config_dir, tmp_path):
    cfg = _config(config_dir, f"  - name: shared\n    model: models.py:CountsConstruction\n"
                  f"    init: {{args: ['{tmp_path / 'built.log'}']}}\n    inputs: [{{args: [{{shape: [2, 4]}}]}}]\n"
                  "    backends: [eager, aot_eager, aot_eager_decomp_partition]\n")
    proc = config_dir.run("run", cfg, "--json", "out.json")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "built.log").read_text().count("built") == 1, "one model build serves all three backends"
