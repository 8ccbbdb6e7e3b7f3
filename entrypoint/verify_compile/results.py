"""A case's result: plain data that every report renders and that survives JSON round trips."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Iterable, Optional


class _StrEnum(str, Enum):
    """A string-valued enum that prints, formats and serialises as its plain value (the JSON format is text)."""

    __str__ = str.__str__
    __format__ = str.__format__


class Outcome(_StrEnum):
    PASS = "pass"
    MISMATCH = "mismatch"
    ERROR = "error"
    SKIP = "skip"
    FLAKY = "flaky"
    XFAIL = "xfail"  # a mismatch or error that the config or the baseline expects
    XPASS = "xpass"  # a pass where a failure is expected: fails until the expectation is removed
    GATE = "gate"  # compiled and correct, but over a compile-health or speed limit


class Phase(_StrEnum):
    """Where an `error` happened (and which phase a timeout or crash hit)."""

    LOAD = "load"
    EAGER = "eager"
    COMPILE = "compile"
    RUN = "run"
    COMPARE = "compare"
    EXPORT = "export"  # torch.export
    PACKAGE = "package"  # AOTInductor's compile of a package
    CRASH = "crash"
    TIMEOUT = "timeout"
    INTERRUPTED = "interrupted"


PASS, MISMATCH, ERROR, SKIP, FLAKY = Outcome.PASS, Outcome.MISMATCH, Outcome.ERROR, Outcome.SKIP, Outcome.FLAKY
XFAIL, XPASS, GATE = Outcome.XFAIL, Outcome.XPASS, Outcome.GATE
OUTCOMES = tuple(o.value for o in Outcome)
OBSERVED_OUTCOMES = (PASS, MISMATCH, ERROR, SKIP, FLAKY)  # what a run can see; the rest are judgements
DEFAULT_FAIL_ON = (MISMATCH, ERROR, XPASS, GATE)

LOAD, EAGER, COMPILE, RUN, COMPARE = Phase.LOAD, Phase.EAGER, Phase.COMPILE, Phase.RUN, Phase.COMPARE
EXPORT, PACKAGE = Phase.EXPORT, Phase.PACKAGE
CRASH, TIMEOUT, INTERRUPTED = Phase.CRASH, Phase.TIMEOUT, Phase.INTERRUPTED
PASSED, FAILED = "passed", "failed"  # a run's conclusion


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
    outcome: str  # the final outcome, after the judgement (judgement/judge.py)
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
    limits: dict = field(default_factory=dict)  # the config's health and speed gates, e.g. {"max_graph_breaks": 0}
    # What the run observed, before any judgement; a resumed run and a merge judge again from these.
    observed: Optional[str] = None
    observed_message: Optional[str] = None
    failed: bool = False  # whether this case fails the run
    judgement: list = field(default_factory=list)  # each step that changed the outcome, and the fail-on decision

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


@dataclass
class RunResult:
    """A run's one judgement, which every report renders and the CLI and the action both consume."""

    results: list  # CaseResult, judged, in case order
    meta: dict
    conclusion: str = PASSED  # PASSED or FAILED
    fail_on: tuple = DEFAULT_FAIL_ON
    interrupted: Optional[int] = None  # the signal that stopped the run
    journal: Optional[str] = None
    reports: dict = field(default_factory=dict)  # report kind -> path written
    report_errors: list = field(default_factory=list)  # reports that could not be written

    @property
    def failed(self) -> list:
        return [r for r in self.results if r.failed]


def counts(results: Iterable[CaseResult]) -> dict:
    """Number of results per outcome, every outcome present."""
    out = dict.fromkeys(OUTCOMES, 0)
    for r in results:
        out[r.outcome] = out.get(r.outcome, 0) + 1
    return out


_MAX_DETAILS = 20000


def set_error(result: CaseResult, phase: str, message: str, details: str) -> None:
    """Record an observed error of `phase` on `result`."""
    result.outcome, result.phase, result.message = ERROR, phase, f"{phase}: {message}"
    result.details = details[-_MAX_DETAILS:]


def dump_json(run: RunResult) -> str:
    return json.dumps({"format": "verify-compile-results/1", "conclusion": run.conclusion,
                       "fail_on": list(run.fail_on), "meta": run.meta,
                       "results": [r.to_dict() for r in run.results]}, indent=1, default=str)


def load_json_results(text: str, source: str) -> tuple:
    """(meta, results) from a `--json` file; ValueError names the file when it is not one."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{source}:{e.lineno}: not JSON ({e.msg})") from None
    except RecursionError:
        raise ValueError(f"{source}: nested too deeply to be a results file") from None
    if not isinstance(data, dict) or data.get("format") != "verify-compile-results/1" \
            or not isinstance(data.get("results"), list):
        raise ValueError(f"{source}: not a verify-compile --json results file")
    if not isinstance(data.get("meta") or {}, dict):
        raise ValueError(f"{source}: 'meta' must be an object")
    return data.get("meta") or {}, [_checked(r, source) for r in data["results"]]


_NUMBER = (int, float)
# Each field a results file may hold: its type and whether it may be null. A result read back from a file (merge,
# a journal) or a worker is checked against these before anything judges or renders it: a wrong type there
# would end the run in a traceback instead of a report.
_FIELDS = {
    "case_id": (str, False), "index": (int, False), "model": (str, False), "backend": (str, False),
    "config": (str, False), "line": (int, False), "outcome": (str, False), "message": (str, False),
    "details": (str, False), "phase": (str, True), "device": (str, True), "dtype": (str, True),
    "duration": (_NUMBER, False), "compile_time": (_NUMBER, True), "input_sets": (int, False),
    "mismatches": (list, False), "health": (dict, True), "perf": (dict, True), "cache": (dict, False),
    "xfail_reason": (str, True), "captured": (str, False), "artifacts": (list, False), "bisect": (dict, True),
    "baseline": (dict, True), "notes": (list, False), "limits": (dict, False), "observed": (str, True),
    "observed_message": (str, True), "failed": (bool, False), "judgement": (list, False)}
_NESTED = {
    "health": {"graphs": (int, False), "graph_breaks": (int, False), "recompiles": (int, False),
               "fallbacks": (int, False), "break_reasons": (list, False), "recompile_reasons": (list, False)},
    "perf": {k: (_NUMBER, True) for k in ("eager_ms", "compiled_ms", "speedup", "peak_memory_mb")}}
_MISMATCH_FIELDS = {"where": (str, False), "kind": (str, False), "summary": (str, False), "input_set": (int, False),
                    "numel": (int, False), "n_bad": (int, False), "worst_index": (list, True)}  # max_abs may be "inf"


def _typed(value: Any, kind: Any, nullable: bool) -> bool:
    if value is None:
        return nullable
    return isinstance(value, kind) and (kind is bool or not isinstance(value, bool))


def _check_fields(record: dict, fields: dict, prefix: str = "") -> None:
    for key, (kind, nullable) in fields.items():
        if key in record and not _typed(record[key], kind, nullable):
            raise TypeError(f"'{prefix}{key}' has the wrong type")


def _depth(value: Any) -> int:
    """How deeply lists and objects nest in `value` (without recursion: the depth is what is in question)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, (dict, list)):
            stack += [(v, depth + 1) for v in (item.values() if isinstance(item, dict) else item)]
    return deepest


def _check_types(record: dict) -> None:
    """TypeError naming the first field of `record` whose type the judgement or a report cannot work with."""
    if _depth(record) > 16:  # a result nests 4 levels; copying a deeper one would exhaust the stack
        raise TypeError("nested too deeply")
    _check_fields(record, _FIELDS)
    for key, fields in _NESTED.items():
        if record.get(key) is not None:
            _check_fields(record[key], fields, f"{key}.")
    for mismatch in record.get("mismatches", []):
        if not isinstance(mismatch, dict):
            raise TypeError("'mismatches' must hold objects")
        _check_fields(mismatch, _MISMATCH_FIELDS, "mismatches.")
    health = record.get("health") or {}
    texts = [record.get(k, []) for k in ("notes", "artifacts", "judgement")]
    texts += [health.get(k, []) for k in ("break_reasons", "recompile_reasons")]
    if any(not isinstance(text, str) for items in texts for text in items):
        raise TypeError("notes, artifacts, judgement steps and compile reasons must be text")
    if any(not _typed(v, _NUMBER, False) for v in record.get("limits", {}).values()):
        raise TypeError("'limits' must map gate names to numbers")
    if record.get("outcome") not in OUTCOMES:
        raise TypeError(f"unknown outcome {record.get('outcome')!r}")
    if record.get("observed") is not None and record["observed"] not in OBSERVED_OUTCOMES:
        raise TypeError(f"unknown observed outcome {record['observed']!r}")
    legacy = record.get("baseline") or {}  # read back for results written before 'observed' existed
    if record.get("observed") is None and legacy.get("actual", OUTCOMES[0]) not in OUTCOMES:
        raise TypeError(f"unknown baseline outcome {legacy.get('actual')!r}")


def _checked(record: object, source: str) -> CaseResult:
    """A result read back from a file someone else wrote: its fields must have the types reports rely on."""
    name = record.get("case_id", "?") if isinstance(record, dict) else "?"
    try:
        if not isinstance(record, dict):
            raise TypeError("a result must be an object")
        _check_types(record)
        return CaseResult.from_dict(record)
    except (TypeError, ValueError, AttributeError) as e:
        raise ValueError(f"{source}: result '{name}' is malformed: {e}") from None
