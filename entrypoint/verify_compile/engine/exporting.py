"""torch.export for the shipping backends: one program for every input set of a case.

Dims that differ between input sets are exported as dynamic, so one program (and one AOTInductor package) serves
them all; a dim the config names becomes a `torch.export.Dim` of that name, shared by every position that uses
the name. Before each call, the program's own input constraints are checked, because an AOTInductor package does
not check shapes at run time: a shape it was not built for would run on wrong memory instead of failing."""

from __future__ import annotations

import inspect
from typing import Any, Callable, Optional

import torch

from verify_compile import results as R
from verify_compile.engine.portable import bound, dynamic_shapes, function_module
from verify_compile.errors import exception_summary

_DRAFT = "torch.export.draft_export(...) lists every export problem of a model at once"
_DATA_DEPENDENT = "a Python branch on tensor values cannot be exported: rewrite it with torch.cond"
_PYTREE = ("torch.export flattens inputs and outputs: register the class with torch.utils._pytree."
           "register_pytree_node or register_dataclass (transformers' ModelOutput registers itself)")
_SPECIALIZED = ("a dim that is swept, or differs between input sets, is exported as dynamic, and the model fixes "
                "its size: sweep only dims the model takes at any size")


class PhaseError(Exception):
    """A failure of one phase of building or running a shipped program; the message is for the report."""

    def __init__(self, phase: str, message: str) -> None:
        super().__init__(message)
        self.phase = phase


def export_program(module: Optional[torch.nn.Module], fn: Callable, input_sets: list,
                   dim_names: Optional[list] = None, declared: tuple = ()) -> tuple:
    """(ExportedProgram, exported target, [(path, dim, name or None)] exported as dynamic), exported with the
    first input set. `dim_names` maps, per input set, a leaf path to its dims' config names; `declared` names
    the config dims that must be dynamic (swept, or different between listed sets)."""
    target = module if module is not None else function_module(fn)
    args, kwargs = input_sets[0]
    dynamic: list = []
    try:
        dynamic = dynamic_dims(target, input_sets, dim_names, declared)
        shapes = dynamic_shapes(target, args, kwargs, dynamic)
        program = torch.export.export(target, tuple(args), dict(kwargs), dynamic_shapes=shapes)
    except Exception as e:
        small = _small_example(target, args, kwargs, dynamic)
        raise PhaseError(R.EXPORT, f"torch.export could not export the model: {export_message(e, small)}") from e
    return program, target, dynamic


def _small_example(target: torch.nn.Module, args: tuple, kwargs: dict, dynamic: list) -> str:
    """Why a dynamic dim failed when the export example has it at size 0 or 1, which torch.export specializes
    whatever the model does; "" when every dynamic dim is at least 2 there."""
    try:
        shapes = tensor_shapes(bound(target, args, kwargs))
    except TypeError:
        return ""
    for path, d, name in dynamic:
        shape = shapes.get(path, ())
        if d < len(shape) and shape[d] <= 1:
            what = name or f"dim {d} of {'.'.join(map(str, path))}"
            fix = (f"give {name} a size of at least 2 in 'dims' and sweep {shape[d]} instead" if name else
                   "list an input set where it is at least 2 first")
            return (f"{what} is {shape[d]} in input set 1, which the program is exported with, and torch.export "
                    f"specializes sizes 0 and 1, so it cannot be dynamic from there: {fix}")
    return ""


def export_message(e: BaseException, small: str = "") -> str:
    """torch.export's own first line, its first explanation ("- You marked B as dynamic but..."), and a hint
    (`small`: why a dynamic dim failed, when the export example has it at size 0 or 1)."""
    text = str(e)
    explanation = next((line.strip() for line in text.splitlines() if line.strip().startswith("- ")), "")
    hints = [_DATA_DEPENDENT] if "data-dependent" in text or "DataDependent" in type(e).__name__ else []
    hints += [small or _SPECIALIZED] if "Constraints violated" in text else []
    hints += [_PYTREE] if "register a pytree" in text else []
    return (exception_summary(e) + (f" {explanation[:300]}" if explanation else "")
            + f" ({'; '.join(hints + [_DRAFT])})")


def tensor_shapes(value: Any, path: tuple = ()) -> dict:
    """{path: shape} of every tensor in a tree of arguments; paths are tuples of keys and indices."""
    if isinstance(value, torch.Tensor):
        return {path: tuple(value.shape)}
    out: dict = {}
    if isinstance(value, dict):
        for key, v in value.items():
            out.update(tensor_shapes(v, path + (key,)))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            out.update(tensor_shapes(v, path + (i,)))
    return out


def dynamic_dims(target: torch.nn.Module, input_sets: list, dim_names: Optional[list], declared: tuple = ()) -> list:
    """[(path, dim, name or None)]: dims whose size differs between input sets. A named dim is dynamic in
    every position that uses its name; an unnamed one becomes Dim.AUTO (torch.export relates it to others)."""
    shapes = [tensor_shapes(bound(target, a, k)) for a, k in input_sets]
    varying: set = set()
    for path, shape in shapes[0].items():
        for other in shapes[1:]:
            if path in other and len(other[path]) == len(shape):
                varying |= {(path, d) for d, (x, y) in enumerate(zip(shape, other[path])) if x != y}
    names = _names_by_position(dim_names, target, input_sets)
    dynamic_names = ({names.get(pos) for pos in varying} | set(declared)) - {None}
    out = [(path, d, names.get((path, d))) for path, d in sorted(varying, key=repr)]
    out += [(path, d, name) for (path, d), name in sorted(names.items(), key=repr)
            if name in dynamic_names and (path, d) not in varying and path in shapes[0]]
    return sorted(out, key=repr)


def _names_by_position(dim_names: Optional[list], target: torch.nn.Module, input_sets: list) -> dict:
    """{(path, dim): config name} from per-input-set {(args, kwargs) path: [name or None per dim]}."""
    if not dim_names:
        return {}
    out: dict = {}
    for (args, kwargs), names in zip(input_sets, dim_names):
        arguments = bound(target, args, kwargs)
        for path, per_dim in _rebased(names, target, args, kwargs, arguments).items():
            for d, name in enumerate(per_dim):
                if name is not None:
                    out[(path, d)] = name
    return out


def _rebased(names: dict, target: torch.nn.Module, args: tuple, kwargs: dict, arguments: dict) -> dict:
    """Paths of (args, kwargs) -> paths of the bound arguments (what torch.export's dynamic_shapes follow)."""
    params = list(inspect.signature(target.forward).parameters.values())
    out = {}
    for path, per_dim in names.items():
        where, rest = path[0], path[1:]
        if where == "args":
            i = rest[0]
            positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
            if i < len(positional):
                out[(positional[i].name,) + rest[1:]] = per_dim
            else:
                var = next(p.name for p in params if p.kind == p.VAR_POSITIONAL)
                out[(var, i - len(positional)) + rest[1:]] = per_dim
        else:
            key = rest[0]
            if key in arguments:
                out[(key,) + rest[1:]] = per_dim
            else:
                var = next(p.name for p in params if p.kind == p.VAR_KEYWORD)
                out[(var, key) + rest[1:]] = per_dim
    return out


def input_checker(program: Any, dynamic: list, labels: list, dim_names: Optional[list] = None) -> Callable:
    """A check run before call `index`: the input must be one the program was exported for."""
    from torch.utils import _pytree as pytree

    try:
        from torch._export.utils import _check_input_constraints_for_graph
    except ImportError:  # another torch: the exported module still checks its own inputs, the package may not
        return lambda args, kwargs, index: None
    user = [n for n in program.graph.nodes if n.op == "placeholder"]
    placeholders = [n for n, s in zip(user, program.graph_signature.input_specs) if s.kind.name == "USER_INPUT"]
    def check(args: tuple, kwargs: dict, index: int) -> None:
        flat, spec = pytree.tree_flatten_with_path((tuple(args), dict(kwargs)))
        try:
            if spec != program.call_spec.in_spec:
                raise RuntimeError("the input's structure differs from the one the program was exported with")
            _check_input_constraints_for_graph(placeholders, flat, program.range_constraints)
        except Exception as e:
            label = labels[index] if index < len(labels) else f"input set {index + 1}"
            names = dim_names[index] if dim_names and index < len(dim_names) else {}
            culprit = _static_culprit(flat, placeholders, names)
            raise PhaseError(R.RUN, f"{label}: the exported program cannot take this input{culprit} "
                                    f"({exception_summary(e)}; {describe_dynamic(dynamic)})") from e
    return check


def _static_culprit(flat: list, placeholders: list, names: dict) -> str:
    """' (dim B is static at 4, got 1)' for the first tensor dim the program fixed to another size."""
    for (key_path, arg), node in zip(flat, placeholders):
        val = node.meta.get("val")
        if not (isinstance(arg, torch.Tensor) and isinstance(val, torch.Tensor)) or arg.dim() != val.dim():
            continue
        for d, (size, fixed) in enumerate(zip(arg.shape, val.shape)):
            fixed = _constant(fixed)
            if fixed is not None and size != fixed:
                path = ("args" if key_path[0].idx == 0 else "kwargs",) + tuple(
                    getattr(k, "idx", getattr(k, "key", None)) for k in key_path[1:])
                per_dim = names.get(path) or ()
                name = per_dim[d] if d < len(per_dim) and per_dim[d] else f"{_show(path)} dim {d}"
                why = (" (torch.export specializes sizes 0 and 1: list an input set where it is at least 2 first)"
                       if fixed <= 1 else "")
                return f": {name} is {size}, but the program was exported with it static at {fixed}{why}"
    return ""


def _constant(size: Any) -> Optional[int]:
    """A placeholder's size when the program fixed it (an int, or a symbol export specialized), else None."""
    if isinstance(size, int):
        return size
    expr = getattr(getattr(size, "node", None), "expr", None)
    return int(expr) if expr is not None and getattr(expr, "is_number", False) else None


def describe_dynamic(dynamic: list) -> str:
    """'exported as dynamic: dims B, T' / '... 1 unnamed dim(s) (Dim.AUTO)' / 'every dim static ...'."""
    named = sorted({name for _, _, name in dynamic if name})
    unnamed = sum(1 for _, _, name in dynamic if not name)
    if not dynamic:
        return "every dim static (the input sets share their shapes)"
    parts = [f"dims {', '.join(named)}" if named else "",
             f"{unnamed} unnamed dim(s) as Dim.AUTO (torch.export may still fix them)" if unnamed else ""]
    return "exported as dynamic: " + " and ".join(p for p in parts if p)


def _show(path: tuple) -> str:
    return "input" + "".join(f"[{k!r}]" if isinstance(k, str) else f"[{k}]" for k in path[1:])


def dim_names_of(ref: Any) -> Optional[list]:
    """Per input set of `ref`, {(args, kwargs) path: (config dim name or None per dim)}; None when the config
    names no dims. Paths follow materialized inputs: ("args", 0, 1) is the second element of the first arg."""
    inputs = ref.spec.inputs or ()
    out = []
    for input_set in inputs:
        names: dict = {}
        _collect_names(tuple(input_set.args), ("args",), names)
        _collect_names(dict(input_set.kwargs), ("kwargs",), names)
        out.append(names)
    return out if any(out) else None


def _collect_names(spec: Any, path: tuple, out: dict) -> None:
    names = getattr(spec, "dim_names", None)
    if names is not None and hasattr(spec, "shape"):  # a typed tensor spec
        if any(names):
            out[path] = tuple(names)
    elif isinstance(spec, dict):
        for key, value in spec.items():
            _collect_names(value, path + (key,), out)
    elif isinstance(spec, (list, tuple)):
        for i, value in enumerate(spec):
            _collect_names(value, path + (i,), out)
