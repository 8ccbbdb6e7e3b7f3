"""Loading and validating config files: YAML in, `Config` out, or every mistake as `file:line: message`."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path
from typing import Any, Callable, Optional

from verify_compile.config.argspecs import Scope, input_set, swept_sets
from verify_compile.config.checker import Checker, show
from verify_compile.config.dims import dynamic_dims, model_dims, sweep, unused_sweeps
from verify_compile.config.yamlload import LocDict, LocList, load_yaml
from verify_compile.errors import ConfigError, ConfigErrors, did_you_mean
from verify_compile.spec import (
    DTYPES,
    EXPORT,
    SHIPPING_BACKENDS,
    XFAIL_DEFAULT_OUTCOMES,
    BackendSpec,
    Config,
    InputSet,
    ModelSpec,
    Tolerance,
    XFail,
)

MAX_SEED = 2**32 - 1  # each input set is drawn under seed * 1000 + its index, which torch and numpy must take
MAX_TIMEOUT = 7 * 24 * 3600.0  # a week per case: anything longer is a typo
TOP_KEYS = ("version", "defaults", "models", "cache_dir")
ENTRY_ONLY_KEYS = ("name", "model", "function", "init", "inputs", "sweep")
MERGED_KEYS = ("dims",)  # may be a default too; a model's entries go over the defaults' key by key
DEFAULTABLE_KEYS = ("device", "dtype", "backends", "timeout", "train", "tolerance", "seed", "xfail", "redraw",
                    "benchmark", "bisect", "localize", "max_graph_breaks", "max_recompiles", "min_speedup",
                    "dynamo_config")
BACKEND_KEYS = ("backend", "id", "mode", "options", "dynamic", "fullgraph")
DEVICE_RE = re.compile(r"^(auto|cpu|cuda|cuda:\d{1,4})\Z")  # \Z: `$` would take a trailing newline
NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]+\Z")


def load_config(path: str | Path) -> Config:
    """Read and validate one config file. Raises ConfigErrors listing every mistake."""
    path = Path(path)
    try:
        data = load_yaml(path)
    except ConfigError as e:
        raise ConfigErrors([e]) from None
    check = Checker(path)
    config = _config(data, check)
    if check.errors:
        raise ConfigErrors(check.errors)
    return config


def _config(data: Any, check: Checker) -> Optional[Config]:
    if not isinstance(data, LocDict):
        check.error("a config must be a mapping with 'version: 1' and 'models:'", getattr(data, "line", 1))
        return None
    # `x-...` keys are free for YAML anchors that models share (`x-common: &common {...}`), as in compose files
    check.keys(data, TOP_KEYS, "the config", free_prefix="x-")
    version = data.get("version")
    if version != 1:
        check.error(f"unsupported config version {show(version)}", data.line_of("version"),
                    "start the file with 'version: 1'")
    defaults = data.get("defaults", LocDict())
    if not isinstance(defaults, LocDict):
        check.error("'defaults' must be a mapping", data.line_of("defaults"))
        defaults = LocDict()
    else:
        for key in defaults:
            if key in ENTRY_ONLY_KEYS:
                check.error(f"'{key}' cannot be a default; set it on each model", defaults.line_of(key))
        check.keys(defaults, DEFAULTABLE_KEYS + MERGED_KEYS + ENTRY_ONLY_KEYS, "defaults")
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


def _model(entry: Any, line: int, defaults: LocDict, check: Checker) -> Optional[ModelSpec]:
    if not isinstance(entry, LocDict):
        check.error(f"each model must be a mapping with 'name:', got {show(entry)}", line)
        return None
    n_errors = len(check.errors)
    check.keys(entry, ENTRY_ONLY_KEYS + DEFAULTABLE_KEYS + MERGED_KEYS, f"model '{entry.get('name', '?')}'")
    name = entry.get("name")
    if check.typed(name, entry.line_of("name"), "'name'", (str,), "a string") and not NAME_RE.match(name):
        check.error(f"model name '{name}' may only use letters, digits, '_', '.' and '-'", entry.line_of("name"))
    kind = _kind(entry, name, check)
    if kind is None:
        return None
    merged = LocDict(defaults)
    merged.key_lines = dict(defaults.key_lines)
    merged.update(entry)
    merged.key_lines.update(entry.key_lines)
    values = {key: _VALIDATORS[key](merged[key], merged.line_of(key), check)
              for key in DEFAULTABLE_KEYS if key in merged}
    dims = _dims(defaults, entry, check)
    scope = Scope(dims, merged.get("dtype") if merged.get("dtype") in DTYPES else "float32")
    init = input_set(entry["init"], entry.line_of("init"), check, "init", scope) if "init" in entry else InputSet()
    inputs, swept = _inputs(entry, scope, n_errors, check)
    values["backends"] = values.get("backends") or (BackendSpec(id="inductor", backend="inductor"),)
    values["xfail"] = dict(values.get("xfail") or {})
    _check_combinations(name, entry, merged, values, check)
    if len(check.errors) > n_errors:
        return None
    return ModelSpec(name=name, kind=kind, target=entry[kind], config_file=str(check.path),
                     base_dir=str(check.base_dir), line=entry.line, init=init, inputs=inputs, dims=dims,
                     dynamic_dims=dynamic_dims(dims, tuple(s for s in inputs or () if not s.label), swept),
                     key_lines=dict(merged.key_lines), **values)


def _kind(entry: LocDict, name: object, check: Checker) -> Optional[str]:
    """'model' or 'function', whichever the entry names (exactly one), with its target checked."""
    kinds = [k for k in ("model", "function") if k in entry]
    if len(kinds) != 1:
        check.error(f"model '{name}' needs exactly one of 'model:' (nn.Module class or factory) or 'function:'",
                    entry.line)
        return None
    kind = kinds[0]
    check.target_exists(entry[kind], entry.line_of(kind), f"'{kind}'")
    if "init" in entry and kind == "function":
        check.error("'init' applies to 'model:' entries only", entry.line_of("init"))
    return kind


def _check_combinations(name: object, entry: LocDict, merged: LocDict, values: dict, check: Checker) -> None:
    """Keys that are each valid but do not fit together."""
    ids = [b.id for b in values["backends"]]
    for backend_id in values["xfail"] if "xfail" in entry else ():  # a default xfail may name backends a model skips
        if backend_id != "*" and backend_id not in ids:
            check.error(f"xfail names backend '{backend_id}', which model '{name}' does not run",
                        merged["xfail"].line_of(backend_id), did_you_mean(backend_id, ids))
    if values.get("min_speedup") is not None and values.get("benchmark") is False:
        check.error("'min_speedup' needs the latency that 'benchmark: false' turns off",
                    merged.line_of("min_speedup"), "drop one of them")


def _dims(defaults: LocDict, entry: LocDict, check: Checker) -> dict:
    dims = model_dims(defaults["dims"], defaults.line_of("dims"), check) if "dims" in defaults else {}
    if "dims" in entry:
        dims.update(model_dims(entry["dims"], entry.line_of("dims"), check))
    return dims


def _inputs(entry: LocDict, scope: Scope, n_errors: int, check: Checker) -> tuple:
    """(listed input sets then swept ones, or None; the sweep as [(dim, size, line)])."""
    inputs = None
    raw = entry.get("inputs")
    if "inputs" in entry:
        if check.typed(raw, entry.line_of("inputs"), "'inputs'", (list,), "a list of input sets") and not raw:
            check.error("'inputs' is empty", entry.line_of("inputs"), "give at least one '- args: [...]'")
        elif isinstance(raw, list):
            inputs = tuple(input_set(s, raw.line_of(i), check, f"input set {i + 1}", scope)
                           for i, s in enumerate(raw))
    if "sweep" not in entry:
        return inputs, []
    swept = sweep(entry["sweep"], entry.line_of("sweep"), scope.dims, check)
    if "inputs" not in entry:
        check.error("'sweep' needs listed 'inputs:' to build the swept input sets from", entry.line_of("sweep"),
                    "list at least one input set whose shapes use the swept dims")
    elif inputs and len(check.errors) == n_errors:  # a broken first set would report each mistake once per value
        unused_sweeps(swept, inputs[0], check)
        inputs += swept_sets(raw[0], swept, scope, check)
    return inputs, swept


def _backends(raw: Any, line: int, check: Checker) -> tuple:
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


def _backend(item: Any, line: int, check: Checker) -> Optional[BackendSpec]:
    if isinstance(item, str):
        if ":" in item:
            check.target_exists(item, line, "custom backend")
        return BackendSpec(id=_default_backend_id(item), backend=item, line=line)
    if not isinstance(item, LocDict) or "backend" not in item:
        check.error(f"a backend is a name or a mapping with 'backend:', got {show(item)}", line)
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
    if name in SHIPPING_BACKENDS:
        _shipping_keys(item, name, check)
    elif ignores_tuning(name):
        for key in ("mode", "options"):
            if key in item:
                check.error(f"'{key}' does not apply to backend '{name}': it ignores {key} (torch only logs a "
                            "warning), so the case would verify something else than it says", item.line_of(key),
                            "mode and options are inductor's: use backend: inductor, or drop the key")
    elif "mode" in item and "options" in item:  # torch.compile raises on both: the case could never compile
        check.error("'mode' and 'options' together: torch.compile takes one or the other", item.line_of("options"),
                    "a mode is a set of inductor options: give them in options (e.g. max_autotune: true), or drop "
                    "options")
    backend_id = item.get("id") or _default_backend_id(name) + (f"-{item['mode']}" if item.get("mode") else "")
    if not NAME_RE.match(str(backend_id)):
        check.error(f"backend id '{backend_id}' may only use letters, digits, '_', '.' and '-'",
                    item.line_of("id") if "id" in item else line, "set 'id:' to a plain name")
    return BackendSpec(id=str(backend_id), backend=name, mode=item.get("mode"),
                       options=dict(item["options"]) if isinstance(item.get("options"), dict) else None,
                       dynamic=item.get("dynamic"), fullgraph=bool(item.get("fullgraph", False)), line=line)


def ignores_tuning(name: str) -> bool:
    """Registered backends that take no mode or options: torch's debugging backends and its test backends."""
    return name.startswith(("eager", "aot_eager", "aot_ts")) or name.endswith("_TESTING_ONLY")


def _shipping_keys(item: LocDict, name: str, check: Checker) -> None:
    """torch.compile's knobs mean nothing to a program exported once and run as it is."""
    for key in ("mode", "dynamic", "fullgraph") + (("options",) if name == EXPORT else ()):
        if key in item:
            hint = ("name dims and sweep them (dims:, sweep:) to export them as dynamic" if key == "dynamic" else
                    "options are inductor options, for aot_inductor" if key == "options" else
                    f"'{name}' exports the whole model into one graph and compiles it ahead of time")
            check.error(f"'{key}' does not apply to backend '{name}' (it is a torch.compile setting)",
                        item.line_of(key), hint)


def _default_backend_id(name: str) -> str:
    return name.rpartition(":")[2]


def _choice(choices: tuple, what: str) -> Callable:
    def validate(value: Any, line: int, check: Checker) -> Any:
        if value not in choices:
            check.error(f"unknown {what} {show(value)}", line,
                        did_you_mean(str(value), choices) or f"choose one of: {', '.join(choices)}")
        return value
    return validate


def _device(value: Any, line: int, check: Checker) -> Any:
    if not isinstance(value, str) or not DEVICE_RE.match(value):
        check.error(f"unknown device {show(value)}", line, "use auto, cpu, cuda or cuda:N")
    return value


def _number(name: str, minimum: float, integer: bool = False, nullable: bool = False,
            strict: bool = False, maximum: Optional[float] = None) -> Callable:
    def validate(value: Any, line: int, check: Checker) -> Any:
        if value is None and nullable:
            return None
        kinds = (int,) if integer else (int, float)
        kind_name = ("an integer" if integer else "a number") + (" or null" if nullable else "")
        if check.typed(value, line, f"'{name}'", kinds, kind_name):
            too_small = value <= minimum if strict else value < minimum
            if too_small or (isinstance(value, float) and math.isnan(value)):
                check.error(f"'{name}' must be {'>' if strict else '>='} {minimum:g}, got {value}", line)
            elif isinstance(value, float) and math.isinf(value):  # `.inf` would switch a timeout or gate off
                check.error(f"'{name}' must be a finite number, got {value}", line)
            elif maximum is not None and value > maximum:
                check.error(f"'{name}' must be at most {maximum:g}, got {value}", line)
        return value
    return validate


def _flag(name: str) -> Callable:
    def validate(value: Any, line: int, check: Checker) -> Any:
        check.typed(value, line, f"'{name}'", (bool,), "true or false")
        return value
    return validate


def _tolerance(value: Any, line: int, check: Checker) -> Tolerance:
    if not isinstance(value, LocDict):
        check.error("'tolerance' must be a mapping like {atol: 1e-5, rtol: 1e-5}", line)
        return Tolerance()
    check.keys(value, ("atol", "rtol"), "tolerance")
    for key in ("atol", "rtol"):
        if key in value:
            _number(key, 0.0)(value[key], value.line_of(key), check)
    return Tolerance(atol=value.get("atol"), rtol=value.get("rtol"))


def _mapping(what: str, example: str) -> Callable:
    def validate(value: Any, line: int, check: Checker) -> dict:
        if not isinstance(value, dict):
            check.error(f"'{what}' must be a mapping of {example}", line)
            return {}
        return dict(value)
    return validate


XFAIL_OUTCOMES = ("mismatch", "error", "gate", "flaky")  # failures a run can see, that an xfail may expect
_XFAIL_FORM = "{inductor: 'issue #123'} or {inductor: {reason: 'issue #123', outcome: mismatch}}"


def _xfail(value: Any, line: int, check: Checker) -> dict:
    """{backend id: XFail}. A plain reason expects any of XFAIL_DEFAULT_OUTCOMES; a mapping may name the
    outcome(s) it expects, so that another failure of the same case is reported as what it is."""
    if not isinstance(value, LocDict):
        check.error(f"'xfail' must map backend ids to reasons, like {_XFAIL_FORM}", line)
        return {}
    out = {}
    for key, entry in value.items():
        entry_line = value.line_of(key)
        if isinstance(entry, LocDict):
            check.keys(entry, ("reason", "outcome"), f"the xfail entry of '{key}'")
            xfail = _xfail_entry(entry, entry_line, key, check)
        elif check.typed(entry, entry_line, f"xfail reason for '{key}'", (str,), "a string or a mapping "
                         "with 'reason' and 'outcome'"):
            xfail = XFail(reason=entry)
        else:
            xfail = None
        if xfail is not None:
            out[key] = xfail
    return out


def _xfail_entry(entry: LocDict, line: int, key: str, check: Checker) -> Optional[XFail]:
    reason = entry.get("reason")
    if not check.typed(reason, entry.line_of("reason") if "reason" in entry else line, f"xfail reason for '{key}'",
                       (str,), "a string"):
        return None
    outcomes = entry.get("outcome", list(XFAIL_DEFAULT_OUTCOMES))
    outcomes = [outcomes] if isinstance(outcomes, str) else outcomes
    at = entry.line_of("outcome") if "outcome" in entry else line
    if not isinstance(outcomes, list) or not outcomes:
        check.error(f"xfail outcome for '{key}' must be an outcome or a list of them", at,
                    f"choose from {', '.join(XFAIL_OUTCOMES)}")
        return None
    for outcome in outcomes:
        if outcome not in XFAIL_OUTCOMES:
            check.error(f"xfail outcome for '{key}': unknown outcome {show(outcome)}", at,
                        did_you_mean(str(outcome), XFAIL_OUTCOMES) or f"choose from {', '.join(XFAIL_OUTCOMES)}")
            return None
    return XFail(reason=reason, outcomes=tuple(dict.fromkeys(outcomes)))


_VALIDATORS: dict = {
    "device": _device,
    "dtype": _choice(DTYPES, "dtype"),
    "backends": _backends,
    "timeout": _number("timeout", 0.0, strict=True, maximum=MAX_TIMEOUT),
    "train": _flag("train"),
    "tolerance": _tolerance,
    "seed": _number("seed", 0, integer=True, maximum=MAX_SEED),
    "xfail": _xfail,
    "redraw": _flag("redraw"),
    "benchmark": _flag("benchmark"),
    "bisect": _flag("bisect"),
    "localize": _flag("localize"),
    "max_graph_breaks": _number("max_graph_breaks", 0, integer=True, nullable=True),
    "max_recompiles": _number("max_recompiles", 0, integer=True, nullable=True),
    "min_speedup": _number("min_speedup", 0.0, nullable=True),
    "dynamo_config": _mapping("dynamo_config", "torch._dynamo.config options, like {allow_rnn: true}"),
}


def backends_from_cli(text: str) -> list:
    """Backends given on the command line (comma separated); custom paths are relative to the working directory."""
    check = Checker(Path("--backends"), Path.cwd(), "paths are relative to the working directory")
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
