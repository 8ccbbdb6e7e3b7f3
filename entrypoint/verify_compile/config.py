"""Loading and validating config files: YAML in, `Config` out, or every mistake as `file:line: message`."""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import re
from pathlib import Path
from typing import Any, Callable, Optional

from verify_compile.errors import ConfigError, ConfigErrors, did_you_mean
from verify_compile.spec import (
    DISTS,
    DTYPES,
    TENSOR_DTYPES,
    BackendSpec,
    Config,
    InputSet,
    ModelSpec,
    Tolerance,
)
from verify_compile.yamlload import LocDict, LocList, load_yaml

TOP_KEYS = ("version", "defaults", "models", "cache_dir")
ENTRY_ONLY_KEYS = ("name", "model", "function", "init", "inputs")
DEFAULTABLE_KEYS = ("device", "dtype", "backends", "timeout", "train", "tolerance", "seed", "xfail", "redraw",
                    "benchmark", "bisect", "max_graph_breaks", "max_recompiles", "min_speedup", "dynamo_config")
BACKEND_KEYS = ("backend", "id", "mode", "options", "dynamic", "fullgraph")
TENSOR_KEYS = ("shape", "dtype", "dist", "low", "high", "value", "requires_grad")
FILE_KEYS = ("file", "key")
DEVICE_RE = re.compile(r"^(auto|cpu|cuda|cuda:\d+)$")
NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")


class _Checker:
    """Collects every error of one config file, each at its line."""

    def __init__(self, path: Path, base_dir: Optional[Path] = None,
                 relative_hint: str = "paths are relative to the config file") -> None:
        self.path = path
        self.base_dir = base_dir or path.resolve().parent
        self.relative_hint = relative_hint
        self.errors: list[ConfigError] = []

    def error(self, message: str, line: Optional[int], hint: Optional[str] = None) -> None:
        self.errors.append(ConfigError(message, str(self.path), line, hint))

    def keys(self, mapping: LocDict, allowed: tuple, what: str) -> None:
        for key in mapping:
            if key not in allowed:
                hint = did_you_mean(key, allowed) or f"known keys: {', '.join(allowed)}"
                self.error(f"unknown key '{key}' in {what}", mapping.line_of(key), hint)

    def typed(self, value: Any, line: int, what: str, kinds: tuple, kind_name: str) -> bool:
        # bool is an int in Python; a YAML `true` is never a number here.
        if isinstance(value, bool) and bool not in kinds:
            ok = False
        else:
            ok = isinstance(value, kinds)
        if not ok:
            self.error(f"{what} must be {kind_name}, got {_show(value)}", line)
        return ok

    def target_exists(self, target: Any, line: int, what: str) -> None:
        """A `file.py:attr` must name an existing file; a `package.module:attr` an importable top package."""
        if not self.typed(target, line, what, (str,), "a string like 'models.py:MyModel'"):
            return
        path_part, sep, attr = target.rpartition(":")
        if not sep or not path_part or not attr:
            self.error(f"{what} '{target}' must look like 'file.py:attr' or 'package.module:attr'", line)
            return
        if path_part.endswith(".py") or "/" in path_part:
            if not (self.base_dir / path_part).is_file():
                self.error(f"{what} file '{path_part}' not found (looked in {self.base_dir})", line,
                           self.relative_hint)
            return
        top = path_part.split(".")[0]
        local = (self.base_dir / f"{top}.py").is_file() or (self.base_dir / top).is_dir()
        if not local and importlib.util.find_spec(top) is None:
            self.error(f"{what}: no module named '{top}'", line,
                       "install it (action input extra_requirements) or use a path like 'models.py:attr'")


def load_config(path: str | Path) -> Config:
    """Read and validate one config file. Raises ConfigErrors listing every mistake."""
    path = Path(path)
    try:
        data = load_yaml(path)
    except ConfigError as e:
        raise ConfigErrors([e]) from None
    check = _Checker(path)
    config = _config(data, check)
    if check.errors:
        raise ConfigErrors(check.errors)
    return config


def _config(data: Any, check: _Checker) -> Optional[Config]:
    if not isinstance(data, LocDict):
        check.error("a config must be a mapping with 'version: 1' and 'models:'", getattr(data, "line", 1))
        return None
    check.keys(data, TOP_KEYS, "the config")
    version = data.get("version")
    if version != 1:
        check.error(f"unsupported config version {_show(version)}", data.line_of("version"),
                    "start the file with 'version: 1'")
    defaults = data.get("defaults", LocDict())
    if not isinstance(defaults, LocDict):
        check.error("'defaults' must be a mapping", data.line_of("defaults"))
        defaults = LocDict()
    else:
        for key in defaults:
            if key in ENTRY_ONLY_KEYS:
                check.error(f"'{key}' cannot be a default; set it on each model", defaults.line_of(key))
        check.keys(defaults, DEFAULTABLE_KEYS + ENTRY_ONLY_KEYS, "defaults")
    models = data.get("models")
    if not isinstance(models, LocList) or not models:
        check.error("'models' must be a non-empty list", data.line_of("models") if "models" in data else 1,
                    "add 'models:' with at least one '- name: ...' entry")
        return None
    cache_dir = data.get("cache_dir")
    if cache_dir is not None and check.typed(cache_dir, data.line_of("cache_dir"), "cache_dir", (str,), "a path"):
        cache_dir = str(check.base_dir / cache_dir)
    specs, seen = [], {}
    for i, entry in enumerate(models):
        spec = _model(entry, models.line_of(i), defaults, check)
        if spec is None:
            continue
        if spec.name in seen:
            check.error(f"duplicate model name '{spec.name}' (first on line {seen[spec.name]})", spec.line,
                        "model names must be unique")
            continue
        seen[spec.name] = spec.line
        specs.append(spec)
    return Config(path=str(check.path), models=tuple(specs), cache_dir=cache_dir)


def _model(entry: Any, line: int, defaults: LocDict, check: _Checker) -> Optional[ModelSpec]:
    if not isinstance(entry, LocDict):
        check.error(f"each model must be a mapping with 'name:', got {_show(entry)}", line)
        return None
    n_errors = len(check.errors)
    check.keys(entry, ENTRY_ONLY_KEYS + DEFAULTABLE_KEYS, f"model '{entry.get('name', '?')}'")
    name = entry.get("name")
    if check.typed(name, entry.line_of("name"), "'name'", (str,), "a string") and not NAME_RE.match(name):
        check.error(f"model name '{name}' may only use letters, digits, '_', '.' and '-'", entry.line_of("name"))
    kinds = [k for k in ("model", "function") if k in entry]
    if len(kinds) != 1:
        check.error(f"model '{name}' needs exactly one of 'model:' (nn.Module class or factory) or 'function:'",
                    entry.line)
        return None
    kind = kinds[0]
    check.target_exists(entry[kind], entry.line_of(kind), f"'{kind}'")
    if "init" in entry and kind == "function":
        check.error("'init' applies to 'model:' entries only", entry.line_of("init"))
    merged = LocDict(defaults)
    merged.key_lines = dict(defaults.key_lines)
    merged.update(entry)
    merged.key_lines.update(entry.key_lines)
    values = {key: _VALIDATORS[key](merged[key], merged.line_of(key), check)
              for key in DEFAULTABLE_KEYS if key in merged}
    init = _input_set(entry["init"], entry.line_of("init"), check, "init") if "init" in entry else InputSet()
    inputs = None
    if "inputs" in entry:
        raw = entry["inputs"]
        if check.typed(raw, entry.line_of("inputs"), "'inputs'", (list,), "a list of input sets") and not raw:
            check.error("'inputs' is empty", entry.line_of("inputs"), "give at least one '- args: [...]'")
        elif isinstance(raw, list):
            inputs = tuple(_input_set(s, raw.line_of(i), check, f"input set {i + 1}") for i, s in enumerate(raw))
    backends = values.get("backends") or (BackendSpec(id="inductor", backend="inductor"),)
    xfail = values.get("xfail") or {}
    ids = [b.id for b in backends]
    for backend_id in xfail if "xfail" in entry else ():  # a default xfail may name backends a model skips
        if backend_id != "*" and backend_id not in ids:
            check.error(f"xfail names backend '{backend_id}', which model '{name}' does not run",
                        merged["xfail"].line_of(backend_id), did_you_mean(backend_id, ids))
    if len(check.errors) > n_errors:
        return None
    values.update(backends=backends, xfail=dict(xfail))
    return ModelSpec(name=name, kind=kind, target=entry[kind], config_file=str(check.path),
                     base_dir=str(check.base_dir), line=entry.line, init=init, inputs=inputs,
                     key_lines=dict(merged.key_lines), **values)


def _input_set(raw: Any, line: int, check: _Checker, what: str) -> InputSet:
    if not isinstance(raw, LocDict):
        check.error(f"{what} must be a mapping with 'args:' and/or 'kwargs:', got {_show(raw)}", line)
        return InputSet()
    check.keys(raw, ("args", "kwargs"), what)
    args = raw.get("args", LocList())
    kwargs = raw.get("kwargs", LocDict())
    if not isinstance(args, list):
        check.error(f"{what}: 'args' must be a list", raw.line_of("args"))
        args = []
    if not isinstance(kwargs, dict):
        check.error(f"{what}: 'kwargs' must be a mapping", raw.line_of("kwargs"))
        kwargs = {}
    arg_lines = args.item_lines if isinstance(args, LocList) else [line] * len(args)
    kwarg_lines = kwargs.key_lines if isinstance(kwargs, LocDict) else {}
    return InputSet(
        args=tuple(_argument(a, arg_lines[i], check) for i, a in enumerate(args)),
        kwargs={str(k): _argument(v, kwarg_lines.get(k, line), check) for k, v in kwargs.items()},
        line=raw.line,
    )


def _argument(raw: Any, line: int, check: _Checker) -> Any:
    """Validate one argument and turn it into plain data (YAML lists become tuples)."""
    line = getattr(raw, "line", line)
    if isinstance(raw, dict) and "shape" in raw:
        return _tensor_spec(raw, check)
    if isinstance(raw, dict) and "file" in raw:
        check.keys(raw, FILE_KEYS, "a file argument")
        if check.typed(raw["file"], line, "'file'", (str,), "a path"):
            path = check.base_dir / raw["file"]
            if not path.is_file():
                check.error(f"input file '{raw['file']}' not found (looked in {check.base_dir})", line)
            return {"file": str(path), **({"key": raw["key"]} if "key" in raw else {})}
        return None
    if isinstance(raw, dict):
        lines = getattr(raw, "key_lines", {})
        return {k: _argument(v, lines.get(k, line), check) for k, v in raw.items()}
    if isinstance(raw, list):
        lines = getattr(raw, "item_lines", [line] * len(raw))
        return tuple(_argument(v, lines[i], check) for i, v in enumerate(raw))
    return raw


def _tensor_spec(raw: LocDict, check: _Checker) -> dict:
    check.keys(raw, TENSOR_KEYS, "a tensor spec")
    shape = raw["shape"]
    if not (isinstance(shape, list) and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                            for d in shape)):
        check.error(f"'shape' must be a list of non-negative integers, got {_show(shape)}", raw.line_of("shape"))
    dist = raw.get("dist", "randn")
    if dist not in DISTS:
        check.error(f"unknown dist '{dist}'", raw.line_of("dist"),
                    did_you_mean(dist, DISTS) or f"choose one of: {', '.join(DISTS)}")
    if "dtype" in raw and raw["dtype"] not in TENSOR_DTYPES:
        check.error(f"unknown tensor dtype '{raw['dtype']}'", raw.line_of("dtype"),
                    did_you_mean(raw["dtype"], TENSOR_DTYPES) or f"choose one of: {', '.join(TENSOR_DTYPES)}")
    for key in ("low", "high", "value"):
        if key in raw:
            check.typed(raw[key], raw.line_of(key), f"'{key}'", (int, float), "a number")
    if dist == "full" and "value" not in raw:
        check.error("dist 'full' needs 'value:'", raw.line)
    if "value" in raw and dist != "full":
        check.error(f"'value' only applies to dist 'full', not '{dist}'", raw.line_of("value"))
    if "value" in raw and isinstance(raw["value"], float) and not math.isfinite(raw["value"]):
        check.error(f"'value' must be finite, got {raw['value']}", raw.line_of("value"))
    for key in ("low", "high"):
        if key in raw and dist not in ("rand", "randn", "randint"):
            check.error(f"'{key}' only applies to dists rand, randn and randint, not '{dist}'", raw.line_of(key))
    low, high = raw.get("low", 0), raw.get("high", 10 if dist == "randint" else 1)
    if dist in ("rand", "randn", "randint") and ("low" in raw or "high" in raw) and _numbers(low, high) \
            and not low < high:
        check.error(f"'low' ({low}) must be below 'high' ({high})", raw.line_of("low" if "low" in raw else "high"))
    if "requires_grad" in raw:
        check.typed(raw["requires_grad"], raw.line_of("requires_grad"), "'requires_grad'", (bool,), "true or false")
        integral = raw.get("dtype", "int64" if dist == "randint" else "float32") in (
            "int64", "int32", "int16", "int8", "uint8", "bool")
        if raw["requires_grad"] is True and integral:
            check.error("only floating-point tensors can require grad", raw.line_of("requires_grad"),
                        "give it a floating dtype, or drop requires_grad")
    return {k: (list(v) if isinstance(v, list) else v) for k, v in raw.items()}


def _numbers(*values: Any) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _backends(raw: Any, line: int, check: _Checker) -> tuple:
    if isinstance(raw, str):
        raw = LocList([raw])
        raw.line, raw.item_lines = line, [line]
    if not check.typed(raw, line, "'backends'", (list,), "a list") or not raw:
        if isinstance(raw, list):
            check.error("'backends' is empty", line)
        return ()
    out, seen = [], {}
    for i, item in enumerate(raw):
        item_line = raw.line_of(i)
        spec = _backend(item, item_line, check)
        if spec is None:
            continue
        if spec.id in seen:
            check.error(f"two backends share the id '{spec.id}' (first on line {seen[spec.id]})", item_line,
                        "give one of them 'id: <unique name>'")
            continue
        seen[spec.id] = item_line
        out.append(spec)
    return tuple(out)


def _backend(item: Any, line: int, check: _Checker) -> Optional[BackendSpec]:
    if isinstance(item, str):
        if ":" in item:
            check.target_exists(item, line, "custom backend")
        return BackendSpec(id=_default_backend_id(item), backend=item, line=line)
    if not isinstance(item, LocDict) or "backend" not in item:
        check.error(f"a backend is a name or a mapping with 'backend:', got {_show(item)}", line)
        return None
    check.keys(item, BACKEND_KEYS, "a backend")
    name = item["backend"]
    if not check.typed(name, item.line_of("backend"), "'backend'", (str,), "a string"):
        return None
    if ":" in name:
        check.target_exists(name, item.line_of("backend"), "custom backend")
    for key, kinds, kind_name in (("mode", (str,), "a string"), ("options", (dict,), "a mapping"),
                                  ("dynamic", (bool, type(None)), "true, false or null"),
                                  ("fullgraph", (bool,), "true or false"), ("id", (str,), "a string")):
        if key in item:
            check.typed(item[key], item.line_of(key), f"'{key}'", kinds, kind_name)
    backend_id = item.get("id") or _default_backend_id(name) + (f"-{item['mode']}" if item.get("mode") else "")
    return BackendSpec(id=str(backend_id), backend=name, mode=item.get("mode"),
                       options=dict(item["options"]) if isinstance(item.get("options"), dict) else None,
                       dynamic=item.get("dynamic"), fullgraph=bool(item.get("fullgraph", False)), line=line)


def _default_backend_id(name: str) -> str:
    return name.rpartition(":")[2]


def _choice(choices: tuple, what: str) -> Callable:
    def validate(value: Any, line: int, check: _Checker) -> Any:
        if value not in choices:
            check.error(f"unknown {what} {_show(value)}", line,
                        did_you_mean(str(value), choices) or f"choose one of: {', '.join(choices)}")
        return value
    return validate


def _device(value: Any, line: int, check: _Checker) -> Any:
    if not isinstance(value, str) or not DEVICE_RE.match(value):
        check.error(f"unknown device {_show(value)}", line, "use auto, cpu, cuda or cuda:N")
    return value


def _number(minimum: float, integer: bool = False, nullable: bool = False, strict: bool = False) -> Callable:
    def validate(value: Any, line: int, check: _Checker) -> Any:
        if value is None and nullable:
            return None
        kinds = (int,) if integer else (int, float)
        kind_name = ("an integer" if integer else "a number") + (" or null" if nullable else "")
        if check.typed(value, line, "this value", kinds, kind_name):
            too_small = value <= minimum if strict else value < minimum
            if too_small or (isinstance(value, float) and math.isnan(value)):
                check.error(f"value {value} must be {'>' if strict else '>='} {minimum}", line)
        return value
    return validate


def _flag(value: Any, line: int, check: _Checker) -> Any:
    check.typed(value, line, "this value", (bool,), "true or false")
    return value


def _tolerance(value: Any, line: int, check: _Checker) -> Tolerance:
    if not isinstance(value, LocDict):
        check.error("'tolerance' must be a mapping like {atol: 1e-5, rtol: 1e-5}", line)
        return Tolerance()
    check.keys(value, ("atol", "rtol"), "tolerance")
    for key in ("atol", "rtol"):
        if key in value:
            _number(0.0)(value[key], value.line_of(key), check)
    return Tolerance(atol=value.get("atol"), rtol=value.get("rtol"))


def _mapping(what: str, example: str) -> Callable:
    def validate(value: Any, line: int, check: _Checker) -> dict:
        if not isinstance(value, dict):
            check.error(f"'{what}' must be a mapping of {example}", line)
            return {}
        return dict(value)
    return validate


def _xfail(value: Any, line: int, check: _Checker) -> dict:
    if not isinstance(value, LocDict):
        check.error("'xfail' must map backend ids to reasons, like {inductor: 'issue #123'}", line)
        return {}
    for key, reason in value.items():
        check.typed(reason, value.line_of(key), f"xfail reason for '{key}'", (str,), "a string")
    return value


_VALIDATORS: dict = {
    "device": _device,
    "dtype": _choice(DTYPES, "dtype"),
    "backends": _backends,
    "timeout": _number(0.0, strict=True),
    "train": _flag,
    "tolerance": _tolerance,
    "seed": _number(0, integer=True),
    "xfail": _xfail,
    "redraw": _flag,
    "benchmark": _flag,
    "bisect": _flag,
    "max_graph_breaks": _number(0, integer=True, nullable=True),
    "max_recompiles": _number(0, integer=True, nullable=True),
    "min_speedup": _number(0.0, nullable=True),
    "dynamo_config": _mapping("dynamo_config", "torch._dynamo.config options, like {allow_rnn: true}"),
}


def _show(value: Any) -> str:
    text = repr(value if not isinstance(value, (LocDict, LocList)) else type(value).__mro__[1](value))
    return text if len(text) <= 60 else text[:57] + "..."


def backends_from_cli(text: str) -> list:
    """Backends given on the command line (comma separated); custom paths are relative to the working directory."""
    check = _Checker(Path("--backends"), Path.cwd(), "paths are relative to the working directory")
    specs = []
    for name in (n.strip() for n in text.split(",")):
        spec = _backend(name, 0, check) if name else None
        if spec and spec.is_custom and (spec.backend.partition(":")[0].endswith(".py") or "/" in spec.backend):
            path, _, attr = spec.backend.rpartition(":")
            spec = dataclasses.replace(spec, backend=f"{Path(path).resolve()}:{attr}")  # models live elsewhere
        if spec:
            specs.append(spec)
    if check.errors:
        raise ConfigErrors(check.errors)
    if not specs:
        raise ConfigErrors([ConfigError("--backends names no backend", hint="e.g. --backends inductor,aot_eager")])
    return specs
