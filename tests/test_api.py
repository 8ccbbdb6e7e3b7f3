"""The Python API as a user's pytest file would use it: live objects, real backends, in this process."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn

from helpers import REPO, load_fixture
from verify_compile import assert_verified, verify

mul_to_add = load_fixture("backends").mul_to_add


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(16, 8)

    def forward(self, x: torch.Tensor, *, scale: float = 1.0) -> torch.Tensor:
        return torch.relu(self.fc(x)) * scale


def seed_scenario(x, pair, k):
    return x * pair[0] + pair[1] * k


def crashing(gm, example_inputs):
    raise RuntimeError("this backend cannot compile anything")


def _wrong_grads(gm, example_inputs):
    def run(*args):
        return [t * 1.01 if isinstance(t, torch.Tensor) else t for t in gm.forward(*args)]
    return run


def wrong_grad():
    from torch._dynamo.backends.common import aot_autograd

    return aot_autograd(fw_compiler=lambda gm, ex: gm.forward, bw_compiler=_wrong_grads)


def test_a_module_passes_and_is_left_as_it_was():
    model = Block()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = assert_verified(model, (torch.randn(4, 16),), backend="aot_eager")
    assert (result.outcome, result.failed) == ("pass", False) and result.input_sets == 2  # the re-drawn call
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items()), "the caller's model is untouched"


def test_kwargs_and_several_input_sets():
    result = verify(Block(), inputs=[((torch.randn(4, 16),), {"scale": 2.0}), {"args": (torch.randn(3, 16),)}],
                    backend="aot_eager")
    assert result.outcome == "pass" and result.input_sets == 2


def test_a_function_of_the_seeds_shape_and_a_wrong_backend_is_a_located_mismatch():
    args = (torch.randn(4), (torch.randn(4), torch.randn(4)), 4)
    assert verify(seed_scenario, args, backend="aot_eager").outcome == "pass"
    result = verify(seed_scenario, args, backend=mul_to_add)
    assert result.outcome == "mismatch" and result.failed
    assert result.message.startswith("input set 1: output: ") and "worst at" in result.message
    with pytest.raises(AssertionError, match=r"seed_scenario\[mul_to_add\]: mismatch: input set 1: output"):
        assert_verified(seed_scenario, args, backend=mul_to_add)


def test_a_crashing_backend_is_an_error_result_not_an_exception():
    result = verify(seed_scenario, (torch.randn(4), (torch.randn(4), torch.randn(4)), 2), backend=crashing)
    assert (result.outcome, result.phase) == ("error", "compile")
    assert "this backend cannot compile anything" in result.message


def test_train_compares_gradients_and_names_the_wrong_one():
    x = torch.randn(4, 16, requires_grad=True)
    assert verify(Block(), (x,), backend="aot_eager", train=True).outcome == "pass"
    result = verify(Block(), (x,), backend=wrong_grad(), train=True)
    assert result.outcome == "mismatch", result.message
    assert {m.where for m in result.mismatches} >= {"grad fc.weight", "grad fc.bias"}, result.details


def test_the_config_mapping_form_and_a_tolerance():
    result = verify(seed_scenario, (torch.randn(4), (torch.randn(4), torch.randn(4)), 3),
                    backend={"backend": "aot_eager", "id": "mine"}, tolerance=(1e-4, 1e-4))
    assert result.case_id == "seed_scenario[mine]" and result.outcome == "pass"
    with pytest.raises(ValueError, match="takes no mode or options"):
        verify(seed_scenario, (torch.randn(4), (torch.randn(4), torch.randn(4)), 3), backend="eager",
               mode="max-autotune")


def test_importing_the_package_imports_no_torch():
    code = ("import sys, verify_compile; f = verify_compile.verify; "
            "sys.exit('torch' in sys.modules and 'imported torch')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO / "entrypoint")})
    assert proc.returncode == 0, proc.stdout + proc.stderr
