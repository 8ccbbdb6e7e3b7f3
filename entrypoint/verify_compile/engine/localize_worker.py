"""The localizer's own process: `python -m verify_compile.engine.localize_worker REQUEST`.

REQUEST is a pickle the worker wrote a moment ago: {"case", "set_index", "seconds", "device", "bundle"}. This
process rebuilds the case's eager reference exactly as the worker did (same seeds, same inputs, same weights),
then finds the smallest submodules that mismatch alone, the fewest graph ops that do, and a workaround that was
re-checked to pass. The report so far is printed on a marker line after every step (localize_session.MARKER);
the parent reads the last one, so a kill at the time limit loses only the step in progress.

In its own process because it compiles many times: a crash or a hang here must not take the worker down, and
the worker's torch state must not change. Needs only torch and verify_compile.
"""

from __future__ import annotations

import copy
import pickle
import sys
import time
from pathlib import Path
from typing import Optional

import torch
from torch.fx._lazy_graph_module import _force_skip_lazy_graph_module

from verify_compile.engine import localize_graph as graphs
from verify_compile.engine.localize_fix import recheck_graph, recheck_modules, recheck_split, verify_model
from verify_compile.engine.localize_modules import describe, replaying, search
from verify_compile.engine.localize_script import write_minimal
from verify_compile.engine.localize_session import OutOfTime, Session, first_summary
from verify_compile.engine.portable import clone_value, configure_for_verification, seed_everything
from verify_compile.engine.reference import build_reference
from verify_compile.errors import exception_summary


def main(argv: list) -> int:
    request = pickle.loads(Path(argv[1]).read_bytes())  # written by this run's own worker (engine/localize.py)
    deadline = time.monotonic() + (request["deadline"] - time.time())  # the parent's kill comes 3 s later
    configure_for_verification()
    case = request["case"]
    for key, value in case.model.dynamo_config.items():
        setattr(torch._dynamo.config, key, value)
    ref = build_reference(case.model, torch.device(request["device"]), lambda phase: None)
    session = Session(case, ref, request["set_index"], deadline, request.get("bundle"))
    if ref.failure:  # a flaky case is never localized: only a mismatch gets here
        session.note("not localized: the eager reference could not be rebuilt here ("
                     + (ref.failure.message if ref.failure else "eager disagrees with itself") + ")")
        session.emit()
        return 1
    with _force_skip_lazy_graph_module():
        localize(session)
    return 0


def localize(session: Session) -> None:
    """Every step in order; time running out ends the current one and reports what is known, and so does a step
    that fails (its note says how)."""
    step = "the module search"
    try:
        target = _modules(session) if session.ref.module is not None else None
        step = "graph reduction"
        if session.ref.module is None and session.case.backend.is_shipping:
            session.note(f"not localized: a plain function under '{session.case.backend.backend}' is one exported "
                         "graph, and graph reduction needs torch.compile")
        elif session.ref.module is None or target is not None:
            _graph(session, target)
        session.report["finished"] = True
    except OutOfTime:
        session.note(f"stopped at the time limit after {time.monotonic() - session.started:.0f} s: what is above "
                     "was found before it; rerun with a larger timeout for the rest")
    except Exception as e:  # what was found before stands
        session.note(f"{step} failed: {exception_summary(e)}")
    session.emit()


def _modules(session: Session) -> Optional[str]:
    """The module search and its workaround; the path whose graph to reduce next, or None."""
    culprits = search(session)
    if not culprits:
        diffs = verify_model(session, session.ref.fresh_module())
        if not diffs:
            session.report["reproduced"] = False
            session.note("not localized: the whole model did not mismatch when compiled again in a fresh process")
            return None
        session.found[""] = {"worst": first_summary(diffs), "mismatches": len(diffs)}
        parts = [t["path"] for t in session.report["tested"]]
        culprits = [describe(session, "", parts)]
        session.report["fused"] = bool(parts)  # else there was nothing smaller to try
    session.report["modules"] = culprits
    session.emit()
    if session.case.backend.is_shipping:
        session.note(f"graph reduction and the torch.compiler.disable workaround need torch.compile; under "
                     f"'{session.case.backend.backend}' each submodule above was exported alone instead")
        return None
    whole = culprits[0]["path"] == ""
    session.report["workaround"] = recheck_split(session, [t["path"] for t in session.report["tested"]]) \
        if whole else recheck_modules(session, culprits)
    session.emit()
    return culprits[0]["path"]


def _graph(session: Session, path: Optional[str]) -> None:
    """Reduce the graph of the first culprit (or of the plain function), write minimal.py, and for a function
    re-check the workaround at the graph level."""
    target, args, kwargs, before, seed = _graph_target(session, path)
    found = graphs.reduce(session, graphs.capture_graphs(session, target, args, kwargs, before), seed, path or "")
    if found is None:
        return
    session.report["graph"] = {k: v for k, v in found.items() if not k.startswith("_")}
    session.report["graph"]["target"] = path or ("the whole model" if path == "" else "the function")
    session.emit()
    if session.bundle and Path(session.bundle).is_dir():
        try:
            written, why = write_minimal(session, found, Path(session.bundle))
        except Exception as e:  # the report stands without the script
            written, why = None, f"no minimal.py ({exception_summary(e)})"
        session.report["graph"]["minimal"] = str(written) if written else None
        if why:
            session.note(why)
    if session.ref.module is None:
        session.report["workaround"] = recheck_graph(session, found)
    session.emit()


def _graph_target(session: Session, path: Optional[str]) -> tuple:
    """(callable, args, kwargs, RNG setter, seed) for the call whose graph is reduced: the call that mismatched,
    with the calls before it replayed eagerly so that state (running statistics) is as it was."""
    ref = session.ref
    if path is None:
        seed = ref.seed_for(session.set_index)
        args, kwargs = ref.input_sets[session.set_index]
        return ref.fn, args, kwargs, graphs.seeded(seed), seed
    if path == "":
        module = ref.fresh_module()
        for i in range(session.set_index):
            seed_everything(ref.seed_for(i))
            with torch.set_grad_enabled(session.train):
                module(*clone_value(ref.input_sets[i][0]), **clone_value(ref.input_sets[i][1]))
        args, kwargs = ref.input_sets[session.set_index]
        seed = ref.seed_for(session.set_index)
        return module, args, kwargs, graphs.seeded(seed), seed
    invocations = session.captured[path]
    k = session.found[path]["on_call"] - 1
    module = copy.deepcopy(ref.module.get_submodule(path))
    for inv in invocations[:k]:
        with torch.set_grad_enabled(session.train):
            replaying(module, inv)(*clone_value(inv.args), **clone_value(inv.kwargs))
    inv = invocations[k]
    return module, inv.args, inv.kwargs, graphs.seeded(0, inv.rng), 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
