"""Repro bundles: everything needed to recreate one mismatch with `python repro.py`, outside verify-compile."""

from __future__ import annotations

import ast
import dataclasses
import json
import platform
import pprint
import re
import shutil
from pathlib import Path
from typing import Any

import torch

from verify_compile.engine import portable
from verify_compile.engine.compare import DEFAULT_TOLERANCES, GRADIENT_TOLERANCES
from verify_compile.engine.inputs import materialize, torch_dtype
from verify_compile.engine.portable import CallRecord, map_tensors
from verify_compile.engine.reference import Reference
from verify_compile.results import Observation
from verify_compile.spec import Case, case_id
from verify_compile.version import __version__

TEMPLATE = Path(__file__).with_name("repro_template.py")
PORTABLE = Path(portable.__file__)
# The bundle's verbatim copy of portable.py, beside repro.py (the user's modules are copied into src/).
PORTABLE_COPY = "verify_compile_portable.py"
_NAME = re.compile(r"[A-Za-z0-9_.-]+")  # what the config allows in model names and backend ids
_CASE_BLOCK = re.compile(r"^# ---- the case: written by verify-compile ----\n.*?^# ---- end of the case ----\n",
                         re.M | re.S)


_COMMENTS = {
    "target": "file targets point at the copies in src/",
    "options": "torch.compile(options=...): inductor config",
    "dynamo_config": "torch._dynamo.config settings",
    "seeds": "the RNG is reset to these before each call",
    "labels": "how verify-compile named each call's input set",
    "tolerance": "None: the dtype's default below",
    "search_path": "put on sys.path: the copied sources, then the original config folder",
}


def safe_name(case: str) -> str:
    """A folder name for a case id, different for every id: `mlp[inductor-max-autotune]` ->
    `mlp_inductor-max-autotune`. The first `_` separates model and backend, so one in the model's name is
    written `~` (`conv_bn[aot_eager]` -> `conv~bn_aot_eager`), and `a_b[x]` and `a[b_x]` get folders of their
    own; an id of another form is escaped whole, `~` then `~hex~` for each character outside [A-Za-z0-9.-]."""
    model, _, backend = case[:-1].partition("[")
    if case.endswith("]") and case_id(model, backend) == case and _NAME.fullmatch(model) \
            and _NAME.fullmatch(backend):
        return f"{model.replace('_', '~')}_{backend}"  # "." and ".." cannot come out: "_" is always in it
    # No "_" in this form, so it never equals one of the above.
    return "~" + "".join(c if c.isascii() and (c.isalnum() or c in ".-") else f"~{ord(c):x}~" for c in case)


def write_bundle(case: Case, ref: Reference, set_index: int, observed: CallRecord, result: Observation,
                 root: Path, compiled: Any = None) -> tuple:
    """Write the bundle of the mismatch on input set `set_index` under `root`; (folder, notes). `compiled`
    (engine.compilers.Compiled) is what was verified: a shipped program is re-exported the same way, and the
    AOTInductor package that was verified is kept as package.pt2."""
    folder = root / safe_name(case.id)
    if (folder / "case.json").is_file():
        shutil.rmtree(folder)  # a bundle from an earlier run: stale files must not mix with new ones
    (folder / "src").mkdir(parents=True, exist_ok=True)
    spec = case.model
    calls = set_index + 1
    notes: list = []
    _save_tensors(ref, set_index, observed, folder, notes)
    if Path(spec.config_file).is_file():
        (folder / "config").mkdir(exist_ok=True)
        shutil.copy2(spec.config_file, folder / "config" / Path(spec.config_file).name)
    shutil.copyfile(PORTABLE, folder / PORTABLE_COPY)  # verbatim: what the script shares with the engine
    repro = _recipe(case, ref, calls, folder, notes)
    repro["export"] = _export_recipe(compiled, folder, notes)
    entry = {"case_id": case.id, "failing_input_set": calls, "message": result.message,
             "mismatches": [dataclasses.asdict(m) for m in result.mismatches],
             "model": dataclasses.asdict(spec), "backend": dataclasses.asdict(case.backend), "repro": repro}
    _write_json(folder / "case.json", entry)
    _write_json(folder / "env.json", environment(ref.device))
    (folder / "repro.py").write_text(render_script(repro), encoding="utf-8")
    return folder, notes


def _save_tensors(ref: Reference, set_index: int, observed: CallRecord, folder: Path, notes: list) -> None:
    """Inputs of every call up to the failing one, weights, constructor arguments, and both results."""
    spec = ref.spec
    _save(ref.input_sets[:set_index + 1], folder / "inputs.pt", notes)
    if ref.module is not None:
        _save(ref.module.state_dict(), folder / "state.pt", notes, check=False)  # tensors only: always loadable
        _save(materialize(spec.init, spec.seed, ref.device, torch_dtype(spec.dtype)), folder / "init.pt", notes)
    _save(flatten_call(ref.eager[set_index]), folder / "eager.pt", notes)
    _save(flatten_call(observed), folder / "compiled.pt", notes)


def _recipe(case: Case, ref: Reference, calls: int, folder: Path, notes: list) -> dict:
    """What repro.py needs to rebuild the case: the model, the backend and torch's settings."""
    spec, backend = case.model, case.backend
    copies: dict = {}
    return {
        "case_id": case.id,
        "kind": "function" if ref.module is None else "model",
        "target": _copy_source(spec.target, spec.base_dir, folder, copies),
        "backend": _copy_source(backend.backend, spec.base_dir, folder, copies) if backend.is_custom
        else backend.backend,
        "mode": backend.mode,
        "options": _plain(backend.options or {}),
        "dynamic": backend.dynamic,
        "fullgraph": backend.fullgraph,
        "dynamo_config": _plain(spec.dynamo_config),
        "device": str(ref.device),
        "dtype": spec.dtype,
        "train": spec.train,
        "model_seed": spec.seed,
        "seeds": [ref.seed_for(i) for i in range(calls)],
        "labels": list(ref.labels[:calls]),
        "tolerance": {"atol": spec.tolerance.atol, "rtol": spec.tolerance.rtol},
        "default_tolerances": _tolerances(DEFAULT_TOLERANCES),
        "gradient_tolerances": _tolerances(GRADIENT_TOLERANCES),  # for "grad ..." leaves
        "search_path": ["src", spec.base_dir],
    }


def _export_recipe(compiled: Any, folder: Path, notes: list) -> Any:
    """How a shipped program was exported (the dims exported as dynamic: [path, dim, name or null]), with the
    verified package copied beside the script; None for torch.compile."""
    if compiled is None or compiled.program is None:
        return None
    if compiled.package is not None:
        shutil.copy2(compiled.package, folder / "package.pt2")
    try:
        torch.export.save(compiled.program, str(folder / "program.pt2"))
    except Exception as e:  # the bundle re-exports anyway; the saved program is for inspection
        notes.append(f"repro bundle: the exported program could not be saved ({type(e).__name__})")
    return {"dynamic": [[list(path), dim, name] for path, dim, name in compiled.dynamic],
            "package": "package.pt2" if compiled.package is not None else None}


def render_script(repro: dict) -> str:
    """The template with the case written into it, so a reader sees backend, options and seeds at the top."""
    lines = ["CASE: dict = {"]
    for key, value in repro.items():
        comment = f"  # {_COMMENTS[key]}" if key in _COMMENTS else ""
        head = f"    {key!r}: "
        text = pprint.pformat(value, width=110 - len(head), sort_dicts=False).replace("\n", "\n" + " " * len(head))
        lines.append(f"{head}{text},{comment}")
    literal = "\n".join(lines) + "\n}"
    try:
        exact = ast.literal_eval(literal.partition("=")[2].strip()) == repro
    except (ValueError, SyntaxError):
        exact = False
    if not exact:  # e.g. an inf, which has no Python literal: read the case from case.json instead
        literal = 'CASE: dict = json.loads((HERE / "case.json").read_text())["repro"]'
    block = f"# ---- the case: written by verify-compile ----\n{literal}\n# ---- end of the case ----\n"
    return _CASE_BLOCK.sub(lambda _: block, TEMPLATE.read_text(encoding="utf-8"), count=1)


def flatten_call(obs: CallRecord) -> dict:
    """A record as {where: leaf}, named like the report (portable.flatten_call), with tensors on the CPU."""
    return {k: _portable(v) for k, v in portable.flatten_call(obs).items()}


def environment(device: torch.device) -> dict:
    cuda = torch.cuda.is_available()
    return {
        "torch": torch.__version__,
        "torch_git": getattr(torch.version, "git_version", None),
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "device": str(device),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "verify_compile": __version__,
    }


def _copy_source(target: str, base_dir: str, folder: Path, copies: dict) -> str:
    """Copy a `file.py:attr` target's file into the bundle's src/ and return the target pointing at the copy;
    `pkg.mod:attr` targets stay as they are (the script imports them, with the config folder on sys.path)."""
    module_part, _, attr = target.rpartition(":")
    if not (module_part.endswith(".py") or "/" in module_part):
        return target
    source = (Path(base_dir) / module_part).resolve()
    if source not in copies:
        name, n = source.name, 1
        while name in copies.values():  # two files of the same name from different folders
            n += 1
            name = f"{source.stem}_{n}{source.suffix}"
        shutil.copy2(source, folder / "src" / name)
        copies[source] = name
    return f"src/{copies[source]}:{attr}"


def _portable(value: Any) -> Any:
    """Tensors on the CPU, so a bundle from a GPU run still loads anywhere; the script moves them back."""
    def to_cpu(t: torch.Tensor) -> torch.Tensor:
        moved = t.detach().cpu()
        return moved.requires_grad_(t.requires_grad) if t.is_floating_point() or t.is_complex() else moved
    return map_tensors(value, to_cpu)


def _save(value: Any, path: Path, notes: list, check: bool = True) -> None:
    torch.save(_portable(value), path)
    if check:
        try:
            torch.load(path, weights_only=True)
        except Exception as e:  # the script falls back to a full unpickle, which needs the same classes
            notes.append(f"repro bundle: {path.name} is not loadable with weights_only=True ({type(e).__name__})")


def _tolerances(by_dtype: dict) -> dict:
    return {str(dtype).replace("torch.", ""): list(tol) for dtype, tol in by_dtype.items()}


def _plain(value: Any) -> Any:
    """Config values as plain JSON-able Python (YAML nodes are dict/list subclasses that carry line numbers)."""
    return json.loads(json.dumps(value, default=str))


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=1, default=str) + "\n", encoding="utf-8")
