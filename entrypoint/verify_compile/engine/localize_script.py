"""minimal.py: the reduced graph as a standalone script in the repro bundle (engine/minimal_template.py with the
graph's code and the case's compile settings written into it), and its inputs beside it."""

from __future__ import annotations

import json
import pprint
import re
import textwrap
from pathlib import Path

import torch
import torch.fx

from verify_compile.engine.localize_session import Session

TEMPLATE = Path(__file__).with_name("minimal_template.py")
_BLOCK = re.compile(r"^# ---- the graph: written by verify-compile ----\n.*?^# ---- end of the graph ----\n",
                    re.M | re.S)
# Names the graph's code may use that the template imports; anything else has no importable name.
_PROVIDED = {"torch", "inf", "nan", "NoneType", "device", "fx_pytree", "pytree"}


def write_minimal(session: Session, graph: dict, folder: Path) -> tuple:
    """(path of minimal.py, None) or (None, why it could not be written); `graph` is localize_graph.reduce's."""
    gm, inputs = graph["_module"], graph["_inputs"]
    code = gm.graph.python_code(root_module="self")
    missing = sorted(set(code.globals) - _PROVIDED)
    if missing:
        return None, f"no minimal.py: the graph calls {', '.join(missing)}, which have no importable name"
    torch.save([t.detach().cpu() for t in inputs], folder / "minimal_inputs.pt")
    settings = _settings(session, graph, folder)
    block = ("# ---- the graph: written by verify-compile ----\n"
             f"SETTINGS: dict = {pprint.pformat(settings, width=100, sort_dicts=False)}\n\n\n"
             f"class Minimal(torch.nn.Module):\n{textwrap.indent(code.src.strip(), '    ')}\n"
             "# ---- end of the graph ----\n")
    script = _BLOCK.sub(lambda _: block, TEMPLATE.read_text(encoding="utf-8"), count=1)
    path = folder / "minimal.py"
    path.write_text(script, encoding="utf-8")
    return path, None


def _settings(session: Session, graph: dict, folder: Path) -> dict:
    backend, spec = session.case.backend, session.case.model
    inputs, ops = graph["_inputs"], graph["ops"]
    return {
        "case_id": session.case.id,
        "ops": [f"{op['op']}" + (f"  at {op['source']}: {op['code']}" if op.get("source") else "") for op in ops],
        "backend": _backend_target(session, folder),
        "mode": backend.mode,
        "options": json.loads(json.dumps(backend.options or {}, default=str)),
        "dynamic": backend.dynamic,
        "fullgraph": backend.fullgraph,
        "dynamo_config": json.loads(json.dumps(spec.dynamo_config, default=str)),
        "device": str(session.ref.device),
        "train": spec.train,
        "seed": graph["_seed"],
        "requires_grad": [bool(t.requires_grad) for t in inputs],
        "tolerance": {"atol": spec.tolerance.atol, "rtol": spec.tolerance.rtol},
    }


def _backend_target(session: Session, folder: Path) -> str:
    """The backend as the bundle's repro.py names it (a custom one points at its copy in src/)."""
    backend = session.case.backend
    if not backend.is_custom:
        return backend.backend
    try:
        return json.loads((folder / "case.json").read_text())["repro"]["backend"]
    except (OSError, ValueError, KeyError, TypeError):
        module_part, _, attr = backend.backend.rpartition(":")
        if module_part.endswith(".py") or "/" in module_part:
            return f"{(Path(session.case.model.base_dir) / module_part).resolve()}:{attr}"
        return backend.backend
