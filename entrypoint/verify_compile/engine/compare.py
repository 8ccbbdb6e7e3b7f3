"""Comparing outputs: walks two results leaf by leaf and says exactly which leaf differs, where and by how much.

The verdict for a floating-point leaf (the rules PyTorch's own accuracy harness uses, made stricter):
1. shape and dtype must be identical (no broadcasting);
2. values pass when every element is within `atol + rtol * |eager|`; NaN only where eager has NaN;
3. otherwise a float64 reference arbitrates: the compiled result passes when its error against float64 is no
   worse than `multiplier` times eager's error, both as RMSE and element by element (an RMSE alone hides a
   few wrong elements in a large tensor). So a backend that is *more* accurate than eager is not a mismatch.
"""

from __future__ import annotations

import contextvars
import dataclasses
import math
from collections.abc import Mapping
from typing import Any, Callable, Optional

import torch

from verify_compile import results as R
from verify_compile.engine import isolation, portable
from verify_compile.engine.exporting import PhaseError
from verify_compile.engine.portable import CallRecord
from verify_compile.results import Mismatch
from verify_compile.spec import Tolerance

# (atol, rtol) by dtype: torch.testing.assert_close's defaults.
DEFAULT_TOLERANCES = {
    torch.float16: (1e-5, 1e-3),
    torch.bfloat16: (1e-5, 1.6e-2),
    torch.float32: (1e-5, 1.3e-6),
    torch.float64: (1e-7, 1e-7),
    torch.complex64: (1e-5, 1.3e-6),
    torch.complex128: (1e-7, 1e-7),
}
# Gradients (float32) default to the tolerance of PyTorch's own training accuracy checks: a ReLU or max-pool that
# flips on a pre-activation within rounding of zero moves a few gradient elements by ~1e-5 under any correct
# compiler, and that is not a wrong answer.
GRADIENT_TOLERANCES = {torch.float32: (1e-4, 1e-4), torch.complex64: (1e-4, 1e-4)}
# The float64 reference only arbitrates when it agrees with eager at least this well (relative RMSE):
# a reference that took another branch (argmax, thresholds) cannot tell right from wrong.
_REFERENCE_TRUST = {torch.float16: 5e-2, torch.bfloat16: 1e-1}
_REFERENCE_TRUST_DEFAULT = 1e-3
# Rounding any correct summation order may add, relative to the tensor's scale (its RMS): eager's cascade sums are
# unusually accurate, and blocked or vectorised ones (inductor's) lose a few more digits on large reductions.
# Real bugs (a wrong op, lower precision, TF32) are orders of magnitude larger.
_SCALE_FLOOR = {torch.float16: 1e-3, torch.bfloat16: 1.6e-2}
_SCALE_FLOOR_DEFAULT = 1e-5

MISSING = object()  # an fp64 counterpart that does not exist


def resolve_tolerance(tol: Tolerance, dtype: torch.dtype) -> tuple:
    atol, rtol = DEFAULT_TOLERANCES.get(dtype, (1e-5, 1.3e-6))
    if tol.gradients:
        atol, rtol = GRADIENT_TOLERANCES.get(dtype, (atol, rtol))
    return (tol.atol if tol.atol is not None else atol, tol.rtol if tol.rtol is not None else rtol)


def compare_calls(eager: CallRecord, compiled: CallRecord, tol: Tolerance,
                  fp64: Optional[Callable[[], Optional[CallRecord]]] = None,
                  pristine: Optional[dict] = None, use_fp64: bool = True,
                  sides: tuple = ("eager", "compiled")) -> list:
    """Every differing leaf, in the order output, inputs, module state, gradients, computed with the torch the
    worker started with (engine/isolation.py), whatever the case replaced.

    `fp64` lazily returns the float64 record of the same call (None when unavailable); `pristine` maps
    state names to their values before any call, standing in for entries a run left unchanged.
    """
    token = _SIDES.set(sides)  # how messages name the two calls: eager runs 1 and 2, when they are both eager's
    try:
        with isolation.genuine():
            return _compare_calls(eager, compiled, tol, fp64, pristine, use_fp64)
    finally:
        _SIDES.reset(token)


def _compare_calls(eager: CallRecord, compiled: CallRecord, tol: Tolerance,
                   fp64: Optional[Callable[[], Optional[CallRecord]]], pristine: Optional[dict],
                   use_fp64: bool) -> list:
    pristine = pristine or {}
    found: list = []
    lazy = _Lazy(fp64 if use_fp64 else None)

    def fp64_of(getter: Callable[[CallRecord], Any]) -> Callable[[], Any]:
        return lambda: getter(lazy.get()) if lazy.get() is not None else MISSING

    walk(eager.output, compiled.output, "output", tol, found, fp64_of(lambda o: o.output))
    for leaf, shared in compiled.aliases.items():
        if eager.aliases.get(leaf) != shared:  # the reverse (eager's view, compiled's copy) is legal: reshape
            found.append(Mismatch(where=leaf, kind="alias", summary=(
                f"{leaf}: {_res()} returns the memory of {shared} (writing to one changes the other); "
                f"{_ref()} returns a tensor of its own")))
    walk(eager.inputs[0], compiled.inputs[0], "input", tol, found, fp64_of(lambda o: o.inputs[0]),
         suffix=" after the call")
    walk(eager.inputs[1], compiled.inputs[1], "input", tol, found, fp64_of(lambda o: o.inputs[1]),
         suffix=" after the call")
    for name in sorted(set(eager.state) | set(compiled.state)):
        ref = eager.state.get(name, pristine.get(name))
        res = compiled.state.get(name, pristine.get(name))
        walk(ref, res, name, tol, found, fp64_of(lambda o, n=name: _state64(o, n, pristine)))
    grad_tol = dataclasses.replace(tol, gradients=True)
    for name in sorted(eager.grads.keys() | compiled.grads.keys()):
        walk(eager.grads.get(name), compiled.grads.get(name), name, grad_tol, found,
             fp64_of(lambda o, n=name: o.grads.get(n, MISSING)))
    return found


def _state64(obs: CallRecord, name: str, pristine: dict) -> Any:
    if name in obs.state:
        return obs.state[name]
    value = pristine.get(name, MISSING)
    return value.double() if isinstance(value, torch.Tensor) and value.is_floating_point() else value


class _Lazy:
    def __init__(self, make: Optional[Callable]) -> None:
        self.make, self.done, self.value = make, make is None, None

    def get(self) -> Any:
        if not self.done:
            with isolation.as_the_case_left_it():  # the float64 reference runs the case's model
                self.done, self.value = True, self.make()
        return self.value


_SIDES: contextvars.ContextVar = contextvars.ContextVar("sides", default=("eager", "compiled"))


def _ref() -> str:
    return _SIDES.get()[0]


def _res() -> str:
    return _SIDES.get()[1]


class Uncomparable(PhaseError):
    """A leaf that cannot be compared: the case is an error in phase compare, never a pass of what was not
    looked at."""

    def __init__(self, where: str, why: str) -> None:
        shown = where if len(where) <= 120 else f"{where[:60]}...{where[-40:]}"  # a path 100 levels deep
        super().__init__(R.COMPARE, f"{shown} cannot be compared: {why}")


def walk(ref: Any, res: Any, where: str, tol: Tolerance, found: list,
         fp64: Callable[[], Any] = lambda: MISSING, suffix: str = "", depth: int = 0) -> None:
    """Compare two nested values; append a Mismatch for each leaf that differs."""
    if depth > portable.MAX_DEPTH:
        raise Uncomparable(where + suffix, f"it is nested more than {portable.MAX_DEPTH} levels deep (or its "
                                           "objects refer to each other in a cycle)")
    if isinstance(ref, torch.Tensor) or isinstance(res, torch.Tensor):
        if not (isinstance(ref, torch.Tensor) and isinstance(res, torch.Tensor)):
            found.append(_type_mismatch(ref, res, where + suffix))
        else:
            _add(found, compare_tensors(where + suffix, ref, res, tol, fp64))
        return
    if type(ref) is not type(res):  # dynamo keeps container types: a list for a tuple is a real difference
        found.append(_type_mismatch(ref, res, where + suffix))
        return
    children = portable.steps(ref)
    if children is None and isinstance(ref, float):
        _add(found, _compare_floats(ref, res, where + suffix, tol, fp64))
        return
    if children is None and portable.is_plain_object(ref):
        children = portable.attribute_steps(ref, res)
    if children is None:
        _add(found, _compare_values(ref, res, where + suffix))
        return
    problem = _structure_problem(ref, res)
    if problem:
        found.append(Mismatch(where=where + suffix, kind="structure", summary=f"{where}{suffix}: {problem}"))
        return
    for step in children:
        walk(step.get(ref, None), step.get(res, None), where + step.text, tol, found, _child_fp64(fp64, step),
             suffix, depth + 1)


def _structure_problem(ref: Any, res: Any) -> str:
    """Why two containers of the same type cannot be compared child by child; empty when they can."""
    if isinstance(ref, Mapping) and list(ref.keys()) != list(res.keys()):
        missing = [k for k in ref if k not in res]
        extra = [k for k in res if k not in ref]
        return (f"keys differ: missing {missing}, unexpected {extra}" if missing or extra
                else f"key order differs: {list(res.keys())} where {_ref()} has {list(ref.keys())}")
    if isinstance(ref, (list, tuple)) and len(ref) != len(res):
        return f"{len(res)} elements where {_ref()} gives {len(ref)}"
    return ""


def _child_fp64(fp64: Callable[[], Any], step: portable.Step) -> Callable[[], Any]:
    """The float64 counterpart of a child, looked up only when a comparison needs it."""
    def get() -> Any:
        parent = fp64()
        if parent is MISSING:
            return MISSING
        try:
            return step.get(parent)
        except (KeyError, IndexError, AttributeError, TypeError):
            return MISSING
    return get


def _compare_floats(ref: float, res: float, where: str, tol: Tolerance,
                    fp64: Callable[[], Any]) -> Optional[Mismatch]:
    """A Python float is usually a float32 result taken out with .item(): judge it like one, float64 included."""
    def fp64_float() -> Any:
        value = fp64()
        return torch.tensor(value, dtype=torch.float64) if isinstance(value, float) else MISSING
    return compare_tensors(where, torch.tensor(ref, dtype=torch.float32), torch.tensor(res, dtype=torch.float32),
                           tol, fp64_float)


def _compare_values(ref: Any, res: Any, where: str) -> Optional[Mismatch]:
    try:
        eq = ref == res
        equal = bool(eq.all()) if hasattr(eq, "all") else bool(eq)  # arrays compare element-wise
    except Exception:  # no usable ==: the type matched; arrays of another shape did not
        equal = getattr(ref, "shape", None) == getattr(res, "shape", None)
    if equal:
        return None
    return Mismatch(where=where, kind="values", summary=f"{where}: {_res()} gives {res!r} where {_ref()} gives {ref!r}")


def _type_mismatch(ref: Any, res: Any, where: str) -> Mismatch:
    return Mismatch(where=where, kind="type", summary=f"{where}: {_res()} gives {_kind(res)} where {_ref()} gives "
                                                      f"{_kind(ref)}")


def _add(found: list, mismatch: Optional[Mismatch]) -> None:
    if mismatch:
        found.append(mismatch)


def compare_tensors(where: str, ref: torch.Tensor, res: torch.Tensor, tol: Tolerance,
                    fp64: Callable[[], Any] = lambda: MISSING) -> Optional[Mismatch]:
    """None when `res` is an acceptable compiled version of eager's `ref`, else the located difference.
    Tensor subclasses are compared through their plain data, never through their own methods."""
    if ref.is_nested or res.is_nested:
        return _compare_nested(where, ref, res, tol, fp64)
    ref, res = _data(where, ref), _data(where, res)
    if tuple(ref.shape) != tuple(res.shape):
        return Mismatch(where=where, kind="shape", numel=ref.numel(),
                        summary=f"{where}: shape {list(res.shape)} where {_ref()} gives {list(ref.shape)}")
    if ref.dtype != res.dtype:
        return Mismatch(where=where, kind="dtype", numel=ref.numel(),
                        summary=f"{where}: dtype {_dtype(res.dtype)} where {_ref()} gives {_dtype(ref.dtype)}")
    ref, res = _plain(ref), _plain(res).to(ref.device)
    if ref.numel() == 0:
        return None
    if not (ref.is_floating_point() or ref.is_complex()):
        bad = ref != res
        if not bad.any():
            return None
        return _describe(where, ref.double(), res.double(), bad, 0.0, 0.0, exact=True)
    atol, rtol = resolve_tolerance(tol, ref.dtype)
    r, s = _as_real64(ref), _as_real64(res)
    close = torch.isclose(s, r, rtol=rtol, atol=atol, equal_nan=True)
    if bool(close.all()):
        return None
    f = fp64()
    verdict = ""
    if isinstance(f, torch.Tensor) and ref.dtype not in (torch.float64, torch.complex128):
        ok, verdict = fp64_accepts(r, s, _as_real64(_plain(f).to(ref.device)), atol, rtol, ref.dtype)
        if ok:
            return None
    mismatch = _describe(where, r, s, ~close, atol, rtol)
    if verdict:
        mismatch.summary += f"; {verdict}"
    return mismatch


def fp64_accepts(r: torch.Tensor, s: torch.Tensor, f: torch.Tensor, atol: float, rtol: float,
                 dtype: torch.dtype) -> tuple:
    """(accepted, why not): is compiled `s` at least about as close to float64 `f` as eager `r` is?"""
    if f.shape != r.shape:
        return False, "no usable float64 reference (other shape)"
    finite = torch.isfinite(f)
    # Where float64 itself is NaN or inf there is nothing to arbitrate: compiled must match eager exactly there.
    same_special = (torch.isnan(s) & torch.isnan(r)) | (s == r)
    if bool((~finite & ~same_special).any()):
        return False, "compiled differs from eager where the float64 reference is NaN/inf"
    if bool((~torch.isfinite(s) & finite).any()):
        return False, "compiled has NaN/inf where the float64 reference is finite"
    ref_ok = finite & torch.isfinite(r)
    ref_err = _rmse(r[ref_ok], f[ref_ok])
    scale = _rmse(f[finite], torch.zeros_like(f[finite]))
    if ref_err > _REFERENCE_TRUST.get(dtype, _REFERENCE_TRUST_DEFAULT) * scale + atol:
        return False, (f"the float64 reference is too far from eager to arbitrate (RMSE {ref_err:.3g}); "
                       "compared with eager's tolerance alone")
    # Few elements make "no worse than eager" a comparison of single rounding errors: allow more (as PyTorch does).
    if r.numel() <= 16:
        multiplier = 10.0
    elif dtype in (torch.float16, torch.bfloat16) or r.numel() < 1000:
        multiplier = 3.0
    else:
        multiplier = 2.0
    floor = _SCALE_FLOOR.get(dtype, _SCALE_FLOOR_DEFAULT) * scale
    res_err = _rmse(s[finite], f[finite])
    if res_err > multiplier * ref_err + max(atol / 10, floor):
        return False, (f"compiled error vs float64 (RMSE {res_err:.3g}) exceeds {multiplier:g}x eager's "
                       f"(RMSE {ref_err:.3g})")
    ref_worst = float((r - f).abs()[ref_ok].max()) if bool(ref_ok.any()) else 0.0
    bound = multiplier * ref_worst + atol + torch.clamp(rtol * f.abs(), min=floor)
    beyond = ((s - f).abs() > bound) & finite
    if bool(beyond.any()):
        return False, (f"{int(beyond.sum())} element(s) are further from float64 than {multiplier:g}x eager's "
                       f"worst error ({ref_worst:.3g})")
    return True, ""


def _describe(where: str, r: torch.Tensor, s: torch.Tensor, bad: torch.Tensor, atol: float, rtol: float,
              exact: bool = False) -> Mismatch:
    diff = (s - r).abs()
    nan_introduced = torch.isnan(s) & ~torch.isnan(r)
    diff = torch.where(torch.isnan(diff) | (torch.isinf(diff)), torch.full_like(diff, math.inf), diff)
    excess = torch.where(bad, diff - (atol + rtol * r.abs()), torch.full_like(diff, -math.inf))
    flat = int(torch.argmax(torch.nan_to_num(excess, nan=math.inf, posinf=1e308)).item())
    index = list(_unravel(flat, tuple(r.shape)))
    bad_diff = diff[bad]
    max_abs = float(bad_diff.max()) if bad_diff.numel() else 0.0
    rel = bad_diff / r.abs()[bad].clamp_min(1e-300)
    max_rel = float(rel.max()) if rel.numel() else 0.0
    n_bad, numel = int(bad.sum()), r.numel()
    expected, actual = _item(r.reshape(-1)[flat]), _item(s.reshape(-1)[flat])
    at = f"[{', '.join(map(str, index))}]" if index else "(scalar)"
    if bool(nan_introduced.any()):
        kind = "nan"
        head = f"{int(nan_introduced.sum())} of {numel} element(s) are NaN where {_ref()} has a number"
    else:
        kind = "values"
        head = f"{n_bad} of {numel} element(s) differ ({100.0 * n_bad / numel:.3g}%)"
    summary = f"{where}: {head}; worst at {at}: {_ref()} {expected:.6g}, {_res()} {actual:.6g}"
    if exact:
        summary += " (exact comparison)"
    else:
        summary += f"; max abs err {max_abs:.3g}, max rel err {max_rel:.3g} (atol {atol:g}, rtol {rtol:g})"
    return Mismatch(where=where, kind=kind, summary=summary, numel=numel, n_bad=n_bad, max_abs=_finite(max_abs),
                    max_rel=_finite(max_rel), worst_index=index, expected=_finite(expected),
                    actual=_finite(actual), atol=None if exact else atol, rtol=None if exact else rtol)


def _data(where: str, t: torch.Tensor) -> torch.Tensor:
    """The plain tensor a subclass holds (its shape, == and isclose are the subclass's own, and may lie)."""
    if type(t) in (torch.Tensor, torch.nn.Parameter):
        return t
    try:
        with torch._C.DisableTorchFunctionSubclass():
            plain = torch.Tensor.as_subclass(t, torch.Tensor).detach()
            plain.untyped_storage().data_ptr()  # a wrapper subclass has no data of its own to read
    except Exception as e:
        raise Uncomparable(where, f"it is a {type(t).__name__}, a tensor subclass whose plain data cannot be read "
                                  f"({type(e).__name__})") from e
    return plain


def _compare_nested(where: str, ref: torch.Tensor, res: torch.Tensor, tol: Tolerance,
                    fp64: Callable[[], Any]) -> Optional[Mismatch]:
    """Nested (jagged) tensors, component by component."""
    if not (ref.is_nested and res.is_nested):
        return _type_mismatch(ref, res, where)
    ours, theirs = ref.unbind(), res.unbind()
    if len(ours) != len(theirs):
        return Mismatch(where=where, kind="structure",
                        summary=f"{where}: {len(theirs)} components where {_ref()}'s nested tensor has {len(ours)}")

    def component64(i: int) -> Callable[[], Any]:
        def get() -> Any:
            f = fp64()
            return f.unbind()[i] if isinstance(f, torch.Tensor) and f.is_nested else MISSING
        return get
    for i, (a, b) in enumerate(zip(ours, theirs)):
        found = compare_tensors(f"{where}.component[{i}]", a, b, tol, component64(i))
        if found:
            return found
    return None


def _plain(t: torch.Tensor) -> torch.Tensor:
    t = t.detach()
    if t.is_sparse:
        t = t.to_dense()
    if t.is_quantized:
        t = t.dequantize()
    return t


def _as_real64(t: torch.Tensor) -> torch.Tensor:
    return torch.view_as_real(t.to(torch.complex128)) if t.is_complex() else t.to(torch.float64)


def _rmse(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.sqrt(torch.mean((a - b) ** 2))) if a.numel() else 0.0


def _unravel(flat: int, shape: tuple) -> tuple:
    out = []
    for dim in reversed(shape):
        out.append(flat % dim)
        flat //= dim
    return tuple(reversed(out))


def _item(t: torch.Tensor) -> float:
    return float(t.item())


def _finite(x: float) -> Optional[float]:
    """JSON has no NaN/inf: keep them as strings."""
    return x if math.isfinite(x) else str(x)  # type: ignore[return-value]


def _kind(x: Any) -> str:
    if isinstance(x, torch.Tensor) and x.is_nested:
        return f"a nested tensor of {x.size(0)} {_dtype(x.dtype)} component(s)"
    if isinstance(x, torch.Tensor):
        return f"a tensor {list(x.shape)} {_dtype(x.dtype)}"
    return "None" if x is None else f"a {type(x).__name__}"


def _dtype(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")
