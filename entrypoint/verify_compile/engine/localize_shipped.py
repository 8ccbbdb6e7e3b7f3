"""Localization under the shipping backends (export, aot_inductor): each submodule is exported alone with the
inputs of its first call (static shapes), and under aot_inductor packaged and loaded back, then verified like the
whole program was: outputs and input mutations always, module state only where the program holds it (an
exported program keeps its parameters and buffers under their own names; a package owns its weights).

Graph reduction and the torch.compiler.disable workaround need torch.compile, so they do not apply here: an
exported program is one graph with no eager fallback inside it.
"""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path
from typing import Any, Optional

import torch
import torch._inductor

from verify_compile.engine.compare import CallRecord
from verify_compile.engine.localize_session import Session
from verify_compile.engine.portable import state_of
from verify_compile.spec import AOT_INDUCTOR

_PACKAGES = itertools.count()


def compile_part(session: Session, module: torch.nn.Module, args: tuple, kwargs: dict) -> tuple:
    """(callable, module whose state is compared, state names that can be compared or None for all): the part
    compiled as the case compiles the whole model."""
    if not session.case.backend.is_shipping:
        return session.compile(module), module, None
    program = torch.export.export(module, tuple(args), dict(kwargs))
    if session.case.backend.backend == AOT_INDUCTOR:
        path = Path.cwd() / f"part-{next(_PACKAGES)}.pt2"  # the localizer's scratch folder, removed after it
        torch._inductor.aoti_compile_and_package(program, package_path=str(path),
                                                 inductor_configs=dict(session.case.backend.options or {}))
        return torch._inductor.aoti_load_package(str(path)), None, frozenset()
    exported = program.module()
    return exported, exported, frozenset(set(state_of(module)) & set(state_of(exported)))


def comparable(record: CallRecord, names: Optional[frozenset]) -> CallRecord:
    """The record without the state the compiled part cannot show (as runner._comparable does for the model)."""
    if names is None:
        return record
    return dataclasses.replace(record, state={k: v for k, v in record.state.items() if k in names})


def shipped_model(session: Session) -> Any:
    """The whole model exported (and packaged) exactly as the case did: engine.compilers.build."""
    from verify_compile.engine.compilers import build

    return build(session.case, session.ref, lambda phase: None)
