"""Making one call of a model or compiled model and recording everything it did (a CallRecord)."""

from __future__ import annotations

from typing import Any, Callable, Optional

import torch

try:
    import numpy as np
except ImportError:  # torch runs without numpy
    np = None

from verify_compile.engine.compare import CallRecord
from verify_compile.engine.inputs import clone_value
from verify_compile.engine.torchstate import seed_everything
from verify_compile.engine.tree import map_tensors, tensor_leaves


class NoGradientError(Exception):
    """`train: true`, but nothing in the output can be differentiated."""


def state_of(module: Optional[torch.nn.Module]) -> dict:
    """Every parameter, buffer and plain tensor attribute by report name ("param fc.weight",
    "buffer bn.running_mean", "attribute cache.keys"): a forward may update any of them in place."""
    if module is None:
        return {}
    state = {f"param {n}": p.detach() for n, p in module.named_parameters()}
    state.update({f"buffer {n}": b.detach() for n, b in module.named_buffers()})
    for prefix, sub in module.named_modules():
        for name, value in vars(sub).items():
            if isinstance(value, torch.Tensor):
                state[f"attribute {prefix + '.' if prefix else ''}{name}"] = value.detach()
    return state


def call_once(fn: Callable, module: Optional[torch.nn.Module], args: tuple, kwargs: dict, seed: int,
              train: bool, pristine: dict) -> CallRecord:
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
    state = state_of(module)
    changed = {name: value.clone() for name, value in state.items()
               if name not in pristine or not same_tensor(value, pristine[name])}
    detached = map_tensors(output, lambda t: t.detach().clone())
    return CallRecord(output=detached, inputs=_inputs_after(args, kwargs), state=changed, grads=grads,
                       aliases=_aliases(output, args, kwargs, state),
                       raw_output=map_tensors(output, lambda t: t.detach()))


def overwritten(observations: list) -> tuple:
    """({(call index, output leaf)} whose output a later call changed, notes). Checked after the last call."""
    changed, notes = set(), []
    for i, obs in enumerate(observations[:-1]):
        now, then = dict(tensor_leaves(obs.raw_output, "output")), dict(tensor_leaves(obs.output, "output"))
        for leaf, value in now.items():
            try:
                same = leaf in then and _equal_or_both_nan(value, then[leaf])
            except RuntimeError as e:  # e.g. CUDA graphs refuse to read an output a later replay overwrote
                notes.append(f"{leaf} of call {i + 1} is unreadable after later calls ({str(e).splitlines()[0]})")
                continue
            if not same:
                changed.add((i, leaf))
        obs.raw_output = None  # checked: let the memory go
    return changed, notes


def _equal_or_both_nan(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.is_floating_point() or a.is_complex():
        return bool(((a == b) | (torch.isnan(a) & torch.isnan(b))).all())
    return bool(torch.equal(a, b))


def _aliases(output: Any, args: tuple, kwargs: dict, state: dict) -> dict:
    """Output leaves that share memory with an input, with the module's own state, or with an earlier output."""
    owners: dict = {}
    for path, t in tensor_leaves((args, kwargs), "input"):
        owners.setdefault(_storage(t), _input_path(path))
    for name, t in state.items():
        owners.setdefault(_storage(t), name)
    owners.pop(0, None)
    found = {}
    for path, t in tensor_leaves(output, "output"):
        ptr = _storage(t)
        if ptr in owners:
            found[path] = owners[ptr]
        elif ptr:
            owners[ptr] = path
    return found


def _storage(t: torch.Tensor) -> int:
    try:
        return t.untyped_storage().data_ptr() if t.numel() else 0
    except (RuntimeError, NotImplementedError):  # tensors without storage (sparse, nested, subclasses)
        return 0


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


def same_tensor(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if np is not None and a.device.type == b.device.type == "cpu" and type(a) is type(b) is torch.Tensor:
        try:  # the same answer; numpy's one thread is several times quicker than torch.equal on a busy CPU
            return bool(np.array_equal(a.numpy(), b.numpy()))
        except (RuntimeError, TypeError):  # what numpy cannot view: bfloat16, conjugate views, ...
            pass
    return bool(torch.equal(a, b))
