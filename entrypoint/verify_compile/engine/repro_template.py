"""Standalone repro of a mismatch that verify-compile found under torch.compile, torch.export or AOTInductor.

    python repro.py            run eager and the compiled model on the saved inputs; exit 1 if they still disagree
    python repro.py --bisect   find the first bad compiler stage with PyTorch's CompilerBisector (inductor)
    python repro.py --saved    (export, aot_inductor) run the saved program.pt2 / package.pt2 that was verified,
                               instead of exporting and packaging again

Needs only torch. It replays every input set up to the failing one, in order, because the compiled model saw
them all (a bug that depends on earlier calls, such as a stale cache, reproduces too), with the RNG reset before
each call exactly as verify-compile did. Files next to this script:
  inputs.pt             [(args, kwargs)] for each call, in call order
  state.pt, init.pt     the model's weights before any call, and its constructor arguments (models only)
  eager.pt, compiled.pt what verify-compile saw on the failing call, leaf by leaf
  case.json, env.json   the exact config entry, and the environment it ran in
  package.pt2           (aot_inductor) the AOTInductor package that was verified, loadable from C++ too
  program.pt2           (export, aot_inductor) the exported program, for torch.export.load
  src/, config/         copies of the model and backend sources, and of the config file
  verify_compile_portable.py  verify-compile's own code for what both must do alike (settings, seeding, making
                        and recording a call, naming leaves, exporting), copied verbatim
The verdict is verify-compile's own when it is importable (the case's tolerance, then a float64 reference for
close calls); without it, a plain allclose with the case's tolerance, which is at least as strict.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import functools
import importlib
import importlib.util
import json
import math
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import torch

HERE = Path(__file__).resolve().parent
sys.dont_write_bytecode = True  # importing the copied sources must not add __pycache__ folders to the bundle


def load_portable() -> None:
    """Import the bundle's copy of verify-compile's portable.py as `verify_compile_portable`, by path: the
    script may run from anywhere, even through runpy. (This template, inside verify-compile, uses the original.)"""
    path = HERE / "verify_compile_portable.py"
    path = path if path.is_file() else HERE / "portable.py"
    module = sys.modules.get("verify_compile_portable")
    if getattr(module, "__file__", None) != str(path):
        spec = importlib.util.spec_from_file_location("verify_compile_portable", path)
        assert spec is not None and spec.loader is not None, f"cannot import {path}"
        module = importlib.util.module_from_spec(spec)
        sys.modules["verify_compile_portable"] = module  # dataclasses look their module up by name
        spec.loader.exec_module(module)


load_portable()
from verify_compile_portable import (  # noqa: E402
    ALIAS,
    BISECT_MARKER,
    STATE,
    call_once,
    cast_floating,
    compile_kwargs,
    configure_for_verification,
    dynamic_shapes,
    flatten_call,
    function_module,
    map_tensors,
    marking_steps,
    state_of,
    uses_cudagraphs,
)

# ---- the case: written by verify-compile ----
CASE: dict = {}
# ---- end of the case ----

SAVED: list = []  # [True] with --saved
MISSING = object()  # no float64 counterpart


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bisect", action="store_true",
                        help="find the first bad backend stage / subsystem with CompilerBisector; prints JSON")
    parser.add_argument("--saved", action="store_true",
                        help="export, aot_inductor: run the saved program or package instead of building again")
    args = parser.parse_args()
    configure()
    SAVED.append(args.saved)
    if args.bisect:
        if CASE.get("export"):
            print(f"CompilerBisector bisects torch.compile; '{CASE['backend']}' does not go through it")
            return 2
        return bisect()
    how = f"torch.compile(backend={CASE['backend']!r})" if not CASE.get("export") else (
        ("the saved" if args.saved else "a rebuilt") + (" exported program" if CASE["backend"] == "export" else
                                                        " AOTInductor package"))
    print(f"{CASE['case_id']}: {CASE['target']} under {how}, {len(CASE['seeds'])} call(s), torch {torch.__version__}")
    print("verdict: " + ("verify-compile's (tolerance, then float64 arbitration)" if verdict() else
                         "allclose with the case's tolerance (verify-compile is not installed)"))
    if reproduce(verbose=True):
        print("MISMATCH REPRODUCED")
        return 1
    print("no mismatch: eager and compiled agree on every call (the bug did not reproduce here)")
    return 0


def configure() -> None:
    """verify-compile's settings (deterministic kernels, no TF32, eager-identical RNG, errors instead of silent
    fallbacks) and the case's dynamo_config; then the copied sources on sys.path."""
    configure_for_verification(CASE["dynamo_config"])
    # Copied sources first, then the original config folder (for files the model imports, or pkg.mod targets).
    for folder in reversed(CASE["search_path"]):
        path = str(HERE / folder)
        if path not in sys.path:
            sys.path.insert(0, path)


def reproduce(verbose: bool) -> bool:
    """Run eager, then the compiled model, over the saved input sets; True when some call disagrees."""
    sets, (pristine, eager) = input_sets(), eager_run()
    if verbose:
        seen = load("eager.pt")
        drift = differences(seen, eager[-1], keys=[k for k, v in seen.items() if isinstance(v, torch.Tensor)])
        if drift:
            print("note: eager here differs from what verify-compile saw (other torch, device or hardware?):")
            print("\n".join(f"  {d}" for d in drift))
    with lazy_graph_modules_off():
        model, fn = build()
        compiled, model, names = make_compiled(model, fn, sets, pristine) if CASE.get("export") else (
            compiled_call(fn), model, None)
        for i, ((args, kwargs), seed) in enumerate(zip(sets, CASE["seeds"])):
            seen = observe(compiled, model, args, kwargs, seed, pristine)
            diffs = differences(comparable(eager[i], pristine, names), comparable(seen, pristine, names),
                                fp64=functools.partial(fp64, i))
            if diffs:
                if verbose:
                    print(f"call {i + 1} of {len(sets)} ({CASE['labels'][i]}): {len(diffs)} difference(s)")
                    print("\n".join(f"  {d}" for d in diffs))
                return True
            if verbose:
                print(f"call {i + 1} of {len(sets)} ({CASE['labels'][i]}): eager and compiled agree")
    return False


def lazy_graph_modules_off() -> Any:
    """verify-compile builds and runs the compiled object with lazy code generation of graph modules off, as
    PyTorch's own tests do (the TorchScript backend cannot script a lazy graph module)."""
    try:
        from torch.fx._lazy_graph_module import _force_skip_lazy_graph_module
    except ImportError:
        return contextlib.nullcontext()
    return _force_skip_lazy_graph_module()


def comparable(flat: dict, pristine: dict, names: Optional[frozenset]) -> dict:
    """A flattened call as verify-compile compares it: state the call left unchanged stands at its value before
    any call, and state the compiled object cannot show (`names`: what it can; None: all) is left out."""
    full = {**flat, **{k: v for k, v in pristine.items() if k not in flat}}
    return {k: v for k, v in full.items() if names is None or not k.startswith(STATE) or k in names}


# Inputs, eager and float64 results do not depend on the backend: computed once, also across bisection steps.

@functools.cache
def input_sets() -> list:
    return [to_device(s) for s in load("inputs.pt")]


@functools.cache
def eager_run() -> tuple:
    """(the model's state before any call, [each call flattened]), as verify-compile's eager reference."""
    model, fn = build()
    pristine = {k: v.clone() for k, v in state_of(model).items()}
    calls = [observe(fn, model, args, kwargs, seed, pristine) for (args, kwargs), seed in zip(input_sets(),
                                                                                                CASE["seeds"])]
    return pristine, calls


@functools.cache
def float64_observations() -> Optional[list]:
    """The same calls in float64: verify-compile's arbiter when eager and compiled are close but not within
    tolerance. None when the model cannot run in float64."""
    try:
        model, fn = build()
        if model is not None:
            model.to(torch.float64)
        pristine = {k: v.double() if v.is_floating_point() else v for k, v in eager_run()[0].items()}
        sets = [cast_floating(s, torch.float64) for s in input_sets()]
        return [comparable(observe(fn, model, args, kwargs, seed, pristine), pristine, None)
                for (args, kwargs), seed in zip(sets, CASE["seeds"])]
    except Exception as e:
        print(f"note: no float64 reference ({type(e).__name__}: {e})", file=sys.stderr)
        return None


def fp64(call: int, where: str) -> Any:
    runs = float64_observations()
    return runs[call].get(where, MISSING) if runs is not None else MISSING


@functools.cache
def verdict() -> Optional[Callable]:
    """verify-compile's tensor verdict, when it is installed."""
    try:
        from verify_compile.engine import compare
        from verify_compile.spec import Tolerance
    except ImportError:
        return None
    tolerance = Tolerance(**CASE["tolerance"])

    def judge(where: str, a: torch.Tensor, b: torch.Tensor, reference: Callable[[], Any]) -> Optional[str]:
        def lookup() -> Any:
            value = reference()
            return compare.MISSING if value is MISSING else value
        tol = dataclasses.replace(tolerance, gradients=True) if where.startswith("grad ") else tolerance
        mismatch = compare.compare_tensors(where, a, b, tol, lookup)
        return None if mismatch is None else mismatch.summary
    return judge


def bisect() -> int:
    """Let CompilerBisector swap backends and disable compiler passes until the mismatch goes away."""
    from torch._inductor.compiler_bisector import CompilerBisector

    def good() -> bool:
        torch._dynamo.reset()
        try:
            return not reproduce(verbose=False)
        except Exception as e:  # a stage that cannot even run counts as bad
            print(f"bisect step failed: {type(e).__name__}: {e}", file=sys.stderr)
            return False

    result = CompilerBisector.do_bisect(good)
    print(BISECT_MARKER + json.dumps(dataclasses.asdict(result) if result is not None else None), flush=True)
    return 0


def compiled_call(fn: Callable) -> Callable:
    """torch.compile with the same arguments verify-compile used; under CUDA graphs, each call a new step."""
    backend = CASE["backend"]
    compiled = torch.compile(fn, **compile_kwargs(resolve(backend) if ":" in backend else backend, CASE["mode"],
                                                  CASE["options"], CASE["dynamic"], CASE["fullgraph"]))
    graphs = uses_cudagraphs(backend, CASE["mode"], CASE["options"], torch.device(CASE["device"]))
    return marking_steps(compiled) if graphs else compiled


def make_compiled(model: Optional[torch.nn.Module], fn: Callable, sets: list, pristine: dict) -> tuple:
    """(callable, module whose state it changes, the state names it can show or None for all): exported with
    the first input set, the recorded dims dynamic, as verify-compile did; under aot_inductor, compiled into a
    package and loaded back (a package owns its weights: no state is compared)."""
    import torch._inductor

    recipe, saved = CASE["export"], bool(SAVED and SAVED[0])
    if saved and recipe["package"]:
        return torch._inductor.aoti_load_package(str(HERE / recipe["package"])), None, frozenset()
    if saved:
        program = torch.export.load(str(HERE / "program.pt2"))
    else:
        target = model if model is not None else function_module(fn)
        args, kwargs = sets[0]
        program = torch.export.export(target, tuple(args), dict(kwargs),
                                      dynamic_shapes=dynamic_shapes(target, args, kwargs, recipe["dynamic"]))
    if CASE["backend"] == "export":
        exported = program.module()
        return exported, exported, frozenset(set(pristine) & set(state_of(exported)))
    path = torch._inductor.aoti_compile_and_package(program, package_path=str(HERE / "rebuilt.pt2"),
                                                    inductor_configs=dict(CASE["options"]))
    return torch._inductor.aoti_load_package(path), None, frozenset()


def build() -> tuple:
    """(model or None, callable): the model rebuilt as verify-compile built it, with its saved initial weights."""
    obj = resolve(CASE["target"])
    if CASE["kind"] == "function":
        return None, obj
    if isinstance(obj, torch.nn.Module):  # a module instance: verify-compile verified copies of it
        model = copy.deepcopy(obj)
    else:
        torch.manual_seed(CASE["model_seed"])
        args, kwargs = to_device(load("init.pt"))
        model = obj(*args, **kwargs)
    model.to(device=CASE["device"])
    model.to(dtype=getattr(torch, CASE["dtype"]))
    if CASE["train"] and not isinstance(obj, torch.nn.Module):
        model.train()
    model.load_state_dict(load("state.pt"))
    return model, model


def resolve(target: str) -> Any:
    """'src/file.py:attr' (relative to this folder) or 'package.module:attr'."""
    module_part, _, attr = target.rpartition(":")
    if module_part.endswith(".py") or "/" in module_part:
        path = (HERE / module_part).resolve()
        module = sys.modules.get(path.stem)
        if getattr(module, "__file__", None) != str(path):
            spec = importlib.util.spec_from_file_location(path.stem, path)
            assert spec is not None and spec.loader is not None, f"cannot import {path}"
            module = importlib.util.module_from_spec(spec)
            sys.modules[path.stem] = module  # so its neighbours (and pickling) find it by name
            spec.loader.exec_module(module)
    else:
        module = importlib.import_module(module_part)
    obj: Any = module
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def observe(fn: Callable, model: Optional[torch.nn.Module], args: tuple, kwargs: dict, seed: int,
            pristine: dict) -> dict:
    """One call as verify-compile makes it (fresh copies of the inputs, RNG reset to `seed`, backward under
    train), flattened: every leaf it returned, aliased or changed, and the state that differs from `pristine`."""
    return flatten_call(call_once(fn, model, args, kwargs, seed, CASE["train"], pristine))


def differences(expected: dict, actual: dict, keys: Optional[list] = None,
                fp64: Callable[[str], Any] = lambda where: MISSING) -> list:
    """One line per leaf of `actual` that is not an acceptable version of `expected`'s."""
    found = []
    for where in keys if keys is not None else list(expected) + [k for k in actual if k not in expected]:
        a, b = expected.get(where, "<missing>"), actual.get(where, "<missing>")
        if where.endswith(ALIAS):  # eager's view where compiled copies is legal (reshape may do either)
            problem = None if where not in actual or a == b else (
                f"{where[:-len(ALIAS)]}: compiled returns the memory of {b} (writing to one changes the other); "
                "eager returns a tensor of its own")
        elif isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
            problem = compare_tensors(where, a, b, functools.partial(fp64, where))
        elif isinstance(a, float) and isinstance(b, float):  # a float32 result taken out with .item()
            problem = compare_tensors(where, torch.tensor(a, dtype=torch.float32),
                                      torch.tensor(b, dtype=torch.float32), functools.partial(_float64, fp64, where))
        elif type(a) is not type(b) or a != b:
            problem = f"{where}: compiled gives {short(b)} where eager gives {short(a)}"
        else:
            problem = None
        if problem:
            found.append(problem)
    return found


def _float64(fp64: Callable[[str], Any], where: str) -> Any:
    value = fp64(where)
    return torch.tensor(value, dtype=torch.float64) if isinstance(value, float) else MISSING


def compare_tensors(where: str, a: torch.Tensor, b: torch.Tensor, reference: Callable[[], Any]) -> Optional[str]:
    judge = verdict()
    if judge is not None:
        return judge(where, a, b, reference)
    if a.shape != b.shape:
        return f"{where}: shape {list(b.shape)} where eager gives {list(a.shape)}"
    if a.dtype != b.dtype:
        return f"{where}: dtype {b.dtype} where eager gives {a.dtype}"
    if a.numel() == 0:
        return None
    b = b.to(a.device)
    if not (a.is_floating_point() or a.is_complex()):
        bad = a != b
        atol = rtol = 0.0
    else:
        atol, rtol = tolerance(where, a.dtype)
        if a.is_complex():
            a, b = torch.view_as_real(a), torch.view_as_real(b)
        bad = ~torch.isclose(b.double(), a.double(), rtol=rtol, atol=atol, equal_nan=True)
    if not bool(bad.any()):
        return None
    a64, b64 = a.double(), b.double()
    err = (b64 - a64).abs().nan_to_num(nan=math.inf)
    excess = torch.where(bad, err - (atol + rtol * a64.abs()), torch.full_like(err, -math.inf))
    flat = int(excess.reshape(-1).nan_to_num(nan=math.inf).argmax())
    index = [int(i) for i in torch.unravel_index(torch.tensor(flat), a.shape)] if a.dim() else []
    worst = f"[{', '.join(map(str, index))}]" if index else "(scalar)"
    return (f"{where}: {int(bad.sum())} of {a.numel()} element(s) differ; worst at {worst}: "
            f"eager {float(a64.reshape(-1)[flat]):.6g}, compiled {float(b64.reshape(-1)[flat]):.6g}; "
            f"max abs err {float(err[bad].max()):.3g} (atol {atol:g}, rtol {rtol:g})")


def tolerance(where: str, dtype: torch.dtype) -> tuple:
    """(atol, rtol): the case's, else the dtype's default (gradients: PyTorch's training-check default)."""
    name = str(dtype).replace("torch.", "")
    atol, rtol = CASE["default_tolerances"].get(name, [1e-5, 1.3e-6])
    if where.startswith("grad "):
        atol, rtol = CASE.get("gradient_tolerances", {}).get(name, [atol, rtol])
    tol = CASE["tolerance"]
    return (tol["atol"] if tol["atol"] is not None else atol, tol["rtol"] if tol["rtol"] is not None else rtol)


def short(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor {list(value.shape)} {value.dtype}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def load(name: str) -> Any:
    try:
        return torch.load(HERE / name, map_location="cpu", weights_only=True)
    except Exception as e:  # inputs that are not plain tensors and containers need the full unpickler
        print(f"note: {name} needs weights_only=False ({type(e).__name__}); loading it in full", file=sys.stderr)
        return torch.load(HERE / name, map_location="cpu", weights_only=False)


def to_device(value: Any) -> Any:
    def move(t: torch.Tensor) -> torch.Tensor:
        moved = t.detach().to(CASE["device"])
        return moved.requires_grad_(t.requires_grad) if t.is_floating_point() or t.is_complex() else moved
    return map_tensors(value, move)


if __name__ == "__main__":
    sys.exit(main())
