"""Module localization: which submodules of the model mismatch when they alone are compiled.

Each submodule's inputs are captured with forward pre-hooks on an eager replay of the case's calls; the submodule
is then verified alone, its eager copy against its compiled copy over every call it received, with the case's
backend and the case's verdict (compare_calls: tolerances, the float64 rule, module state, gradients). The search
starts at the top and descends only into modules that reproduce; the smallest ones that do are the culprits.
"""

from __future__ import annotations

import copy
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import torch

from verify_compile.engine.compare import CallRecord, compare_calls
from verify_compile.engine.localize_session import OutOfTime, Session, first_summary, forward_source, is_torch_file
from verify_compile.engine.localize_shipped import comparable, compile_part
from verify_compile.engine.portable import call_once, cast_floating, clone_value, seed_everything, state_of
from verify_compile.errors import exception_summary

MAX_CULPRITS = 8  # past this many, the bug is everywhere: the list would not help
_MIN_TRIAL_S = 3.0  # less time than this left cannot compile and verify one more module


@dataclass
class Invocation:
    """One call of a submodule during the eager replay: its inputs and the RNG state it started with."""

    args: tuple
    kwargs: dict
    rng: torch.Tensor
    cuda_rng: Optional[torch.Tensor] = None


@dataclass
class Capture:
    invocations: dict = field(default_factory=dict)  # path -> [Invocation], in call order
    called_at: dict = field(default_factory=dict)  # path -> (file, line, code) of the first call, in user code


def capture(session: Session, paths: list) -> Capture:
    """Replay the case's calls eagerly (each input set up to the failing one, RNG reset as the verdict did) and
    record every call of the submodules at `paths`."""
    model = session.ref.fresh_module()
    found = Capture({p: [] for p in paths})
    handles = [model.get_submodule(p).register_forward_pre_hook(_recorder(found, p, session), with_kwargs=True)
               for p in paths]
    try:
        for i in range(session.calls):
            args, kwargs = clone_value(session.ref.input_sets[i])
            seed_everything(session.ref.seed_for(i))
            with torch.set_grad_enabled(session.train):
                model(*args, **kwargs)
    finally:
        for h in handles:
            h.remove()
    return found


def _recorder(found: Capture, path: str, session: Session) -> Callable:
    cuda = session.ref.device.type == "cuda"

    def record(module: torch.nn.Module, args: tuple, kwargs: dict) -> None:
        found.invocations[path].append(Invocation(clone_value(args), clone_value(kwargs), torch.get_rng_state(),
                                                  torch.cuda.get_rng_state() if cuda else None))
        if path not in found.called_at:
            frames = [f for f in traceback.extract_stack()[:-1] if not is_torch_file(f.filename)]
            if frames:
                found.called_at[path] = (frames[-1].filename, frames[-1].lineno, (frames[-1].line or "").strip())
    return record


def verify_alone(session: Session, path: str, invocations: list) -> tuple:
    """(mismatches, error, index of the call that mismatched): the submodule at `path`, compiled alone, against
    its eager self over its calls."""
    template = session.ref.module.get_submodule(path)  # pristine: the copies start where the model started
    eager, mine = copy.deepcopy(template), copy.deepcopy(template)
    pristine = {k: v.clone() for k, v in state_of(template).items()}
    fp64 = _Float64(template, invocations, session.train, pristine)
    try:
        compiled, holder, names = compile_part(session, mine, invocations[0].args, invocations[0].kwargs)
        for k, inv in enumerate(invocations):
            session.check_time()
            expected = call_once(replaying(eager, inv), eager, inv.args, inv.kwargs, 0, session.train, pristine)
            seen = call_once(replaying(compiled, inv), holder, inv.args, inv.kwargs, 0, session.train, pristine)
            diffs = compare_calls(comparable(expected, names), comparable(seen, names), session.case.model.tolerance,
                                  fp64=lambda k=k: fp64.get(k), pristine=pristine)
            if diffs:
                return diffs, None, k
    except OutOfTime:
        raise
    except Exception as e:  # it cannot be verified alone (a graph break under fullgraph, an unsupported input...)
        return [], exception_summary(e), None
    return [], None, None


def replaying(fn: Callable, inv: Invocation) -> Callable:
    """`fn` started from the RNG state the submodule saw inside the model (dropout draws the same numbers)."""
    def call(*args: Any, **kwargs: Any) -> Any:
        torch.set_rng_state(inv.rng)
        if inv.cuda_rng is not None:
            torch.cuda.set_rng_state(inv.cuda_rng)
        return fn(*args, **kwargs)
    return call


class _Float64:
    """The submodule's calls in float64 (the arbiter of close calls), computed once, on first use."""

    def __init__(self, template: torch.nn.Module, invocations: list, train: bool, pristine: dict) -> None:
        self.template, self.invocations, self.train, self.pristine = template, invocations, train, pristine
        self.records: Optional[list] = None

    def get(self, k: int) -> Optional[CallRecord]:
        if self.records is None:
            self.records = []
            try:
                module = copy.deepcopy(self.template).to(torch.float64)
                pristine64 = {n: v.double() if v.is_floating_point() else v for n, v in self.pristine.items()}
                for inv in self.invocations:
                    args, kwargs = cast_floating((inv.args, inv.kwargs), torch.float64)
                    self.records.append(call_once(replaying(module, inv), module, args, kwargs, 0, self.train,
                                                  pristine64))
            except Exception:  # an op without a float64 kernel: the tolerance alone decides, as in the verdict
                self.records = []
        return self.records[k] if k < len(self.records) else None


def search(session: Session) -> list:
    """The smallest submodules that mismatch alone, as report entries; [] when none does. Descends level by
    level from the top into the modules that reproduce; each step is recorded in the report as it happens."""
    frontier, culprits = [""], []
    while frontier and len(culprits) < MAX_CULPRITS:
        parent = frontier.pop(0)
        children, cap = _called_children(session, parent)
        reproducing = []
        for path in children:
            if len(culprits) + len(reproducing) >= MAX_CULPRITS:
                break
            entry = _trial(session, path, cap)
            if entry["reproduces"]:
                reproducing.append(path)
        if reproducing:
            frontier += reproducing
        elif parent:  # none of its parts mismatches alone: it is as small as the mismatch gets
            culprits.append(describe(session, parent, children))
    return culprits


def _trial(session: Session, path: str, cap: Capture) -> dict:
    session.check_time(_MIN_TRIAL_S)
    start = time.monotonic()
    invocations = cap.invocations[path]
    diffs, error, k = verify_alone(session, path, invocations)
    entry = {"path": path, "reproduces": bool(diffs), "calls": len(invocations),
             "seconds": round(time.monotonic() - start, 1)}
    if diffs:
        entry["worst"], entry["mismatches"], entry["on_call"] = first_summary(diffs), len(diffs), k + 1
        session.found[path] = entry
    if error:
        entry["error"] = error
    session.report["tested"].append(entry)
    session.emit()
    return entry


def _called_children(session: Session, parent: str) -> tuple:
    """(paths, capture): the nearest modules under `parent` that the model calls. A container that is never
    called itself (a ModuleList, a ModuleDict) stands aside for its children."""
    model = session.ref.module
    pending = [_join(parent, name) for name, _ in model.get_submodule(parent).named_children()]
    called, merged = [], Capture()
    while pending:
        cap = capture(session, pending)
        merged.invocations.update(cap.invocations)
        merged.called_at.update(cap.called_at)
        nxt = []
        for path in pending:
            if cap.invocations[path]:
                called.append(path)
            else:
                nxt += [_join(path, name) for name, _ in model.get_submodule(path).named_children()]
        pending = nxt
    session.captured.update(merged.invocations)
    session.called_at.update(merged.called_at)
    return called, merged


def describe(session: Session, path: str, children: Optional[list] = None) -> dict:
    """A culprit as the report shows it: path, class, where its forward is, where it is called, what differs."""
    module = session.ref.module.get_submodule(path)
    cls = type(module)
    builtin = cls.__module__.startswith("torch.")
    entry = {"path": path, "class": cls.__name__, "builtin": builtin, "parts_tested": len(children or []),
             "qualname": f"torch.nn.{cls.__name__}" if getattr(torch.nn, cls.__name__, None) is cls
             else f"{cls.__module__}.{cls.__qualname__}" if builtin else cls.__qualname__}
    source = forward_source(module)
    if source:
        entry["forward"] = f"{session.shown(source[0])}:{source[1]}"
    called = session.called_at.get(path)
    if called:
        entry["called_at"] = f"{session.shown(called[0])}:{called[1]}"
        entry["call_code"] = called[2]
    found = session.found.get(path)
    if found:
        entry["worst"], entry["mismatches"] = found["worst"], found["mismatches"]
    return entry


def _join(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name
