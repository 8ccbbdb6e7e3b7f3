"""What a validated config is made of: plain, picklable data that workers receive."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

DTYPES = ("float32", "float16", "bfloat16", "float64")
TENSOR_DTYPES = DTYPES + ("int64", "int32", "int16", "int8", "uint8", "bool", "complex64", "complex128")
DISTS = ("randn", "rand", "randint", "ones", "zeros", "arange", "full")
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
class InputSet:
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    line: int = 0
    label: str = ""  # how reports name a generated set, e.g. "sweep B=1"; empty for a listed set


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
    inputs: Optional[tuple] = None  # tuple of InputSet; None: the model's own example_inputs
    backends: tuple = ()
    device: str = "auto"
    dtype: str = "float32"
    timeout: float = 600.0
    train: bool = False
    tolerance: Tolerance = Tolerance()
    seed: int = 0
    xfail: dict = field(default_factory=dict)  # backend id (or "*") -> reason
    redraw: bool = True
    benchmark: bool = True
    bisect: bool = False
    max_graph_breaks: Optional[int] = None
    max_recompiles: Optional[int] = None
    min_speedup: Optional[float] = None
    dynamo_config: dict = field(default_factory=dict)  # torch._dynamo.config options for this model's compiles
    key_lines: dict = field(default_factory=dict)  # config key -> its line, for errors found after loading

    def xfail_reason(self, backend_id: str) -> Optional[str]:
        return self.xfail.get(backend_id, self.xfail.get("*"))


@dataclass(frozen=True)
class RunSettings:
    """Run-wide choices that travel to the workers with every case."""

    repro_dir: Optional[str] = None  # write a repro bundle for each mismatch under this folder
    bisect: bool = False  # bisect every inductor mismatch (a model can also ask with `bisect: true`)


@dataclass(frozen=True)
class Config:
    path: str
    models: tuple
    cache_dir: Optional[str] = None


def tensor_arg(spec: Any) -> bool:
    return isinstance(spec, dict) and "shape" in spec


def file_arg(spec: Any) -> bool:
    return isinstance(spec, dict) and "file" in spec
