"""The plain data every layer shares: what a validated config is made of, the cases it expands into, and the
run-wide settings that travel to the workers. Picklable, torch-free, and below config, orchestration and engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

DTYPES = ("float32", "float16", "bfloat16", "float64")
TENSOR_DTYPES = DTYPES + ("int64", "int32", "int16", "int8", "uint8", "bool", "complex64", "complex128")
DISTS = ("randn", "rand", "randint", "ones", "zeros", "arange", "full")
RANDOM_DISTS = ("randn", "rand", "randint")
OUTCOMES_FOR_FAIL_ON = ("mismatch", "error", "flaky", "xpass", "gate", "skip")
# Backends that verify what ships rather than torch.compile: a torch.export program, and the same program
# compiled into an AOTInductor package. Not in torch._dynamo.list_backends(); aot_inductor takes inductor options.
EXPORT, AOT_INDUCTOR = "export", "aot_inductor"
SHIPPING_BACKENDS = (EXPORT, AOT_INDUCTOR)


@dataclass(frozen=True)
class Tolerance:
    """Absolute and relative tolerance; None means: the default for the dtype of each compared tensor."""

    atol: Optional[float] = None
    rtol: Optional[float] = None
    gradients: bool = False  # set by the comparison for gradient leaves, which have defaults of their own


@dataclass(frozen=True)
class BackendSpec:
    id: str
    backend: str  # a registered name, or "file.py:attr" / "package.module:attr" for a custom callable
    mode: Optional[str] = None
    options: Optional[dict] = None
    dynamic: Optional[bool] = None
    fullgraph: bool = False
    line: int = 0

    @property
    def is_custom(self) -> bool:
        return ":" in self.backend

    @property
    def is_shipping(self) -> bool:
        return self.backend in SHIPPING_BACKENDS


@dataclass(frozen=True)
class TensorSpec:
    """A tensor argument with every default resolved (config/argspecs.py `tensor` is the one place that does)."""

    shape: tuple  # ints; named dims already replaced by their size
    dtype: str = "float32"  # a TENSOR_DTYPES name: the model's dtype unless given (randint: int64)
    dist: str = "randn"  # one of DISTS
    low: Optional[float] = None  # randint: always set; rand/randn: both None (unscaled) or both set
    high: Optional[float] = None
    value: Optional[float] = None  # dist "full" only
    requires_grad: bool = False
    dim_names: tuple = ()  # per position of `shape`: the named dim it came from, or None

    @property
    def random(self) -> bool:
        return self.dist in RANDOM_DISTS


@dataclass(frozen=True)
class FileSpec:
    """A `{file:, key:}` argument: data read with torch.load(weights_only=True)."""

    file: str  # absolute path
    key: Optional[Any] = None  # the entry of a mapping file to pass; None: the whole file


@dataclass(frozen=True)
class InputSet:
    """One call's arguments: TensorSpec, FileSpec, scalars, and tuples/dicts of them, nested."""

    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    line: int = 0
    label: str = ""  # how reports name a generated set, e.g. "sweep B=1"; empty for a listed set
    dims: dict = field(default_factory=dict)  # the named dim sizes its shapes were built with


# What an `xfail` entry expects when it names no outcome: any failure a run can see.
XFAIL_DEFAULT_OUTCOMES = ("mismatch", "error", "gate")


@dataclass(frozen=True)
class XFail:
    """An expected failure: the outcomes it allows (after the gates), and why."""

    reason: str
    outcomes: tuple[str, ...] = XFAIL_DEFAULT_OUTCOMES


@dataclass(frozen=True)
class Expectation:
    """What the config expects of one case: the judgement's second input, beside the observation."""

    xfail: Optional[XFail] = None
    max_graph_breaks: Optional[int] = None
    max_recompiles: Optional[int] = None
    min_speedup: Optional[float] = None


@dataclass(frozen=True)
class ModelSpec:
    """One model entry of a config, with its defaults applied."""

    name: str
    kind: str  # "model" (nn.Module class or factory) or "function" (a callable compiled as it is)
    target: str  # "file.py:attr" relative to base_dir, or "package.module:attr"
    config_file: str
    base_dir: str
    line: int
    init: InputSet = InputSet()
    inputs: Optional[tuple] = None  # tuple of InputSet (listed, then swept); None: the model's example_inputs
    dims: dict = field(default_factory=dict)  # named dim -> size, from `dims:` (defaults merged under the model's)
    dynamic_dims: tuple = ()  # named dims that are swept or differ between listed input sets, in `dims` order
    backends: tuple = ()
    device: str = "auto"
    dtype: str = "float32"
    timeout: float = 600.0
    train: bool = False
    tolerance: Tolerance = Tolerance()
    seed: int = 0
    xfail: dict = field(default_factory=dict)  # backend id (or "*") -> XFail
    redraw: bool = True
    benchmark: bool = True
    bisect: bool = False
    localize: bool = False  # on a mismatch, name the submodule, the source line and a re-checked workaround
    max_graph_breaks: Optional[int] = None
    max_recompiles: Optional[int] = None
    min_speedup: Optional[float] = None
    dynamo_config: dict = field(default_factory=dict)  # torch._dynamo.config options for this model's compiles
    key_lines: dict = field(default_factory=dict)  # config key -> its line, for errors found after loading

    def xfail_for(self, backend_id: str) -> Optional[XFail]:
        return self.xfail.get(backend_id, self.xfail.get("*"))


@dataclass(frozen=True)
class RunSettings:
    """Run-wide choices that travel to the workers with every case."""

    repro_dir: Optional[str] = None  # write a repro bundle for each mismatch under this folder
    bisect: bool = False  # bisect every inductor mismatch (a model can also ask with `bisect: true`)
    localize: bool = False  # localize every mismatch (a model can also ask with `localize: true`)


@dataclass(frozen=True)
class Config:
    path: str
    models: tuple
    cache_dir: Optional[str] = None



@dataclass(frozen=True)
class Case:
    """One model under one backend: the unit that runs in a worker and gets one verdict."""

    index: int  # position in config order: reports list cases in this order whatever ran them
    model: ModelSpec
    backend: BackendSpec

    @property
    def id(self) -> str:
        return case_id(self.model.name, self.backend.id)

    @property
    def expectation(self) -> Expectation:
        m = self.model
        return Expectation(xfail=m.xfail_for(self.backend.id), max_graph_breaks=m.max_graph_breaks,
                           max_recompiles=m.max_recompiles, min_speedup=m.min_speedup)


def case_id(model: str, backend: str) -> str:
    return f"{model}[{backend}]"
