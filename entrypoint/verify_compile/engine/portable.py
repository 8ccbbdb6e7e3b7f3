"""The contracts a verdict rests on, shared by verify-compile's engine and every repro bundle's `repro.py`.

How torch is configured and seeded, how one call is made and recorded (outputs, inputs after the call, module
state, gradients, aliasing), how nested values are walked and named, and how a model or function is compiled or
exported.
Each repro bundle carries a verbatim copy of this file (`verify_compile_portable.py`), so a bundle replays a case
exactly as verify-compile ran it. Hence: only torch and the standard library are imported here, never
verify_compile.

Nested values are tensors inside mappings (a Hugging Face `ModelOutput` is one: an OrderedDict, so it is walked by
key), dataclasses, namedtuples, lists and tuples. Children are named as the reports name them: `output['logits']`,
`output[0]`, `output.hidden` (dataclass fields, namedtuple fields, plain-object attributes). Deeper than MAX_DEPTH
(a cycle) is not walked."""

from __future__ import annotations

import copy
import dataclasses
import enum
import functools
import inspect
import random
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple, Optional

import torch

MAX_DEPTH = 100  # levels of nesting walked; the comparison refuses to pass what lies deeper (or a cycle)
BISECT_MARKER = "verify-compile-bisect: "  # repro.py --bisect prints its JSON result after this
ALIAS = " shares memory with"  # flatten_call's key suffix for an output leaf that aliases another value
STATE = ("param ", "buffer ", "attribute ")  # how state_of names a module's state
_RAISE = object()


# ---- torch's global settings -------------------------------------------------------------------------------

def configure_for_verification(dynamo_config: Optional[dict] = None) -> None:
    """Settings the reference harnesses use: deterministic kernels, no TF32, eager-identical RNG in inductor,
    errors raised instead of silently falling back to eager (also past the recompile limit), then the case's
    own `dynamo_config`."""
    import torch._dynamo.config
    import torch._inductor.config

    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch._inductor.config.fallback_random = True
    torch._dynamo.config.suppress_errors = False
    if hasattr(torch._dynamo.config, "fail_on_recompile_limit_hit"):
        torch._dynamo.config.fail_on_recompile_limit_hit = True
    for key, value in (dynamo_config or {}).items():
        setattr(torch._dynamo.config, key, value)


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    random.seed(seed)
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed(seed % 2**32)


# ---- walking nested values ------------------------------------------------------------------------------------

class Step(NamedTuple):
    """One edge from a container to a child: its name suffix and how to get the child."""

    text: str  # appended to the parent's name: "['k']", "[0]", ".name"
    key: Any  # the mapping key, the index, or the attribute name
    attribute: bool = False

    def get(self, parent: Any, default: Any = _RAISE) -> Any:
        if self.attribute:
            return getattr(parent, self.key) if default is _RAISE else getattr(parent, self.key, default)
        return parent[self.key]


def is_dataclass_instance(value: Any) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


# Values compared with ==: they hold no tensor, and their == is the language's or torch's own.
_VALUE_TYPES = (str, bytes, bytearray, int, float, complex, bool, type(None), enum.Enum, type, range, slice,
                torch.dtype, torch.device, torch.layout, torch.memory_format)


def is_plain_object(value: Any) -> bool:
    """An object that is what its attributes are (a KV cache, a custom output class): walked field by field,
    never trusted through its own ==, which may say equal for anything (or compare nothing)."""
    return not isinstance(value, _VALUE_TYPES) and not callable(value) and bool(_attributes(value))


def steps(value: Any) -> Optional[list]:
    """The children of a container, in order; None for anything else (a leaf)."""
    if isinstance(value, Mapping):
        return [Step(f"[{k!r}]", k) for k in value]
    if is_dataclass_instance(value):
        return [Step(f".{f.name}", f.name, True) for f in dataclasses.fields(value)]
    if isinstance(value, (list, tuple)):  # torch.Size is a tuple
        names = getattr(value, "_fields", None)  # a namedtuple: name its fields
        return [Step(f".{names[i]}" if names else f"[{i}]", i) for i in range(len(value))]
    return None


def attribute_steps(*objects: Any) -> list:
    """The attributes of plain objects (the union, sorted), for walking them like containers."""
    names: set = set()
    for obj in objects:
        names |= _attributes(obj)
    return [Step(f".{n}", n, True) for n in sorted(names)]


def leaves(value: Any, where: str, depth: int = 0) -> list:
    """[(name, leaf)] for every non-container in the tree, in order."""
    children = steps(value)
    if children is None:
        return [(where, value)]
    if depth > MAX_DEPTH:
        return []
    return [leaf for step in children for leaf in leaves(step.get(value), where + step.text, depth + 1)]


def tensor_leaves(value: Any, where: str) -> list:
    """[(name, tensor)] for every tensor in the tree, names like `input[0]['mask']`."""
    return [(name, leaf) for name, leaf in leaves(value, where) if isinstance(leaf, torch.Tensor)]


def map_tensors(value: Any, fn: Callable[[torch.Tensor], Any], depth: int = 0) -> Any:
    """The same tree with `fn` applied to every tensor. Containers keep their type: mappings (ModelOutput
    included), dataclasses, namedtuples, lists and tuples; other objects stay as they are."""
    if isinstance(value, torch.Tensor):
        return fn(value)
    if depth > MAX_DEPTH or steps(value) is None:
        return value
    depth += 1
    if isinstance(value, Mapping):
        try:
            out = copy.copy(value)
            for k, v in value.items():
                out[k] = map_tensors(v, fn, depth)
            return out
        except (TypeError, AttributeError, KeyError):  # a read-only mapping: a plain dict keeps the data
            return {k: map_tensors(v, fn, depth) for k, v in value.items()}
    if is_dataclass_instance(value):
        out = copy.copy(value)
        for f in dataclasses.fields(value):
            object.__setattr__(out, f.name, map_tensors(getattr(value, f.name), fn, depth))
        return out
    if hasattr(value, "_fields"):
        return type(value)(*(map_tensors(v, fn, depth) for v in value))
    return type(value)(map_tensors(v, fn, depth) for v in value)


def _attributes(obj: Any) -> set:
    names = set(vars(obj)) if hasattr(obj, "__dict__") else set()
    for cls in type(obj).__mro__:
        slots = getattr(cls, "__slots__", ())
        names.update((slots,) if isinstance(slots, str) else slots)
    return {n for n in names if not n.startswith("__") and hasattr(obj, n)}


def clone_value(value: Any) -> Any:
    """A deep copy of an argument tree: fresh leaf tensors with the same requires_grad."""
    return map_tensors(value, lambda t: t.detach().clone().requires_grad_(t.requires_grad)
                       if t.is_floating_point() or t.is_complex() else t.detach().clone())


def cast_floating(value: Any, dtype: torch.dtype) -> Any:
    """The same tree with floating tensors cast to `dtype` (for the float64 reference)."""
    return map_tensors(value, lambda t: t.detach().to(dtype).requires_grad_(t.requires_grad)
                       if t.is_floating_point() else t)


# ---- one call, recorded ---------------------------------------------------------------------------------------

@dataclass
class CallRecord:
    """What one call left behind: its output, its inputs afterwards, changed module state, and gradients."""

    output: Any  # a copy taken right after the call
    inputs: Any  # (args, kwargs) after the call: in-place mutations show here
    state: dict  # "param fc.weight" / "buffer bn.running_mean" -> tensor, only entries that changed
    grads: dict  # "grad fc.weight" / "grad input[0]" -> tensor or None
    aliases: dict = field(default_factory=dict)  # output leaf -> the input leaf whose memory it shares
    raw_output: Any = None  # the output itself: a later call must not change it


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
            where = f"attribute {prefix + '.' if prefix else ''}{name}"
            if isinstance(value, torch.Tensor):
                state[where] = value.detach()
            elif isinstance(value, (list, tuple, dict)) and name not in _MODULE_INTERNALS:  # self.hist[0]
                state.update({where + path: t.detach() for path, t in tensor_leaves(value, "")})
    return state


_MODULE_INTERNALS = frozenset(vars(torch.nn.Module()))  # _parameters, _buffers, _modules, hooks: named above


def call_once(fn: Callable, module: Optional[torch.nn.Module], args: tuple, kwargs: dict, seed: int,
              train: bool, pristine: dict) -> CallRecord:
    """Call `fn` on fresh clones of the inputs with the RNG reset to `seed`; with `train`, also backward.
    `pristine` is the module's state before any call: only entries that differ from it are recorded."""
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
    np = sys.modules.get("numpy")  # never imported here: a bundle runs with torch alone
    if np is not None and a.device.type == b.device.type == "cpu" and type(a) is type(b) is torch.Tensor:
        try:  # the same answer; numpy's one thread is several times quicker than torch.equal on a busy CPU
            return bool(np.array_equal(a.numpy(), b.numpy()))
        except (RuntimeError, TypeError):  # what numpy cannot view: bfloat16, conjugate views, ...
            pass
    return bool(torch.equal(a, b))


# ---- a call's record as {name: leaf} --------------------------------------------------------------------------

def flatten_call(record: CallRecord) -> dict:
    """A record as {where: leaf}, named as the comparison names what differs ("output[0]", "output.cache.keys",
    "input[1] after the call", "param fc.weight", "grad fc.weight"). Every container has an entry too, a short
    description of its type ("<tuple of 2>", "<dict with keys ['a']>"), so a list where eager gives a tuple
    differs, and so does each output leaf that shares memory with another value ("output[1] shares memory
    with": "output[0]"). Leaves are tensors, None, numbers and strings, or the repr of other objects: the
    result loads with torch.load(weights_only=True) whatever the output's types."""
    flat: dict = {}
    _flatten(record.output, "output", flat)
    flat.update({leaf + ALIAS: owner for leaf, owner in record.aliases.items()})
    args, kwargs = record.inputs
    for i, value in enumerate(args):
        _flatten(value, f"input[{i}]", flat, " after the call")
    for key, value in kwargs.items():
        _flatten(value, f"input[{key!r}]", flat, " after the call")
    flat.update({name: record.state[name] for name in sorted(record.state)})  # in the comparison's order
    flat.update({name: record.grads[name] for name in sorted(record.grads)})
    return flat


def _flatten(value: Any, where: str, out: dict, suffix: str = "", depth: int = 0) -> None:
    """The walk of the comparison: containers by their children, plain objects by their attributes."""
    if isinstance(value, torch.Tensor) or value is None or isinstance(value, (bool, int, float, complex, str)):
        out[where + suffix] = value
        return
    children = steps(value)
    if children is None and not is_plain_object(value):
        out[where + suffix] = repr(value)  # an object weights_only cannot load: what it looked like
        return
    out[where + suffix] = _describe(value)
    if depth < MAX_DEPTH:
        for step in children if children is not None else attribute_steps(value):
            _flatten(step.get(value, None), where + step.text, out, suffix, depth + 1)


def _describe(value: Any) -> str:
    name = type(value).__qualname__
    if isinstance(value, Mapping):
        return f"<{name} with keys {list(value.keys())!r}>"
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return f"<{name} of {len(value)}>"
    return f"<{name}>"


# ---- torch.compile --------------------------------------------------------------------------------------------

_CUDAGRAPH_MODES = ("reduce-overhead", "max-autotune")  # modes that run inductor's output through CUDA graphs


def compile_kwargs(backend: Any, mode: Optional[str], options: Optional[dict], dynamic: Optional[bool],
                   fullgraph: bool) -> dict:
    """torch.compile's arguments for a backend entry of the config."""
    kwargs = {"backend": backend, "fullgraph": fullgraph, "dynamic": dynamic}
    if mode:
        kwargs["mode"] = mode
    if options:
        kwargs["options"] = dict(options)
    return kwargs


def uses_cudagraphs(backend: str, mode: Optional[str], options: Optional[dict], device: torch.device) -> bool:
    """Whether the compiled object replays CUDA graphs, whose outputs the next call overwrites by design."""
    if device.type != "cuda":
        return False
    return mode in _CUDAGRAPH_MODES or bool((options or {}).get("triton.cudagraphs")) or backend == "cudagraphs"


def marking_steps(compiled: Callable) -> Callable:
    """`compiled`, each call a new CUDA graph step: only overwrites within one call are then errors."""
    @functools.wraps(compiled)
    def call(*args: object, **kwargs: object) -> object:
        torch.compiler.cudagraph_mark_step_begin()  # a new step: the previous outputs may be overwritten now
        return compiled(*args, **kwargs)
    return call


# ---- torch.export ---------------------------------------------------------------------------------------------

class FunctionModule(torch.nn.Module):
    """A plain function as a module, which is what torch.export takes."""

    def __init__(self, fn: Callable) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)


def function_module(fn: Callable) -> torch.nn.Module:
    """`fn` as a module whose forward() shows fn's own signature: torch.export matches `dynamic_shapes` by
    parameter name, and cannot match them through `**kwargs`."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # a builtin without a signature: *args, **kwargs it is
        return FunctionModule(fn)
    self_param = inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)

    def forward(self: FunctionModule, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)
    forward.__signature__ = signature.replace(parameters=[self_param, *signature.parameters.values()],
                                              return_annotation=inspect.Signature.empty)
    return type("FunctionModule", (FunctionModule,), {"forward": forward})(fn)


def bound(target: torch.nn.Module, args: tuple, kwargs: dict) -> dict:
    """The call's arguments by forward()'s parameter names, as torch.export matches `dynamic_shapes`."""
    return dict(inspect.signature(target.forward).bind(*args, **kwargs).arguments)


def dynamic_shapes(target: torch.nn.Module, args: tuple, kwargs: dict, dynamic: list) -> Optional[dict]:
    """torch.export's `dynamic_shapes` for `dynamic` ([(path, dim, name or None)]: paths start with forward()'s
    parameter name; a named dim is one `Dim` wherever it is used, an unnamed one is Dim.AUTO), or None when
    every dim is static."""
    if not dynamic:
        return None
    from torch.export import Dim

    dims: dict = {}
    by_path: dict = {}
    for path, d, name in dynamic:
        if name is None:
            by_path.setdefault(tuple(path), {})[d] = Dim.AUTO
        else:
            by_path.setdefault(tuple(path), {})[d] = dims.setdefault(name, Dim(name, min=1))
    return {name: _spec_tree(value, (name,), by_path) for name, value in bound(target, args, kwargs).items()}


def _spec_tree(value: Any, path: tuple, by_path: dict) -> Any:
    if isinstance(value, torch.Tensor):
        return by_path.get(path)
    if isinstance(value, dict):
        return {k: _spec_tree(v, path + (k,), by_path) for k, v in value.items()}
    if isinstance(value, (list, tuple)):  # the same container type: torch.export matches the structure
        items = [_spec_tree(v, path + (i,), by_path) for i, v in enumerate(value)]
        return items if isinstance(value, list) else tuple(items)
    return None
