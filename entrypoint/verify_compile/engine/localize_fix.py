"""The workaround, re-checked before it is suggested: the whole model compiled with the culprit submodules left
to eager (torch.compiler.disable on their forward, exactly as the suggestion reads), on fresh copies, through the
same calls and the same comparison as the verdict. A suggestion that does not pass is never made."""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator, Optional

import torch

from verify_compile.engine.compare import compare_calls
from verify_compile.engine.localize_graph import Predicate, count_ops, eager_ops
from verify_compile.engine.localize_session import OutOfTime, Session, first_summary, forward_source, is_torch_file
from verify_compile.engine.localize_shipped import comparable, shipped_model
from verify_compile.engine.portable import call_once
from verify_compile.errors import exception_summary

_MIN_RECHECK_S = 5.0


def recheck_modules(session: Session, culprits: list) -> dict:
    """{"verified": True, "text"} when the model passes with every culprit left to eager, else why not."""
    paths = [c["path"] for c in culprits if c["path"]]
    if not paths:
        return {"verified": False, "why": "no submodule to leave out of the compile"}
    session.check_time(_MIN_RECHECK_S)
    model = session.ref.fresh_module()
    how: list = []
    try:
        with _disabled(model, paths, session, how):
            diffs = verify_model(session, model)
    except OutOfTime:
        raise
    except Exception as e:
        return {"verified": False, "disabled": paths, "why": f"the re-check failed: {exception_summary(e)}"}
    if diffs:
        return {"verified": False, "disabled": paths,
                "why": f"with {_names(paths)} left to eager the model still mismatches: {first_summary(diffs)}"}
    return {"verified": True, "disabled": paths, "how": how,
            "text": f"compiled with {_names(paths)} left to eager, the model passes: {'; '.join(how)}, or compile "
                    "the submodules around it instead of the whole model"}


def recheck_split(session: Session, parts: list) -> dict:
    """When only the whole model mismatches: does it pass with its parts compiled one by one (each its own
    graphs) instead of as one?"""
    if not parts:
        return {"verified": False, "why": "the model has no submodule to compile on its own"}
    session.check_time(_MIN_RECHECK_S)
    model = session.ref.fresh_module()
    torch._dynamo.reset()
    try:
        for path in parts:  # in place: parameter names stay as the verdict compares them
            model.get_submodule(path).compile(**session.compile_kwargs())
        diffs = verify_model(session, model, compile_it=False)
    except OutOfTime:
        raise
    except Exception as e:
        return {"verified": False, "why": f"the re-check failed: {exception_summary(e)}"}
    names = _names(parts)
    if diffs:
        return {"verified": False, "why": f"with {names} compiled one by one the model still mismatches: "
                                          f"{first_summary(diffs)}"}
    return {"verified": True, "split": parts,
            "text": f"compiled part by part ({names}, each with `module.compile(...)`, the model itself left "
                    "uncompiled), the model passes: compile those submodules instead of the whole model"}


def verify_model(session: Session, model: torch.nn.Module, compile_it: bool = True) -> list:
    """The verdict's calls and comparison for the whole model (compiled here unless `compile_it` is False)."""
    if session.case.backend.is_shipping:
        shipped = shipped_model(session)
        try:
            return _verify_calls(session, shipped.call, shipped.module, shipped.comparable)
        finally:
            shipped.cleanup()
    return _verify_calls(session, session.compile(model) if compile_it else model, model, None)


def _verify_calls(session: Session, target: Callable, holder: Optional[torch.nn.Module],
                  names: Optional[frozenset]) -> list:
    ref = session.ref
    for i in range(session.calls):
        args, kwargs = ref.input_sets[i]
        seen = call_once(target, holder, args, kwargs, ref.seed_for(i), session.train, ref.pristine)
        diffs = compare_calls(comparable(ref.eager[i], names), comparable(seen, names),
                              session.case.model.tolerance, fp64=lambda i=i: ref.fp64(i), pristine=ref.pristine)
        if diffs:
            return diffs
    return []


@contextlib.contextmanager
def _disabled(model: torch.nn.Module, paths: list, session: Session, how: list) -> Iterator[None]:
    """Each culprit's forward under torch.compiler.disable: on the class that defines it when that is the user's
    code (the decorator the suggestion names), else on that one instance (torch's own modules)."""
    restore = []
    try:
        for path in paths:
            module = model.get_submodule(path)
            owner = _defining_class(module)
            if owner is None:
                module.forward = torch.compiler.disable(module.forward)
                how.append(f"leave `{path}` out with `m = model.get_submodule({path!r}); "
                           "m.forward = torch.compiler.disable(m.forward)`")
                continue
            if any(owner is o for o, _ in restore):
                continue
            restore.append((owner, owner.__dict__["forward"]))
            owner.forward = torch.compiler.disable(owner.__dict__["forward"])
            source = forward_source(module)
            at = f" ({session.shown(source[0])}:{source[1]})" if source else ""
            how.append(f"add `@torch.compiler.disable` to `{owner.__qualname__}.forward`{at}")
        yield
    finally:
        for owner, forward in restore:
            owner.forward = forward


def _defining_class(module: torch.nn.Module) -> Optional[type]:
    """The user's class whose `forward` the module runs; None for torch's own modules."""
    for cls in type(module).__mro__:
        if "forward" in cls.__dict__:
            source = forward_source(module)
            return None if source is None or is_torch_file(source[0]) else cls
    return None


def recheck_graph(session: Session, graph: dict) -> dict:
    """For a plain function compiled into one graph: does that graph pass with the reduced ops run eagerly?"""
    gm, inputs = graph["_full"]
    names = {op["node"] for op in graph["ops"]}
    if graph["graphs"] != 1:
        return {"verified": False, "why": f"the function compiles into {graph['graphs']} graphs; the re-check "
                                          "needs it whole in one"}
    session.check_time(_MIN_RECHECK_S)
    predicate = Predicate(session, session.ref.seed_for(session.set_index))
    try:
        diffs = predicate.mismatches(eager_ops(gm, names), inputs, strict=True)
    except OutOfTime:
        raise
    except Exception as e:
        return {"verified": False, "why": f"the re-check failed: {exception_summary(e)}"}
    lines = sorted({op["source"] for op in graph["ops"] if op.get("source")})
    where = ", ".join(lines) or ", ".join(sorted(names))
    if diffs:
        return {"verified": False, "why": f"with {where} run eagerly the graph still mismatches: "
                                          f"{first_summary(diffs)}"}
    return {"verified": True, "eager_ops": sorted(names),
            "text": f"compiled with the {count_ops(graph['_module'])} op(s) at {where} run eagerly, the function's "
                    f"graph passes: move {'that line' if len(lines) == 1 else 'those lines'} into a helper "
                    "decorated with `@torch.compiler.disable`"}


def _names(paths: list) -> str:
    return ", ".join(f"`{p}`" for p in paths)
