"""The Python API: verify a live model or function where the tests already are.

    from verify_compile import verify, assert_verified

    result = verify(model, (x,), backend="inductor")          # the judged CaseResult, whatever happens
    assert_verified(fn, (x, (y, z), 4), backend=my_backend)   # AssertionError with the located diff if it fails

The same engine and the same verdict as `verify-compile run`, in the calling process (the object is live, so
there is no worker: no timeout, and a crash of the backend is a crash of the caller). Keyword options mirror the
config's keys. torch is imported on the first call, not when verify_compile is.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, Callable, Optional, Union

from verify_compile.config.loader import ignores_tuning
from verify_compile.judgement.judge import judge_case
from verify_compile.results import DEFAULT_FAIL_ON, CaseResult
from verify_compile.spec import SHIPPING_BACKENDS, BackendSpec, Case, Expectation, ModelSpec, Tolerance

BackendArg = Union[str, Callable, Mapping]
InputSetArg = Union[tuple, Mapping]


def verify(target: Callable, args: tuple = (), kwargs: Optional[dict] = None, *, backend: BackendArg = "inductor",
           inputs: Optional[Sequence[InputSetArg]] = None, device: Optional[str] = None, dtype: Optional[str] = None,
           train: bool = False, tolerance: Any = None, mode: Optional[str] = None, dynamic: Optional[bool] = None,
           fullgraph: bool = False, options: Optional[dict] = None, redraw: bool = True, seed: int = 0,
           benchmark: bool = False, dynamo_config: Optional[dict] = None, name: Optional[str] = None,
           fail_on: Sequence[str] = DEFAULT_FAIL_ON) -> CaseResult:
    """Verify `target` (an nn.Module, never changed, or a callable) under `backend` and return the judged result.

    `args`/`kwargs` are one input set; `inputs=[(args, kwargs), args, {"args": ..., "kwargs": ...}, ...]` gives
    several, called in order through one compiled object. `backend` is a registered name, a callable backend
    `(gm, example_inputs) -> callable`, `"export"`/`"aot_inductor"`, or the config's mapping form
    (`{"backend": ..., "mode": ..., "options": ..., "dynamic": ..., "fullgraph": ..., "id": ...}`). `device`:
    None keeps the target where it is ("cpu" when nothing says), or "cpu", "cuda", "cuda:N", "auto". `dtype`
    casts floating parameters and inputs ("float32", "float16", "bfloat16", "float64"). `tolerance`: None (the
    dtype's defaults), a number (atol and rtol), (atol, rtol), or {"atol": ..., "rtol": ...}. `train=True`
    also runs backward and compares every gradient. A failure of the backend or the target is an `error` result,
    never an exception; a mistake in these arguments is a TypeError or ValueError."""
    from verify_compile.engine.live import describe, run_live

    spec, live_backend = _backend_spec(backend, mode, dynamic, fullgraph, options)
    sets = _input_sets(args, kwargs, inputs)
    kind, found_device, found_dtype = describe(target, sets)
    model = ModelSpec(name=name or _name_of(target), kind=kind,
                      target=f"<live {type(target).__name__}>", config_file="<python>", base_dir=os.getcwd(),
                      line=0, device=device or found_device, dtype=dtype or found_dtype,
                      train=train, tolerance=_tolerance(tolerance), seed=seed, redraw=redraw, benchmark=benchmark,
                      dynamo_config=dict(dynamo_config or {}), backends=(spec,))
    case = Case(index=0, model=model, backend=spec)
    observation = run_live(case, target, sets, live_backend, cast=dtype)
    return judge_case(observation, Expectation(), None, tuple(fail_on))


def assert_verified(target: Callable, args: tuple = (), kwargs: Optional[dict] = None, **options: Any) -> CaseResult:
    """`verify(...)`, raising AssertionError with the case's located message and details when it fails the run
    (an outcome in `fail_on`); returns the result otherwise. Takes the same arguments as `verify`."""
    result = verify(target, args, kwargs, **options)
    if result.failed:
        raise AssertionError(failure_text(result))
    return result


def failure_text(result: CaseResult) -> str:
    """The case's outcome, located message and details, as a test failure shows them."""
    text = f"{result.case_id}: {result.outcome}: {result.message}"
    if result.details and result.details != result.message:
        text += "\n\n" + result.details
    if result.notes:
        text += "\n\n" + "\n".join(f"note: {n}" for n in result.notes)
    return text


def _backend_spec(backend: BackendArg, mode: Optional[str], dynamic: Optional[bool], fullgraph: bool,
                  options: Optional[dict]) -> tuple:
    """(BackendSpec, the callable behind it or None)."""
    given = dict(backend) if isinstance(backend, Mapping) else {"backend": backend}
    unknown = set(given) - {"backend", "id", "mode", "options", "dynamic", "fullgraph"}
    if unknown:
        raise TypeError(f"unknown backend key(s): {', '.join(sorted(unknown))}")
    mode, options = given.get("mode", mode), given.get("options", options)
    dynamic, fullgraph = given.get("dynamic", dynamic), given.get("fullgraph", fullgraph)
    raw = given.get("backend")
    live = raw if callable(raw) else None
    if live is None and not isinstance(raw, str):
        raise TypeError(f"backend must be a name, a callable or a mapping with 'backend', not {type(raw).__name__}")
    name = f"<live {getattr(live, '__name__', 'backend')}>" if live is not None else raw
    if live is None and (ignores_tuning(raw) or raw == "export") and (mode or options):
        raise ValueError(f"backend '{raw}' takes no mode or options (they are inductor's)")
    if live is None and raw in SHIPPING_BACKENDS and (mode or dynamic is not None or fullgraph):
        raise ValueError(f"mode, dynamic and fullgraph are torch.compile settings: '{raw}' takes none")
    ident = given.get("id") or (getattr(live, "__name__", "backend") if live is not None
                                else raw.rpartition(":")[2] + (f"-{mode}" if mode else ""))
    return BackendSpec(id=str(ident), backend=name, mode=mode, options=dict(options) if options else None,
                       dynamic=dynamic, fullgraph=bool(fullgraph)), live


def _input_sets(args: tuple, kwargs: Optional[dict], inputs: Optional[Sequence[InputSetArg]]) -> list:
    if inputs is None:
        return [(tuple(args) if isinstance(args, (tuple, list)) else (args,), dict(kwargs or {}))]
    if args or kwargs:
        raise TypeError("give either args/kwargs (one input set) or inputs=[...] (several), not both")
    sets = []
    for item in inputs:
        if isinstance(item, Mapping):
            sets.append((tuple(item.get("args", ())), dict(item.get("kwargs", {}))))
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], (tuple, list)) \
                and isinstance(item[1], Mapping):
            sets.append((tuple(item[0]), dict(item[1])))
        else:
            sets.append((tuple(item) if isinstance(item, (tuple, list)) else (item,), {}))
    if not sets:
        raise ValueError("inputs=[] holds no input set")
    return sets


def _tolerance(value: Any) -> Tolerance:
    if value is None or isinstance(value, Tolerance):
        return value or Tolerance()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Tolerance(atol=float(value), rtol=float(value))
    if isinstance(value, Mapping):
        return Tolerance(atol=value.get("atol"), rtol=value.get("rtol"))
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return Tolerance(atol=value[0], rtol=value[1])
    raise TypeError("tolerance is a number, (atol, rtol) or {'atol': ..., 'rtol': ...}")


def _name_of(target: Any) -> str:
    raw = getattr(target, "__name__", None) or type(target).__name__
    return "".join(c if c.isalnum() or c in "_.-" else "_" for c in raw) or "target"
