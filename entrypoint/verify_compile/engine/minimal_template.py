"""Minimal repro of a mismatch verify-compile found: the fewest ops of the captured graph that still differ from
eager under the case's backend (reduced with torch._functorch.fx_minifier).

    python minimal.py      exit 1 while the mismatch reproduces, 0 when it does not

Needs only torch (and, for a custom backend, its source, copied into src/ beside this file). The graph's inputs
are in minimal_inputs.pt. The verdict is verify-compile's own when it is importable (the case's tolerance, then a
float64 reference for close calls); without it, torch.testing.assert_close with the case's tolerance.
"""

from __future__ import annotations

import importlib.util
import random
import sys
from math import inf, nan  # noqa: F401  (the graph's code may name them)
from pathlib import Path
from typing import Any, Callable, Optional

import torch
import torch._dynamo.config
import torch._inductor.config
import torch.fx._pytree as fx_pytree  # noqa: F401
import torch.utils._pytree as pytree  # noqa: F401
from torch import device  # noqa: F401

NoneType = type(None)
HERE = Path(__file__).resolve().parent

# ---- the graph: written by verify-compile ----
SETTINGS: dict = {}


class Minimal(torch.nn.Module):
    def forward(self, x):
        return (x,)
# ---- end of the graph ----


def main() -> int:
    configure()
    print(f"{SETTINGS['case_id']}: {len(SETTINGS['ops'])} op(s) under torch.compile(backend={SETTINGS['backend']!r})")
    for op in SETTINGS["ops"]:
        print(f"  {op}")
    expected = run(Minimal())
    compiled = run(torch.compile(Minimal(), **compile_kwargs()))
    problems = [p for where in expected if (p := compare(where, expected[where], compiled.get(where)))]
    print("\n".join(problems))
    if problems:
        print("MISMATCH REPRODUCED")
        return 1
    print("no mismatch: eager and compiled agree (the bug did not reproduce here)")
    return 0


def configure() -> None:
    """The settings verify-compile verifies under: deterministic kernels, no TF32, eager-identical RNG."""
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch._inductor.config.fallback_random = True
    torch._dynamo.config.suppress_errors = False
    for key, value in SETTINGS["dynamo_config"].items():
        setattr(torch._dynamo.config, key, value)


def inputs(dtype: Optional[torch.dtype] = None) -> list:
    saved = torch.load(HERE / "minimal_inputs.pt", map_location="cpu", weights_only=True)
    out = []
    for t, grad in zip(saved, SETTINGS["requires_grad"]):
        t = t.to(SETTINGS["device"])
        t = t.to(dtype) if dtype is not None and t.is_floating_point() else t
        out.append(t.requires_grad_(grad))
    return out


def run(graph: Callable, dtype: Optional[torch.dtype] = None) -> dict:
    """Outputs (and with training, the inputs' gradients of the sum of the outputs' means), by name."""
    args = inputs(dtype)
    torch.manual_seed(SETTINGS["seed"])
    random.seed(SETTINGS["seed"])
    with torch.set_grad_enabled(SETTINGS["train"]):
        out = graph(*args)
    out = list(out) if isinstance(out, (list, tuple)) else [out]
    seen = {f"output[{i}]": o.detach().clone() for i, o in enumerate(out) if isinstance(o, torch.Tensor)}
    if SETTINGS["train"]:
        sum(o.float().mean() for o in out if isinstance(o, torch.Tensor) and o.requires_grad).backward()
        seen.update({f"grad input[{i}]": a.grad.clone() for i, a in enumerate(args) if a.grad is not None})
    return seen


def compile_kwargs() -> dict:
    backend = SETTINGS["backend"]
    kwargs: dict = {"backend": resolve(backend) if ":" in backend else backend,
                    "dynamic": SETTINGS["dynamic"], "fullgraph": SETTINGS["fullgraph"]}
    if SETTINGS["mode"]:
        kwargs["mode"] = SETTINGS["mode"]
    if SETTINGS["options"]:
        kwargs["options"] = dict(SETTINGS["options"])
    return kwargs


def resolve(target: str) -> Any:
    """'src/file.py:attr' (relative to this folder) or 'package.module:attr'."""
    module_part, _, attr = target.rpartition(":")
    if module_part.endswith(".py") or "/" in module_part:
        path = (HERE / module_part).resolve()
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec is not None and spec.loader is not None, f"cannot import {path}"
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(module_part)
    for part in attr.split("."):
        module = getattr(module, part)
    return module


_FLOAT64: list = []


def compare(where: str, a: torch.Tensor, b: Optional[torch.Tensor]) -> Optional[str]:
    if b is None:
        return f"{where}: missing from the compiled graph's results"
    try:
        from verify_compile.engine import compare as vc
        from verify_compile.spec import Tolerance
    except ImportError:
        atol, rtol = SETTINGS["tolerance"]["atol"], SETTINGS["tolerance"]["rtol"]
        given = {} if atol is None and rtol is None else {"atol": 1e-5 if atol is None else atol,
                                                          "rtol": 1.3e-6 if rtol is None else rtol}
        try:
            torch.testing.assert_close(b, a, **given)
        except AssertionError as e:
            return f"{where}: {str(e).splitlines()[0]}"
        return None

    def float64() -> Any:
        if not _FLOAT64:
            _FLOAT64.append(run(Minimal(), torch.float64))
        return _FLOAT64[0].get(where, vc.MISSING)
    tolerance = Tolerance(**SETTINGS["tolerance"], gradients=where.startswith("grad "))
    mismatch = vc.compare_tensors(where, a, b, tolerance, float64)
    return None if mismatch is None else mismatch.summary


if __name__ == "__main__":
    sys.exit(main())
