"""Config features the README promises, each through a real run: argument kinds, file inputs, example_inputs,
init arguments, dtype casting, tolerances, redraw and overrides. (The live progress display and seeded inputs,
in-process: tests/unit/test_reports_unit.py and tests/unit/test_engine_unit.py.)"""

from __future__ import annotations

import pytest
import torch

from helpers import FIXTURES, results_by_id, run_cli, write

MODELS = '''
import torch
from torch import nn

def kinds(a, b, c, d, e, f, scale, opts):
    assert b.dtype == torch.int64 and bool((b >= 3).all() and (b < 7).all()), "randint low/high"
    assert torch.equal(c, torch.arange(6.0).reshape(2, 3)), "arange"
    assert bool((d == 2.5).all()) and bool((e == 1).all()) and bool((f == 0).all()), "full/ones/zeros"
    assert bool((a >= -1).all() and (a < 1).all()), "rand low/high"
    return a * scale + c.sum() + opts["shift"][0] * b.float().mean()

def from_file(x, y):
    return x @ y

class Scaled(nn.Module):
    def __init__(self, width, factor=1.0):
        super().__init__()
        self.lin = nn.Linear(width, width)
        self.factor = factor

    def forward(self, x):
        return self.lin(x) * self.factor

    def example_inputs(self):
        return (torch.ones(2, self.lin.in_features, dtype=self.lin.weight.dtype),)

def dtype_probe(x):
    return x * 2, torch.tensor(str(x.dtype) == "torch.float64")

def scale_grad(x, w):
    return (x * w).sin()
'''

BACKENDS = '''
import torch

def nudge(gm, example_inputs):
    """Off by 1e-3: wrong at the default tolerance, right within a loose one."""
    def shift(t):
        return t + 1e-3 if t.is_floating_point() else t

    def run(*args):
        out = gm.forward(*args)
        return shift(out) if isinstance(out, torch.Tensor) else type(out)(shift(o) for o in out)
    return run
'''

CONFIG = """\
version: 1
defaults: {device: cpu, benchmark: false, backends: [aot_eager]}
models:
  - name: kinds
    function: models.py:kinds
    inputs:
      - args: [{shape: [2, 3], dist: rand, low: -1, high: 1}, {shape: [4], dist: randint, low: 3, high: 7},
               {shape: [2, 3], dist: arange}, {shape: [2], dist: full, value: 2.5}, {shape: [1], dist: ones},
               {shape: [1], dist: zeros}]
        kwargs: {scale: 0.5, opts: {shift: [3, 4]}}
  - name: from_file
    function: models.py:from_file
    inputs: [{args: [{file: tensors.pt, key: x}, {file: tensors.pt, key: y}]}]
  - name: scaled
    model: models.py:Scaled
    init: {args: [8], kwargs: {factor: 3.0}}
  - name: fp64
    function: models.py:dtype_probe
    dtype: float64
    inputs: [{args: [{shape: [3]}]}]
  - name: loose
    function: models.py:dtype_probe
    inputs: [{args: [{shape: [3]}]}]
    backends: [backends.py:nudge]
    tolerance: {atol: 1e-2, rtol: 0}
  - name: strict
    function: models.py:dtype_probe
    inputs: [{args: [{shape: [3]}]}]
    backends: [backends.py:nudge]
  - name: grads
    function: models.py:scale_grad
    train: true
    inputs: [{args: [{shape: [5], requires_grad: true}, {shape: [5]}]}]
    backends: [aot_eager, stale.py:wrong_grad]
  - name: no_redraw
    model: models.py:Scaled
    init: {args: [4]}
    inputs: [{args: [{shape: [2, 4]}]}]
    backends: [stale.py:stale]
    redraw: false
"""


@pytest.fixture(scope="module")
def results(module_config_dir):
    d = module_config_dir("features", fixtures=())
    d.add("models.py", MODELS)
    d.add("backends.py", BACKENDS)
    d.add("stale.py", FIXTURES / "backends.py")
    torch.save({"x": torch.randn(3, 4), "y": torch.randn(4, 2)}, d.path / "tensors.pt")
    d(CONFIG)
    d.run("run", "cfg.yaml", "--json", "out.json")
    return d.path, results_by_id(d.path / "out.json")


def test_every_argument_kind_reaches_the_model(results):
    r = results[1]["kinds[aot_eager]"]
    assert r["outcome"] == "pass", r["message"] + r["details"]


def test_file_inputs_with_keys(results):
    assert results[1]["from_file[aot_eager]"]["outcome"] == "pass"


def test_init_arguments_and_example_inputs(results):
    r = results[1]["scaled[aot_eager]"]
    assert r["outcome"] == "pass" and r["input_sets"] == 1


def test_dtype_casts_floating_inputs(results):
    assert results[1]["fp64[aot_eager]"]["outcome"] == "pass"


def test_tolerance_is_configurable(results):
    assert results[1]["loose[nudge]"]["outcome"] == "pass"
    strict = results[1]["strict[nudge]"]
    assert strict["outcome"] == "mismatch" and "atol 1e-05" in strict["message"]


def test_input_gradients_are_verified(results):
    assert results[1]["grads[aot_eager]"]["outcome"] == "pass"
    wheres = [m["where"] for m in results[1]["grads[wrong_grad]"]["mismatches"]]
    assert wheres == ["grad input[0]"], "the forward is right; only the input's gradient is wrong"


def test_redraw_false_keeps_a_single_call(results):
    r = results[1]["no_redraw[stale]"]
    assert r["input_sets"] == 1 and r["outcome"] == "pass", "one call cannot reveal a stale result"


def test_overrides_from_the_command_line(results, tmp_path):
    d, _ = results
    write(tmp_path / "cwd_backend.py", "import operator\n\ndef identity(gm, example_inputs):\n    return gm.forward\n")
    proc = run_cli("run", str(d / "cfg.yaml"), "--only", "fp64", "--backends", "eager,cwd_backend.py:identity",
                   "--device", "cpu", "--timeout", "30", "--json", "o.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert set(results_by_id(tmp_path / "o.json")) == {"fp64[eager]", "fp64[identity]"}


def test_input_files_are_loaded_without_executing_them(tmp_path):
    import pickle

    class Payload:
        def __reduce__(self):
            return (exec, (f"open({str(tmp_path / 'PWNED')!r}, 'w').close()",))

    (tmp_path / "evil.pt").write_bytes(pickle.dumps(Payload()))
    write(tmp_path / "models.py", "def double(x):\n    return x * 2\n")
    write(tmp_path / "cfg.yaml", "version: 1\nmodels:\n  - name: evil\n    function: models.py:double\n"
          "    device: cpu\n    inputs: [{args: [{file: evil.pt}]}]\n    backends: [eager]\n")
    proc = run_cli("run", "cfg.yaml", "--json", "out.json", cwd=tmp_path)
    r = results_by_id(tmp_path / "out.json")["evil[eager]"]
    assert proc.returncode == 1 and r["outcome"] == "error" and r["phase"] == "load"
    assert "weights_only" in r["message"] + r["details"]
    assert not (tmp_path / "PWNED").exists()


def test_min_speedup_gate(tmp_path):
    write(tmp_path / "models.py", "def double(x):\n    return x * 2\n")
    write(tmp_path / "cfg.yaml", "version: 1\nmodels:\n  - name: slow\n    function: models.py:double\n"
          "    device: cpu\n    inputs: [{args: [{shape: [4]}]}]\n    backends: [aot_eager]\n"
          "    min_speedup: 1000\n")
    proc = run_cli("run", "cfg.yaml", "--json", "out.json", cwd=tmp_path)
    r = results_by_id(tmp_path / "out.json")["slow[aot_eager]"]
    assert proc.returncode == 1 and r["outcome"] == "gate"
    assert "< min_speedup 1000x" in r["message"] and r["perf"]["speedup"] > 0


def test_input_file_errors_name_the_file_and_keys(tmp_path):
    torch.save({"a": torch.ones(2), "c": torch.zeros(2)}, tmp_path / "t.pt")
    write(tmp_path / "models.py", "def double(x):\n    return x * 2\n")
    write(tmp_path / "cfg.yaml", "version: 1\nmodels:\n  - name: f\n    function: models.py:double\n"
          "    device: cpu\n    inputs: [{args: [{file: t.pt, key: b}]}]\n    backends: [eager]\n")
    run_cli("run", "cfg.yaml", "--json", "out.json", cwd=tmp_path)
    r = results_by_id(tmp_path / "out.json")["f[eager]"]
    assert r["phase"] == "load" and "has no key 'b' (it has: a, c)" in r["message"] and "t.pt" in r["message"]


def test_yaml_anchors_and_merge_keys_share_settings(tmp_path):
    write(tmp_path / "models.py", "def double(x):\n    return x * 2\n")
    write(tmp_path / "cfg.yaml", "version: 1\nx-common: &common\n  function: models.py:double\n  device: cpu\n"
          "  backends: [eager]\n  inputs: [{args: [{shape: [3]}]}]\nmodels:\n  - <<: *common\n    name: a\n"
          "  - <<: *common\n    name: b\n    backends: [aot_eager]\n")
    proc = run_cli("run", "cfg.yaml", "--json", "out.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert set(results_by_id(tmp_path / "out.json")) == {"a[eager]", "b[aot_eager]"}, "own keys override merged"
