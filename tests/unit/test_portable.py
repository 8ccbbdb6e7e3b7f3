"""The engine and repro bundles share one module (engine/portable.py): a bundle carries it verbatim, and its
repro.py records a call exactly as the engine does. Fast tier: eager calls only, nothing compiles."""

from __future__ import annotations

import ast
import importlib.util
import sys
import types
from pathlib import Path

import pytest
import torch

from helpers import REPO

ENGINE = REPO / "entrypoint" / "verify_compile" / "engine"

PROBE = """\
import dataclasses
from collections import namedtuple

import torch
from torch import nn

Pair = namedtuple("Pair", "first second")


@dataclasses.dataclass
class Hidden:
    state: torch.Tensor


class Cache:  # a plain object: compared, and flattened, by its attributes
    def __init__(self, keys):
        self.keys = keys


class Probe(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.register_buffer("calls", torch.zeros(()))
        self.total = torch.zeros(4)  # a plain tensor attribute: no state_dict entry, still state

    def forward(self, x, scale):
        self.calls += 1
        self.total += x.sum(0)
        scale.mul_(2)  # an input changed in place
        y = self.fc(x)
        return {"logits": y, "pair": Pair(y.relu(), [y.sum()]), "hidden": Hidden(y * scale[0]),
                "cache": Cache([y[0]]), "row": x[0], "n": 2}
"""


def test_portable_imports_only_torch_and_the_standard_library() -> None:
    roots = set()
    for node in ast.walk(ast.parse((ENGINE / "portable.py").read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            roots.add((node.module or "").split(".")[0])
    assert roots - set(sys.stdlib_module_names) == {"torch"}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """(the bundle folder, the engine's reference) for one eager call of Probe, written by the engine."""
    from verify_compile.engine.reference import build_reference
    from verify_compile.engine.repro import write_bundle
    from verify_compile.spec import BackendSpec, Case, InputSet, ModelSpec, TensorSpec

    root = tmp_path_factory.mktemp("portable")
    (root / "portable_probe.py").write_text(PROBE)
    spec = ModelSpec(name="probe", kind="model", target="portable_probe.py:Probe", config_file=str(root / "c.yaml"),
                     base_dir=str(root), line=1, device="cpu",
                     inputs=(InputSet(args=(TensorSpec(shape=(2, 4)), TensorSpec(shape=(4,)))),))
    case = Case(index=0, model=spec, backend=BackendSpec(id="eager", backend="eager"))
    ref = build_reference(spec, torch.device("cpu"), lambda phase: None)
    assert ref.failure is None, ref.failure
    result = types.SimpleNamespace(message="input set 1: output differs", mismatches=[])  # what a bundle reads
    folder, notes = write_bundle(case, ref, 0, ref.eager[0], result, root / "bundles")
    assert notes == []
    return folder, ref


def _script(folder: Path) -> types.ModuleType:
    """The bundle's repro.py, imported (not run): its functions are what `python repro.py` calls."""
    bytecode = sys.dont_write_bytecode
    try:
        spec = importlib.util.spec_from_file_location("probe_repro", folder / "repro.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = bytecode  # the script turns it off for the process
    return module


def test_the_bundle_carries_portable_verbatim(bundle: tuple) -> None:
    folder, _ = bundle
    assert (folder / "verify_compile_portable.py").read_bytes() == (ENGINE / "portable.py").read_bytes()
    assert not (folder / "src" / "verify_compile_portable.py").exists()  # src/ holds only the user's files


def test_engine_and_bundle_record_a_call_alike(bundle: tuple) -> None:
    from verify_compile.engine.repro import flatten_call

    folder, ref = bundle
    engine = flatten_call(ref.eager[0])  # what the engine compared, as its eager.pt holds it
    saved = torch.load(folder / "eager.pt", weights_only=True)
    pristine, calls = _script(folder).eager_run()  # the bundle's own eager call
    assert list(engine) == list(saved) == list(calls[0])
    for where, value in engine.items():
        for other in (saved[where], calls[0][where]):
            same = torch.equal(value, other) if isinstance(value, torch.Tensor) else value == other
            assert same, f"{where}: {value!r} vs {other!r}"
    assert set(pristine) == set(ref.pristine) == {"param fc.weight", "param fc.bias", "buffer calls",
                                                  "attribute total"}
    state = [k for k in engine if k.startswith(("param ", "buffer ", "attribute "))]
    assert state == ["attribute total", "buffer calls"]  # what the call changed, in the report's order
    assert {"output['logits']", "output['pair'].first", "output['pair'].second[0]", "output['hidden'].state",
            "output['cache'].keys[0]", "output['n']", "input[1] after the call"} <= set(engine)
    assert engine["output['row'] shares memory with"] == "input[0]"
    assert engine["output"] == "<dict with keys ['logits', 'pair', 'hidden', 'cache', 'row', 'n']>"
    assert engine["output['pair']"] == "<Pair>" and engine["output['pair'].second"] == "<list of 1>"


def test_case_ids_get_folders_of_their_own() -> None:
    from verify_compile.engine.repro import safe_name

    assert safe_name("mlp[inductor]") == "mlp_inductor"
    assert safe_name("mlp[inductor-max-autotune]") == "mlp_inductor-max-autotune"
    assert safe_name("mlp[aot_eager]") == "mlp_aot_eager"
    assert safe_name("conv_bn[aot_eager]") == "conv~bn_aot_eager"
    ids = ["a[b_x]", "a_b[x]", "a__b[x]", "a_[_b]", "a[__b]", "_a[b]", "a.b[x]", "a-b[x]", "A[x]", "a[x]",
           "a[b][x]", "a[b]_x", "a b[x]", "a~b[x]", "a[b", "", ".", "..", "[]", "a[]", "[x]", "é[x]", "~61~[x]"]
    names = [safe_name(i) for i in ids]
    assert len(set(names)) == len(ids), sorted(zip(names, ids))
    assert all(n and n not in (".", "..") and "/" not in n and "\0" not in n for n in names)
    assert safe_name("a[b_x]") == safe_name("a[b_x]")  # deterministic
