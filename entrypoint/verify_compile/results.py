"""A case's result in three stages, each plain data that survives JSON round trips:

- `Observation`: what a run saw (written in the worker, or by the pool for a case that never reported back);
- `Expectation`: what the config expects of the case (`xfail`, health and speed gates), from `spec.Case`;
- `Verdict`: what the one judgement (judgement/judge.py) made of the two, with a baseline and `--fail-on`.

`CaseResult` holds the three; every report renders it. records.py writes and reads them as JSON.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Iterable, Optional

from verify_compile.spec import Expectation, XFail  # noqa: F401  (part of the results' vocabulary)


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
    XFAIL = "xfail"  # an observed failure that the config or the baseline expects
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


@dataclass(frozen=True)
class OutcomeStyle:
    """How every rendering shows an outcome: the one table of them."""

    label: str  # terminal
    mark: str  # Markdown, the step summary
    colour: str  # ANSI colour code
    severity: int  # 0 first: sorting by it puts what needs attention on top
    meaning: str


OUTCOME_STYLES = {
    PASS: OutcomeStyle("PASS", "✅", "32", 7, "compiled equals eager"),
    MISMATCH: OutcomeStyle("MISMATCH", "❌", "31", 1, "a located difference"),
    ERROR: OutcomeStyle("ERROR", "💥", "31", 0, "failed in a phase"),
    SKIP: OutcomeStyle("SKIP", "⏭️", "36", 6, "not run"),
    FLAKY: OutcomeStyle("FLAKY", "🎲", "33", 4, "eager disagrees with itself"),
    XFAIL: OutcomeStyle("XFAIL", "☑️", "36", 5, "a failure the config or the baseline expects"),
    XPASS: OutcomeStyle("XPASS", "❗", "31", 2, "passed although expected to fail"),
    GATE: OutcomeStyle("GATE", "🚧", "33", 3, "correct, but over a compile-health or speed limit"),
}
NOTABLE = (MISMATCH, ERROR, XPASS, GATE)  # outcomes that are failures whether or not --fail-on counts them


@dataclass
class Mismatch:
    """One leaf that differs, located exactly."""

    where: str  # e.g. "output['logits']", "input[0] (mutated in place)", "buffer bn.running_mean"
    kind: str  # values | shape | dtype | structure | type | nan | alias | overwritten
    summary: str  # one line, human readable
    input_set: int = 0  # 1-based
    numel: int = 0
    n_bad: int = 0
    max_abs: Any = None  # a float, or "inf"/"nan" as text (JSON has no such numbers)
    max_rel: Any = None
    worst_index: Optional[list] = None
    expected: Any = None  # eager value at the worst index
    actual: Any = None  # compiled value at the worst index
    atol: Optional[float] = None
    rtol: Optional[float] = None


@dataclass
class Health:
    graphs: int = 0
    graph_breaks: int = 0
    break_reasons: list[str] = field(default_factory=list)
    recompiles: int = 0
    recompile_reasons: list[str] = field(default_factory=list)
    fallbacks: int = 0  # frames that dynamo failed to compile and ran eagerly


@dataclass
class Perf:
    eager_ms: Optional[float] = None
    compiled_ms: Optional[float] = None
    speedup: Optional[float] = None
    peak_memory_mb: Optional[float] = None


@dataclass
class Observation:
    """What a run saw of one case, before any judgement. Complete once it leaves the worker."""

    case_id: str
    index: int
    model: str
    backend: str
    config: str
    line: int  # the model's line in its config: annotations point there
    outcome: str = PASS  # one of OBSERVED_OUTCOMES
    message: str = ""  # one line
    details: str = ""  # the full located diff, or a traceback
    phase: Optional[str] = None  # for errors (and for the phase a timeout or crash hit)
    device: Optional[str] = None
    dtype: Optional[str] = None
    duration: float = 0.0
    compile_time: Optional[float] = None
    input_sets: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)
    health: Optional[Health] = None
    perf: Optional[Perf] = None
    cache: dict = field(default_factory=dict)  # e.g. {"hits": 3, "misses": 0}
    captured: str = ""  # tail of what the case printed
    artifacts: list[str] = field(default_factory=list)  # paths, e.g. the repro bundle
    bisect: Optional[dict] = None
    localization: Optional[dict] = None  # where a mismatch starts (engine/localize.py): modules, ops, workaround
    notes: list[str] = field(default_factory=list)  # facts worth knowing that change no verdict

    @property
    def interrupted(self) -> bool:
        """Stopped by a signal before it finished: never verified."""
        return self.outcome == ERROR and self.phase == INTERRUPTED


@dataclass(frozen=True)
class Verdict:
    """What the judgement made of an observation. Written by judgement.judge.judge and nowhere else."""

    outcome: str  # one of OUTCOMES
    message: str
    failed: bool  # whether this case fails the run
    judgement: tuple[str, ...] = ()  # each step that changed the outcome, and the fail-on decision
    details: Optional[str] = None  # the judgement's own explanation (a gate's); None: the observation's
    baseline: Optional[dict] = None  # {"status": regressed|improved|unchanged|new, "expected": outcome or None}
    recorded: Optional[str] = None  # what a baseline records for the case (after gates and xfail); None: nothing


@dataclass(frozen=True)
class CaseResult:
    """One case, judged: what was seen, what was expected, and the verdict. Reports read it through the
    properties below (the observation's facts, the verdict's outcome and words)."""

    observation: Observation
    expectation: Expectation
    verdict: Verdict

    @property
    def case_id(self) -> str:
        return self.observation.case_id

    @property
    def index(self) -> int:
        return self.observation.index

    @property
    def model(self) -> str:
        return self.observation.model

    @property
    def backend(self) -> str:
        return self.observation.backend

    @property
    def config(self) -> str:
        return self.observation.config

    @property
    def line(self) -> int:
        return self.observation.line

    @property
    def outcome(self) -> str:
        return self.verdict.outcome

    @property
    def observed(self) -> str:
        return self.observation.outcome

    @property
    def message(self) -> str:
        return self.verdict.message

    @property
    def details(self) -> str:
        return self.observation.details if self.verdict.details is None else self.verdict.details

    @property
    def failed(self) -> bool:
        return self.verdict.failed

    @property
    def judgement(self) -> tuple:
        return self.verdict.judgement

    @property
    def baseline(self) -> Optional[dict]:
        return self.verdict.baseline

    @property
    def phase(self) -> Optional[str]:
        return self.observation.phase

    @property
    def device(self) -> Optional[str]:
        return self.observation.device

    @property
    def dtype(self) -> Optional[str]:
        return self.observation.dtype

    @property
    def duration(self) -> float:
        return self.observation.duration

    @property
    def compile_time(self) -> Optional[float]:
        return self.observation.compile_time

    @property
    def input_sets(self) -> int:
        return self.observation.input_sets

    @property
    def mismatches(self) -> list:
        return self.observation.mismatches

    @property
    def health(self) -> Optional[Health]:
        return self.observation.health

    @property
    def perf(self) -> Optional[Perf]:
        return self.observation.perf

    @property
    def cache(self) -> dict:
        return self.observation.cache

    @property
    def captured(self) -> str:
        return self.observation.captured

    @property
    def artifacts(self) -> list:
        return self.observation.artifacts

    @property
    def bisect(self) -> Optional[dict]:
        return self.observation.bisect

    @property
    def localization(self) -> Optional[dict]:
        return self.observation.localization

    @property
    def notes(self) -> list:
        return self.observation.notes

    def to_dict(self) -> dict:
        return {"observation": dataclasses.asdict(self.observation),
                "expectation": dataclasses.asdict(self.expectation), "verdict": dataclasses.asdict(self.verdict)}


@dataclass
class RunResult:
    """A run's one judgement, which every report renders and the CLI and the action both consume."""

    results: list[CaseResult]  # judged, in case order
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


def set_error(observation: Observation, phase: str, message: str, details: str) -> None:
    """Record an observed error of `phase`."""
    observation.outcome, observation.phase, observation.message = ERROR, phase, f"{phase}: {message}"
    observation.details = details[-_MAX_DETAILS:]
