"""Making one call of a model or compiled model and recording everything it did (an Observation)."""

from __future__ import annotations

from typing import Any, Callable, Optional

import torch

from verify_compile.compare import Observation
from verify_compile.inputs import clone_value, map_tensors, tensor_leaves
from verify_compile.torchstate import seed_everything


class NoGradientError(Exception):
    """`train: true`, but nothing in the output can be differentiated."""


def state_of(module: Optional[torch.nn.Module]) -> dict:
    """Every parameter and buffer by report name ("param fc.weight", "buffer bn.running_mean")."""
    if module is None:
        return {}
    state = {f"param {n}": p.detach() for n, p in module.named_parameters()}
    state.update({f"buffer {n}": b.detach() for n, b in module.named_buffers()})
    return state


def call_once(fn: Callable, module: Optional[torch.nn.Module], args: tuple, kwargs: dict, seed: int,
              train: bool, pristine: dict) -> Observation:
    """Call `fn` on fresh clones of the inputs with the RNG reset to `seed`; with `train`, also backward."""
    args, kwargs = clone_value(args), clone_value(kwargs)
    if module is not None and train:
        module.zero_grad(set_to_none=True)
    seed_everything(seed)
    with torch.set_grad_enabled(train):
        output = fn(*args, **kwargs)
    grads: dict = {}
    if train:
        scalar_loss(output).backward()
        if module is not None:
            grads = {f"grad {n}": _copy(p.grad) for n, p in module.named_parameters() if p.requires_grad}
        for path, t in tensor_leaves((args, kwargs), "input"):
            if t.requires_grad and t.is_leaf:
                grads[f"grad {_input_path(path)}"] = _copy(t.grad)
    changed = {name: value.clone() for name, value in state_of(module).items()
               if name not in pristine or not _same(value, pristine[name])}
    detached = map_tensors(output, lambda t: t.detach().clone())
    return Observation(output=detached, inputs=_inputs_after(args, kwargs), state=changed, grads=grads)


def scalar_loss(output: Any) -> torch.Tensor:
    """A scalar to backpropagate: the sum of the means of every differentiable floating output."""
    leaves = [t for _, t in tensor_leaves(output, "output") if t.requires_grad and t.is_floating_point()]
    if not leaves:
        raise NoGradientError("train: true, but no output requires grad (are all parameters frozen, or is "
                              "the output detached?)")
    return sum(t.float().mean() for t in leaves)


def _inputs_after(args: tuple, kwargs: dict) -> tuple:
    return (map_tensors(args, lambda t: t.detach().clone()), map_tensors(kwargs, lambda t: t.detach().clone()))


def _input_path(path: str) -> str:
    # tensor_leaves names (args, kwargs) as input[0][i] / input[1]['k']: report input[i] / input['k']
    return "input" + path[len("input[0]"):] if path.startswith(("input[0]", "input[1]")) else path


def _copy(t: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
    return None if t is None else t.detach().clone()


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and bool(torch.equal(a, b))
