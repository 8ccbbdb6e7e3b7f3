"""A case's result: plain data that every report renders and that survives JSON round trips."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

PASS = "pass"
MISMATCH = "mismatch"
ERROR = "error"
SKIP = "skip"
FLAKY = "flaky"
XFAIL = "xfail"  # a mismatch or error that the config expects
XPASS = "xpass"  # a pass where the config expects a failure: fails until the xfail is removed
GATE = "gate"  # compiled and correct, but over a compile-health or speed limit

OUTCOMES = (PASS, MISMATCH, ERROR, SKIP, FLAKY, XFAIL, XPASS, GATE)
DEFAULT_FAIL_ON = (MISMATCH, ERROR, XPASS, GATE)

# Phases of an `error`.
LOAD, EAGER, COMPILE, RUN, COMPARE = "load", "eager", "compile", "run", "compare"
EXPORT, PACKAGE = "export", "package"  # torch.export, and AOTInductor's compile of a package
CRASH, TIMEOUT, INTERRUPTED = "crash", "timeout", "interrupted"


@dataclass
class Mismatch:
    """One leaf that differs, located exactly."""

    where: str  # e.g. "output['logits']", "input[0] (mutated in place)", "buffer bn.running_mean"
    kind: str  # values | shape | dtype | structure | type | nan
    summary: str  # one line, human readable
    input_set: int = 0  # 1-based
    numel: int = 0
    n_bad: int = 0
    max_abs: Optional[float] = None
    max_rel: Optional[float] = None
    worst_index: Optional[list] = None
    expected: Any = None  # eager value at the worst index
    actual: Any = None  # compiled value at the worst index
    atol: Optional[float] = None
    rtol: Optional[float] = None


@dataclass
class Health:
    graphs: int = 0
    graph_breaks: int = 0
    break_reasons: list = field(default_factory=list)
    recompiles: int = 0
    recompile_reasons: list = field(default_factory=list)
    fallbacks: int = 0  # frames that dynamo failed to compile and ran eagerly


@dataclass
class Perf:
    eager_ms: Optional[float] = None
    compiled_ms: Optional[float] = None
    speedup: Optional[float] = None
    peak_memory_mb: Optional[float] = None


@dataclass
class CaseResult:
    case_id: str
    index: int
    model: str
    backend: str
    config: str
    line: int  # the model's line in its config: annotations point there
    outcome: str
    message: str = ""  # one line
    details: str = ""  # the full located diff, or a traceback
    phase: Optional[str] = None  # for errors (and for the phase a timeout or crash hit)
    device: Optional[str] = None
    dtype: Optional[str] = None
    duration: float = 0.0
    compile_time: Optional[float] = None
    input_sets: int = 0
    mismatches: list = field(default_factory=list)  # of Mismatch
    health: Optional[Health] = None
    perf: Optional[Perf] = None
    cache: dict = field(default_factory=dict)  # e.g. {"hits": 3, "misses": 0}
    xfail_reason: Optional[str] = None
    captured: str = ""  # tail of what the case printed
    artifacts: list = field(default_factory=list)  # paths, e.g. the repro bundle
    bisect: Optional[dict] = None
    baseline: Optional[dict] = None  # {"status": regressed|improved|unchanged|new, "expected": outcome}
    notes: list = field(default_factory=list)  # facts worth knowing that change no verdict

    @property
    def failed_outcome(self) -> bool:
        return self.outcome in (MISMATCH, ERROR, XPASS, GATE)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> CaseResult:
        data = dict(data)
        data["mismatches"] = [Mismatch(**m) for m in data.get("mismatches") or []]
        if data.get("health") is not None:
            data["health"] = Health(**data["health"])
        if data.get("perf") is not None:
            data["perf"] = Perf(**data["perf"])
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def counts(results: Iterable[CaseResult]) -> dict:
    """Number of results per outcome, every outcome present."""
    out = dict.fromkeys(OUTCOMES, 0)
    for r in results:
        out[r.outcome] = out.get(r.outcome, 0) + 1
    return out


def failing(results: Iterable[CaseResult], fail_on: Iterable[str]) -> list:
    fail_on = set(fail_on)
    return [r for r in results if r.outcome in fail_on]


def dump_json(results: Iterable[CaseResult], meta: dict) -> str:
    return json.dumps({"format": "verify-compile-results/1", "meta": meta,
                       "results": [r.to_dict() for r in results]}, indent=1, default=str)


def load_json_results(text: str, source: str) -> tuple:
    """(meta, results) from a `--json` file; ValueError names the file when it is not one."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{source}:{e.lineno}: not JSON ({e.msg})") from None
    if not isinstance(data, dict) or data.get("format") != "verify-compile-results/1" \
            or not isinstance(data.get("results"), list):
        raise ValueError(f"{source}: not a verify-compile --json results file")
    return data.get("meta") or {}, [_checked(r, source) for r in data["results"]]


_TYPES = {"case_id": str, "index": int, "model": str, "backend": str, "config": str, "line": int,
          "outcome": str, "message": str, "details": str, "duration": (int, float)}


def _checked(record: object, source: str) -> CaseResult:
    """A result read back from a file someone else wrote: its fields must have the types reports rely on."""
    name = record.get("case_id", "?") if isinstance(record, dict) else "?"
    try:
        if not isinstance(record, dict):
            raise TypeError("a result must be an object")
        for key, kind in _TYPES.items():
            if key in record and not isinstance(record[key], kind) or isinstance(record.get(key), bool):
                raise TypeError(f"'{key}' has the wrong type")
        if record.get("outcome") not in OUTCOMES:
            raise TypeError(f"unknown outcome {record.get('outcome')!r}")
        return CaseResult.from_dict(record)
    except (TypeError, ValueError, AttributeError) as e:
        raise ValueError(f"{source}: result '{name}' is malformed: {e}") from None
