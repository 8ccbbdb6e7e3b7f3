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
The verdict is verify-compile's own when it is importable (the case's tolerance, then a float64 reference for
close calls); without it, a plain allclose with the case's tolerance, which is at least as strict.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import importlib
import importlib.util
import inspect
import json
import math
import random
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable, Optional

import torch
import torch._dynamo.config
import torch._inductor.config

HERE = Path(__file__).resolve().parent

# ---- the case: written by verify-compile ----
CASE: dict = {}
# ---- end of the case ----

BISECT_MARKER = "verify-compile-bisect: "
SAVED: list = []  # [True] with --saved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bisect", action="store_true",
                        help="find the first bad backend stage / subsystem with CompilerBisector; prints JSON")
    parser.add_argument("--saved", action="store_true",
                        help="export, aot_inductor: run the saved program or package instead of building again")
    args = parser.parse_args()
    sys.dont_write_bytecode = True  # importing the copied sources must not add __pycache__ folders to the bundle
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
    """The global settings verify-compile verifies under: deterministic kernels, no TF32, eager-identical RNG."""
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch._inductor.config.fallback_random = True
    torch._dynamo.config.suppress_errors = False  # a compile error must not silently fall back to eager
    for key, value in CASE["dynamo_config"].items():
        setattr(torch._dynamo.config, key, value)
    # Copied sources first, then the original config folder (for files the model imports, or pkg.mod targets).
    for folder in reversed(CASE["search_path"]):
        path = str(HERE / folder)
        if path not in sys.path:
            sys.path.insert(0, path)


def reproduce(verbose: bool) -> bool:
    """Run eager, then the compiled model, over the saved input sets; True when some call disagrees."""
    sets, eager = input_sets(), eager_observations()
    if verbose:
        seen = load("eager.pt")
        drift = differences(seen, eager[-1], keys=[k for k, v in seen.items() if isinstance(v, torch.Tensor)])
        if drift:
            print("note: eager here differs from what verify-compile saw (other torch, device or hardware?):")
            print("\n".join(f"  {d}" for d in drift))
    model, fn = build()
    compiled, model = make_compiled(model, fn, sets) if CASE.get("export") else (
        torch.compile(fn, **compile_kwargs()), model)
    for i, ((args, kwargs), seed) in enumerate(zip(sets, CASE["seeds"])):
        seen = observe(compiled, model, args, kwargs, seed)
        keys = None if not CASE.get("export") else [  # state that only one side holds (a package's weights)
            k for k in dict.fromkeys(list(eager[i]) + list(seen))
            if not k.startswith(("param ", "buffer ")) or (k in eager[i] and k in seen)]
        diffs = differences(eager[i], seen, keys=keys, fp64=functools.partial(fp64, i))
        if diffs:
            if verbose:
                print(f"call {i + 1} of {len(sets)} ({CASE['labels'][i]}): {len(diffs)} difference(s)")
                print("\n".join(f"  {d}" for d in diffs))
            return True
        if verbose:
            print(f"call {i + 1} of {len(sets)} ({CASE['labels'][i]}): eager and compiled agree")
    return False


# Inputs, eager and float64 results do not depend on the backend: computed once, also across bisection steps.

@functools.cache
def input_sets() -> list:
    return [to_device(s) for s in load("inputs.pt")]


@functools.cache
def eager_observations() -> list:
    model, fn = build()
    return [observe(fn, model, args, kwargs, seed) for (args, kwargs), seed in zip(input_sets(), CASE["seeds"])]


@functools.cache
def float64_observations() -> Optional[list]:
    """The same calls in float64: verify-compile's arbiter when eager and compiled are close but not within
    tolerance. None when the model cannot run in float64."""
    try:
        model, fn = build()
        if model is not None:
            model.to(torch.float64)
        sets = [tree_map(s, lambda t: t.detach().double().requires_grad_(t.requires_grad)
                         if t.is_floating_point() else t) for s in input_sets()]
        return [observe(fn, model, args, kwargs, seed) for (args, kwargs), seed in zip(sets, CASE["seeds"])]
    except Exception as e:
        print(f"note: no float64 reference ({type(e).__name__}: {e})", file=sys.stderr)
        return None


def fp64(call: int, where: str) -> Any:
    runs = float64_observations()
    return runs[call].get(where, MISSING) if runs is not None else MISSING


MISSING = object()  # no float64 counterpart


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
        mismatch = compare.compare_tensors(where, a, b, tolerance, lookup)
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


def compile_kwargs() -> dict:
    """The same torch.compile arguments verify-compile used."""
    backend = CASE["backend"]
    kwargs: dict = {"backend": resolve(backend) if ":" in backend else backend,
                    "fullgraph": CASE["fullgraph"], "dynamic": CASE["dynamic"]}
    if CASE["mode"]:
        kwargs["mode"] = CASE["mode"]
    if CASE["options"]:
        kwargs["options"] = dict(CASE["options"])
    return kwargs


def make_compiled(model: Optional[torch.nn.Module], fn: Callable, sets: list) -> tuple:
    """(callable, module whose state is compared): exported with the first input set, the recorded dims
    dynamic, as verify-compile did; under aot_inductor, compiled into a package and loaded back."""
    recipe, saved = CASE["export"], bool(SAVED and SAVED[0])
    if saved and recipe["package"]:
        return torch._inductor.aoti_load_package(str(HERE / recipe["package"])), None
    if saved:
        program = torch.export.load(str(HERE / "program.pt2"))
    else:
        target = model if model is not None else function_module(fn)
        args, kwargs = sets[0]
        program = torch.export.export(target, tuple(args), dict(kwargs),
                                      dynamic_shapes=dynamic_shapes(target, args, kwargs, recipe["dynamic"]))
    if CASE["backend"] == "export":
        exported = program.module()
        return exported, exported
    path = torch._inductor.aoti_compile_and_package(program, package_path=str(HERE / "rebuilt.pt2"),
                                                    inductor_configs=dict(CASE["options"]))
    return torch._inductor.aoti_load_package(path), None


class FunctionModule(torch.nn.Module):
    """A plain function as a module, which is what torch.export takes."""

    def __init__(self, fn: Callable) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)


def function_module(fn: Callable) -> torch.nn.Module:
    """`fn` as a module whose forward() shows fn's own signature, as verify-compile exported it."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return FunctionModule(fn)
    self_param = inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)

    def forward(self: FunctionModule, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)
    forward.__signature__ = signature.replace(parameters=[self_param, *signature.parameters.values()],
                                              return_annotation=inspect.Signature.empty)
    return type("FunctionModule", (FunctionModule,), {"forward": forward})(fn)


def dynamic_shapes(target: torch.nn.Module, args: tuple, kwargs: dict, dynamic: list) -> Optional[dict]:
    """torch.export's dynamic_shapes from [path, dim, name]: paths start with forward()'s parameter name."""
    if not dynamic:
        return None
    from torch.export import Dim

    dims: dict = {}
    by_path: dict = {}
    for path, d, name in dynamic:
        spec = Dim.AUTO if name is None else dims.setdefault(name, Dim(name, min=1))
        by_path.setdefault(tuple(path), {})[d] = spec

    def tree(value: Any, path: tuple) -> Any:
        if isinstance(value, torch.Tensor):
            return by_path.get(path)
        if isinstance(value, dict):
            return {k: tree(v, path + (k,)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            items = [tree(v, path + (i,)) for i, v in enumerate(value)]
            return items if isinstance(value, list) else tuple(items)
        return None
    arguments = inspect.signature(target.forward).bind(*args, **kwargs).arguments
    return {name: tree(value, (name,)) for name, value in arguments.items()}


def build() -> tuple:
    """(model or None, callable): the model rebuilt under its seed, with its saved initial weights."""
    obj = resolve(CASE["target"])
    if CASE["kind"] == "function":
        return None, obj
    torch.manual_seed(CASE["model_seed"])
    args, kwargs = to_device(load("init.pt"))
    model = obj(*args, **kwargs)
    model.to(device=CASE["device"])
    model.to(dtype=getattr(torch, CASE["dtype"]))
    if CASE["train"]:
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


def observe(fn: Callable, model: Optional[torch.nn.Module], args: tuple, kwargs: dict, seed: int) -> dict:
    """One call on fresh copies of the inputs, RNG reset to `seed`: every leaf it produced or changed, by name."""
    args, kwargs = clone(args), clone(kwargs)
    train = CASE["train"]
    if model is not None and train:
        model.zero_grad(set_to_none=True)
    torch.manual_seed(seed)
    random.seed(seed)
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed(seed % 2**32)
    with torch.set_grad_enabled(train):
        output = fn(*args, **kwargs)
    seen: dict = {}
    flatten(output, "output", seen)
    if train:
        leaves = [t for t in seen.values() if isinstance(t, torch.Tensor) and t.requires_grad
                  and t.is_floating_point()]
        sum(t.float().mean() for t in leaves).backward()
        for name, p in (model.named_parameters() if model is not None else []):
            if p.requires_grad:
                seen[f"grad {name}"] = None if p.grad is None else p.grad.detach().clone()
        inputs: dict = {}
        flatten((list(args), kwargs), "", inputs)
        for where, t in inputs.items():
            if isinstance(t, torch.Tensor) and t.requires_grad and t.is_leaf:
                seen[f"grad {input_name(where)}"] = None if t.grad is None else t.grad.detach().clone()
    inputs = {}
    flatten((list(args), kwargs), "", inputs)
    seen.update({f"{input_name(where)} after the call": v for where, v in inputs.items()})
    if model is not None:
        seen.update({f"param {n}": p.detach().clone() for n, p in model.named_parameters()})
        seen.update({f"buffer {n}": b.detach().clone() for n, b in model.named_buffers()})
    return {k: v.detach().clone() if isinstance(v, torch.Tensor) else v for k, v in seen.items()}


def input_name(where: str) -> str:
    # flatten((args, kwargs), "") names "[0][i]" / "[1]['k']"; verify-compile says input[i] / input['k']
    return "input" + where[3:]


def flatten(value: Any, where: str, out: dict) -> None:
    """Leaves of a nested output, named as verify-compile names them: output[0], output['logits'], output.x."""
    if isinstance(value, torch.Tensor) or value is None or isinstance(value, (bool, int, float, complex, str)):
        out[where] = value
    elif isinstance(value, Mapping):
        for key, v in value.items():
            flatten(v, f"{where}[{key!r}]", out)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            flatten(getattr(value, f.name), f"{where}.{f.name}", out)
    elif isinstance(value, (list, tuple)):
        names = getattr(value, "_fields", None)  # namedtuple
        for i, v in enumerate(value):
            flatten(v, f"{where}.{names[i]}" if names else f"{where}[{i}]", out)
    else:
        out[where] = value


def differences(expected: dict, actual: dict, keys: Optional[list] = None,
                fp64: Callable[[str], Any] = lambda where: MISSING) -> list:
    """One line per leaf of `actual` that is not an acceptable version of `expected`'s."""
    found = []
    for where in keys if keys is not None else list(expected) + [k for k in actual if k not in expected]:
        a, b = expected.get(where, "<missing>"), actual.get(where, "<missing>")
        if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
            problem = compare_tensors(where, a, b, functools.partial(fp64, where))
        elif isinstance(a, float) and isinstance(b, float):
            problem = compare_tensors(where, torch.tensor(a, dtype=torch.float64),
                                      torch.tensor(b, dtype=torch.float64), lambda: MISSING)
        elif type(a) is not type(b) or a != b:
            problem = f"{where}: compiled gives {short(b)} where eager gives {short(a)}"
        else:
            problem = None
        if problem:
            found.append(problem)
    return found


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
        default = CASE["default_tolerances"].get(str(a.dtype).replace("torch.", ""), [1e-5, 1.3e-6])
        tol = CASE["tolerance"]
        atol = tol["atol"] if tol["atol"] is not None else default[0]
        rtol = tol["rtol"] if tol["rtol"] is not None else default[1]
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
    return tree_map(value, move)


def clone(value: Any) -> Any:
    """Fresh leaf tensors (same requires_grad) for every call, as verify-compile does."""
    def copy(t: torch.Tensor) -> torch.Tensor:
        fresh = t.detach().clone()
        return fresh.requires_grad_(t.requires_grad) if t.is_floating_point() or t.is_complex() else fresh
    return tree_map(value, copy)


def tree_map(value: Any, fn: Callable[[torch.Tensor], Any]) -> Any:
    if isinstance(value, torch.Tensor):
        return fn(value)
    if isinstance(value, Mapping):
        return {k: tree_map(v, fn) for k, v in value.items()}
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # namedtuple
        return type(value)(*(tree_map(v, fn) for v in value))
    if isinstance(value, (list, tuple)):
        return type(value)(tree_map(v, fn) for v in value)
    return value


if __name__ == "__main__":
    sys.exit(main())
