"""A bad config or bad usage exits 2 with `file:line: what is wrong` (and a hint), no traceback, nothing run."""

from __future__ import annotations

import textwrap

import pytest

from helpers import run_cli, write

MODELS = """
import torch
def double(x):
    return x * 2
class Net(torch.nn.Module):
    def forward(self, x):
        return x + 1
"""

GOOD_ENTRY = """\
  - name: ok
    function: models.py:double
    inputs:
      - args: [{shape: [3]}]
"""

BAD = {
    "yaml_syntax": ("version: 1\nmodels:\n  - name: a\n    function: [unclosed\n", 5, "YAML syntax error"),
    "misspelt_key": ("version: 1\nmodels:\n" + GOOD_ENTRY + "    backend: [eager]\n", 7, "did you mean 'backends'"),
    "wrong_type": ("version: 1\nmodels:\n" + GOOD_ENTRY + "    timeout: fast\n", 7, "must be a number"),
    "missing_model_file": ("version: 1\nmodels:\n  - name: a\n    model: nowhere.py:Net\n", 4,
                           "file 'nowhere.py' not found"),
    "duplicate_name": ("version: 1\nmodels:\n" + GOOD_ENTRY + GOOD_ENTRY, 7, "duplicate model name 'ok'"),
    "unknown_dist": ("version: 1\nmodels:\n  - name: a\n    function: models.py:double\n    inputs:\n"
                     "      - args: [{shape: [3], dist: gaussian}]\n", 6, "unknown dist 'gaussian'"),
    "misspelt_dist": ("version: 1\nmodels:\n  - name: a\n    function: models.py:double\n    inputs:\n"
                      "      - args: [{shape: [3], dist: randm}]\n", 6, "did you mean 'rand"),
    "no_version": ("models:\n" + GOOD_ENTRY, 1, "start the file with 'version: 1'"),
    "unknown_dtype": ("version: 1\ndefaults:\n  dtype: float31\nmodels:\n" + GOOD_ENTRY, 3, "did you mean 'float32'"),
    "unknown_device": ("version: 1\ndefaults:\n  device: gpu\nmodels:\n" + GOOD_ENTRY, 3, "use auto, cpu, cuda"),
    "xfail_unknown_backend": ("version: 1\nmodels:\n" + GOOD_ENTRY + "    xfail: {inductr: bug}\n", 7,
                              "did you mean 'inductor'"),
    "duplicate_key": ("version: 1\nversion: 1\nmodels:\n" + GOOD_ENTRY, 2, "duplicate key 'version'"),
    "shape_not_ints": ("version: 1\nmodels:\n  - name: a\n    function: models.py:double\n    inputs:\n"
                       "      - args: [{shape: [3, x]}]\n", 6, "list of non-negative integers"),
    "both_model_and_function": ("version: 1\nmodels:\n  - name: a\n    function: models.py:double\n"
                                "    model: models.py:Net\n", 3, "exactly one of"),
    "unknown_module": ("version: 1\nmodels:\n  - name: a\n    model: no_such_package.sub:Net\n", 4,
                       "no module named 'no_such_package'"),
    "python_tag_not_executed": ("version: 1\nmodels: !!python/object/apply:os.system ['touch PWNED']\n", 2,
                                "YAML"),
    "randint_empty_range": ("version: 1\nmodels:\n  - name: a\n    function: models.py:double\n    inputs:\n"
                            "      - args: [{shape: [3], dist: randint, low: 5, high: 5}]\n", 6,
                            "'low' (5) must be below 'high' (5)"),
    "int_requires_grad": ("version: 1\nmodels:\n  - name: a\n    function: models.py:double\n    inputs:\n"
                          "      - args: [{shape: [3], dtype: int64, requires_grad: true}]\n", 6,
                          "only floating-point tensors can require grad"),
    "value_without_full": ("version: 1\nmodels:\n  - name: a\n    function: models.py:double\n    inputs:\n"
                           "      - args: [{shape: [3], value: 2}]\n", 6, "'value' only applies to dist 'full'"),
    "unknown_mode": ("version: 1\nmodels:\n  - name: a\n    function: models.py:double\n    inputs:\n"
                     "      - args: [{shape: [3]}]\n    backends: [{backend: inductor, mode: max-autotun}]\n", 7,
                     "did you mean 'max-autotune'"),
    "unknown_inductor_option": ("version: 1\nmodels:\n  - name: a\n    function: models.py:double\n    inputs:\n"
                                "      - args: [{shape: [3]}]\n"
                                "    backends: [{backend: inductor, options: {max_autotun: true}}]\n", 7,
                                "unknown inductor option 'max_autotun'"),
    "mode_and_options": ("version: 1\nmodels:\n  - name: a\n    function: models.py:double\n    inputs:\n"
                         "      - args: [{shape: [3]}]\n    backends:\n"
                         "      - {backend: inductor, mode: max-autotune,\n"
                         "         options: {max_autotune: true}}\n", 9,
                         "'mode' and 'options' together"),
    "unknown_dynamo_option": ("version: 1\nmodels:\n  - name: a\n    function: models.py:double\n    inputs:\n"
                              "      - args: [{shape: [3]}]\n    dynamo_config: {alow_rnn: true}\n", 7,
                              "did you mean 'allow_rnn'"),
    "unknown_dim_in_shape": ("version: 1\nmodels:\n  - name: a\n    function: models.py:double\n"
                             "    dims: {B: 4}\n    inputs:\n      - args: [{shape: [b, 3]}]\n", 7,
                             "unknown dim 'b'"),
    "dim_zero": ("version: 1\nmodels:\n  - name: a\n    function: models.py:double\n    dims:\n      B: 0\n"
                 "    inputs:\n      - args: [{shape: [B]}]\n", 6, "dim 'B' must be a positive integer"),
    "dim_bool": ("version: 1\nmodels:\n  - name: a\n    function: models.py:double\n    dims: {B: true}\n"
                 "    inputs:\n      - args: [{shape: [3]}]\n", 5, "got True"),
    "sweep_unknown_dim": ("version: 1\nmodels:\n  - name: a\n    function: models.py:double\n    dims: {B: 4}\n"
                          "    inputs:\n      - args: [{shape: [B]}]\n    sweep: {C: [1]}\n", 8,
                          "sweep of unknown dim 'C'"),
    "sweep_not_a_list": ("version: 1\nmodels:\n  - name: a\n    function: models.py:double\n    dims: {B: 4}\n"
                         "    inputs:\n      - args: [{shape: [B]}]\n    sweep: {B: 2}\n", 8,
                         "must be a non-empty list of positive integers"),
    "sweep_value_negative": ("version: 1\nmodels:\n  - name: a\n    function: models.py:double\n"
                             "    dims: {B: 4}\n    inputs:\n      - args: [{shape: [B]}]\n    sweep:\n"
                             "      B:\n        - 1\n        - -2\n", 11,
                             "sweep value of 'B' must be a positive integer, got -2"),
    "sweep_of_an_unused_dim": ("version: 1\nmodels:\n  - name: a\n    function: models.py:double\n"
                               "    dims: {B: 4, T: 8}\n    inputs:\n      - args: [{shape: [B]}]\n"
                               "    sweep:\n      B: [1]\n      T: [3]\n", 10,
                               "sweep of 'T', which no shape of input set 1 uses"),
    "sweep_without_inputs": ("version: 1\nmodels:\n  - name: a\n    function: models.py:double\n"
                             "    dims: {B: 4}\n    sweep: {B: [1]}\n", 6, "'sweep' needs listed 'inputs:'"),
    "sweep_as_default": ("version: 1\ndefaults:\n  sweep: {B: [1]}\nmodels:\n" + GOOD_ENTRY, 3,
                         "'sweep' cannot be a default"),
    "unknown_backend": ("version: 1\nmodels:\n  - name: a\n    function: models.py:double\n    inputs:\n"
                        "      - args: [{shape: [3]}]\n    backends: [aot_eagre]\n", 7, "did you mean 'aot_eager'"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_config_exits_2_with_file_line_and_fix(tmp_path, name):
    text, line, expected = BAD[name]
    write(tmp_path / "models.py", MODELS)
    config = write(tmp_path / "cfg.yaml", text)
    proc = run_cli("run", str(config), "--junit", str(tmp_path / "r.xml"), cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"{config}:{line}:" in proc.stderr, proc.stderr
    assert expected in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "r.xml").exists(), "nothing runs, nothing is reported"
    assert not (tmp_path / "PWNED").exists(), "loading a config never executes it"


def test_every_mistake_is_reported_at_once(tmp_path):
    write(tmp_path / "models.py", MODELS)
    config = write(tmp_path / "cfg.yaml", textwrap.dedent("""\
        version: 1
        defaults:
          dtype: float31
        models:
          - name: a
            function: models.py:double
            timeout: -1
    """))
    proc = run_cli("run", str(config), cwd=tmp_path)
    assert proc.returncode == 2
    assert f"{config}:3:" in proc.stderr and f"{config}:7:" in proc.stderr


def test_duplicate_model_names_across_configs(tmp_path):
    write(tmp_path / "models.py", MODELS)
    a = write(tmp_path / "a.yaml", "version: 1\nmodels:\n" + GOOD_ENTRY)
    b = write(tmp_path / "b.yaml", "version: 1\nmodels:\n" + GOOD_ENTRY)
    proc = run_cli("run", str(a), str(b), cwd=tmp_path)
    assert proc.returncode == 2
    assert f"{b}:3:" in proc.stderr and f"{a}:3" in proc.stderr


@pytest.mark.parametrize("args, expected", [
    (["--fail-on", "mismatch,oops"], "unknown outcome 'oops'"),
    (["--shard", "4/3"], "I must be between 1 and N"),
    (["--shard", "two"], "--shard must look like I/N"),
    (["--only", "nothing*"], "matches nothing"),
    (["--memory-limit", "lots"], "cannot read size"),
    (["--backends", "inductor,,nope.py:f"], "custom backend file 'nope.py' not found (looked in"),
])
def test_bad_usage_exits_2(tmp_path, args, expected):
    write(tmp_path / "models.py", MODELS)
    config = write(tmp_path / "cfg.yaml", "version: 1\nmodels:\n" + GOOD_ENTRY)
    proc = run_cli("run", str(config), *args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert expected in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_config_file(tmp_path):
    proc = run_cli("run", str(tmp_path / "absent.yaml"), cwd=tmp_path)
    assert proc.returncode == 2 and "config file not found" in proc.stderr


def test_argparse_usage_error_is_exit_2(tmp_path):
    proc = run_cli("run", cwd=tmp_path)
    assert proc.returncode == 2 and "usage:" in proc.stderr


def test_bad_paths_and_devices_are_caught_before_running(tmp_path):
    write(tmp_path / "models.py", MODELS)
    config = write(tmp_path / "cfg.yaml", "version: 1\nmodels:\n" + GOOD_ENTRY)
    write(tmp_path / "afile", "")
    for args, expected in ((["--device", "gpu"], "--device: unknown device 'gpu'"),
                           (["--junit", str(tmp_path)], "is a directory"),
                           (["--json", "afile/out.json"], "cannot create it"),
                           (["--resume", "nosuch.jsonl"], "no such journal file"),
                           (["--cache-dir", "afile"], "is not a directory"),
                           (["--memory-limit", "1K"], "too small"),
                           (["--fail-on", ""], "names no outcome")):
        proc = run_cli("run", str(config), *args, cwd=tmp_path)
        assert proc.returncode == 2, (args, proc.stderr)
        assert expected in proc.stderr and "Traceback" not in proc.stderr, (args, proc.stderr)
    assert not list(tmp_path.glob("*.tmp"))


def test_min_speedup_needs_benchmark(tmp_path):
    write(tmp_path / "models.py", MODELS)
    config = write(tmp_path / "cfg.yaml", "version: 1\nmodels:\n" + GOOD_ENTRY
                   + "    min_speedup: 1.5\n    benchmark: false\n")
    proc = run_cli("run", str(config), cwd=tmp_path)
    assert proc.returncode == 2 and f"{config}:7:" in proc.stderr and "min_speedup" in proc.stderr


def test_a_mistake_in_defaults_is_reported_once(tmp_path):
    write(tmp_path / "models.py", MODELS)
    config = write(tmp_path / "cfg.yaml", "version: 1\ndefaults:\n  timeout: 0\nmodels:\n" + GOOD_ENTRY
                   + GOOD_ENTRY.replace("name: ok", "name: ok2"))
    proc = run_cli("run", str(config), cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.count(f"{config}:3:") == 1
    assert "'timeout' must be > 0" in proc.stderr
