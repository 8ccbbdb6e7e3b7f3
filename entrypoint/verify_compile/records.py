"""Results as JSON: the results file (`--json`, what `merge` reads), a worker's observation on the channel and a
journal line, every field of what is read back checked against the dataclasses' own annotations (so results.py
stays the one statement of what a record holds). Format 2 stores each case's observation, expectation and
verdict; format 1 files (one flat record per case, verify-compile 1.0) are read through `read_v1`.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from typing import Any

from verify_compile.results import GATE, OBSERVED_OUTCOMES, PASS, Observation, RunResult
from verify_compile.spec import Expectation

RESULTS_FORMAT = "verify-compile-results/2"
_RESULTS_V1 = "verify-compile-results/1"


def dump_json(run: RunResult) -> str:
    return json.dumps({"format": RESULTS_FORMAT, "conclusion": run.conclusion, "fail_on": list(run.fail_on),
                       "meta": run.meta, "results": [r.to_dict() for r in run.results]}, indent=1, default=str)


def load_json_results(text: str, source: str) -> tuple:
    """(meta, [(Observation, Expectation)]) from a `--json` file of either format; ValueError names the file
    when it is not one. Verdicts are not read back: whoever reads a results file judges again."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{source}:{e.lineno}: not JSON ({e.msg})") from None
    except RecursionError:
        raise ValueError(f"{source}: nested too deeply to be a results file") from None
    if not isinstance(data, dict) or data.get("format") not in (RESULTS_FORMAT, _RESULTS_V1) \
            or not isinstance(data.get("results"), list):
        raise ValueError(f"{source}: not a verify-compile --json results file")
    if not isinstance(data.get("meta") or {}, dict):
        raise ValueError(f"{source}: 'meta' must be an object")
    read = read_v1 if data["format"] == _RESULTS_V1 else read_record
    return data.get("meta") or {}, [read(r, source) for r in data["results"]]


def read_record(record: object, source: str) -> tuple:
    """(Observation, Expectation) of one format-2 result written by someone else, checked field by field."""
    def read(r: dict) -> tuple:
        if not isinstance(r.get("observation"), dict):
            raise TypeError("a result holds an 'observation' object")
        return read_observation(r["observation"]), decode(Expectation, r.get("expectation") or {})
    return _guarded(record, source, read)


def read_observation(data: object) -> Observation:
    """An Observation from JSON (a worker's message, a journal line, a results file); TypeError/ValueError
    naming the first field the judgement or a report could not work with."""
    if not isinstance(data, dict):
        raise TypeError("an observation must be an object")
    if _depth(data) > 16:  # an observation nests 4 levels; copying a deeper one would exhaust the stack
        raise TypeError("nested too deeply")
    observation = decode(Observation, data)
    if observation.outcome not in OBSERVED_OUTCOMES:
        raise TypeError(f"unknown observed outcome {observation.outcome!r}")
    return observation


def read_v1(record: object, source: str) -> tuple:
    """(Observation, Expectation) of a format-1 result: one flat record holding the observation ('observed',
    'observed_message'), the config's expectation ('xfail_reason', 'limits') and the old verdict."""
    def read(r: dict) -> tuple:
        legacy = r.get("baseline") if isinstance(r.get("baseline"), dict) else {}
        seen = r.get("observed") or legacy.get("actual") or r.get("outcome")
        fields = {f.name for f in dataclasses.fields(Observation)}
        data = {k: v for k, v in r.items() if k in fields}
        data["outcome"] = PASS if seen == GATE else seen  # a gate is judged again from the limits
        data["message"] = r.get("observed_message") if r.get("observed") else legacy.get("actual_message",
                                                                                          r.get("message", ""))
        if seen in (PASS, GATE):
            data["details"] = ""  # a gate's explanation: a pass has no details of its own
        limits = r.get("limits") if isinstance(r.get("limits"), dict) else {}
        reason = r.get("xfail_reason")
        expectation = decode(Expectation, {**{k: limits.get(k) for k in ("max_graph_breaks", "max_recompiles",
                                                                          "min_speedup")},
                                           "xfail": {"reason": reason} if reason is not None else None})
        return read_observation(data), expectation
    return _guarded(record, source, read)


def _guarded(record: object, source: str, read: typing.Callable[[dict], tuple]) -> tuple:
    name = "?"
    if isinstance(record, dict):
        name = (record.get("observation") if isinstance(record.get("observation"), dict) else record).get(
            "case_id", "?")
    try:
        if not isinstance(record, dict):
            raise TypeError("a result must be an object")
        return read(record)
    except (TypeError, ValueError, AttributeError) as e:
        raise ValueError(f"{source}: result '{str(name)[:80]}' is malformed: {e}") from None


def decode(cls: type, data: object, where: str = "") -> Any:
    """An instance of dataclass `cls` from JSON `data`, every field checked against its annotation (so the
    dataclass is the one statement of what a record holds). Unknown keys are ignored; missing ones take their
    defaults. TypeError names the first field that does not fit."""
    if not isinstance(data, dict):
        raise TypeError(f"'{where or cls.__name__}' must be an object")
    hints = typing.get_type_hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            values[f.name] = _value(data[f.name], hints[f.name], f"{where}{f.name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise TypeError(f"'{where}{f.name}' is missing")
    return cls(**values)


def _value(value: Any, hint: Any, where: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin is typing.Union:  # Optional[X]
        if value is None and type(None) in args:
            return None
        return _value(value, next(a for a in args if a is not type(None)), where)
    if dataclasses.is_dataclass(hint):
        return decode(hint, value, f"{where}.")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"'{where}' has the wrong type")
        items = [_value(v, args[0], where) for v in value] if args else list(value)
        return items if origin is list else tuple(items)
    kind = {float: (int, float)}.get(hint, hint)
    if not isinstance(value, kind) or (isinstance(value, bool) and hint is not bool):
        raise TypeError(f"'{where}' has the wrong type")
    return float(value) if hint is float else value


def _depth(value: Any) -> int:
    """How deeply lists and objects nest in `value` (without recursion: the depth is what is in question)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, (dict, list)):
            stack += [(v, depth + 1) for v in (item.values() if isinstance(item, dict) else item)]
    return deepest

