"""The expected-results baseline a team commits next to its config, and how a run is judged against it.

Like PyTorch's own CI: a case that matches its baseline is fine even when it is a known failure; a new failure
fails; an improvement (a known failure that now passes, or fewer graph breaks/recompiles) also fails until the
baseline is updated, so the gain is locked in. Cases missing from the baseline are new.

Format (YAML, or CSV with the same columns when the file ends in .csv):
    version: 1
    cases:
      mlp[inductor]: {outcome: pass, graph_breaks: 0, recompiles: 0}
      toy[inductor]: {outcome: mismatch}
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Iterable

import yaml

from verify_compile import results as R
from verify_compile.config.yamlload import LocDict, load_yaml
from verify_compile.errors import ConfigError
from verify_compile.results import CaseResult

REGRESSED, IMPROVED, UNCHANGED, NEW = "regressed", "improved", "unchanged", "new"
_TRACKED = ("graph_breaks", "recompiles")  # compile health, where fewer is better


def load_baseline(path: str) -> dict:
    """Expected entries by case id; ConfigError (file:line) for a malformed file."""
    p = Path(path)
    if p.suffix == ".csv":
        return _load_csv(p)
    data = load_yaml(p)
    if not isinstance(data, LocDict) or data.get("version") != 1 or not isinstance(data.get("cases", {}), dict):
        raise ConfigError("a baseline is 'version: 1' and 'cases: {case id: {outcome: ...}}'", str(p),
                          getattr(data, "line", 1), "write one with --update-baseline")
    cases = data.get("cases") or LocDict()
    out = {}
    for case_id, entry in cases.items():
        line = cases.line_of(case_id) if isinstance(cases, LocDict) else None
        out[str(case_id)] = _entry(entry, str(p), line)
    return out


def _load_csv(p: Path) -> dict:
    try:
        rows = list(csv.DictReader(io.StringIO(p.read_text(encoding="utf-8"))))
    except OSError as e:
        raise ConfigError(f"cannot read baseline: {e.strerror}", str(p)) from None
    except (UnicodeDecodeError, csv.Error) as e:
        raise ConfigError(f"cannot read baseline: {e}", str(p)) from None
    out = {}
    for number, row in enumerate(rows, start=2):
        if not row.get("case"):
            raise ConfigError("each row needs a 'case' column", str(p), number, "columns: case,outcome,graph_breaks")
        entry = {k: v for k, v in row.items() if k != "case" and v not in (None, "")}
        out[row["case"]] = _entry(entry, str(p), number)
    return out


def _entry(entry: object, file: str, line: object) -> dict:
    if not isinstance(entry, dict) or entry.get("outcome") not in R.OUTCOMES:
        raise ConfigError(f"a baseline entry needs 'outcome:' (one of {', '.join(R.OUTCOMES)})", file, line)
    out = {"outcome": entry["outcome"]}
    for key in _TRACKED:
        value = entry.get(key)
        if value is None:
            continue
        if isinstance(value, str) and value.strip().isdigit():  # CSV holds text
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:  # 1.7, true and .inf too
            raise ConfigError(f"'{key}' must be a whole number >= 0, got {value!r}", file, line)
        out[key] = value
    return out


def snapshot(results: Iterable[CaseResult]) -> dict:
    """The baseline that the given results would match exactly (what each saw before a baseline judged it).
    A case stopped before it finished (a merged, interrupted shard) is left out: its `error` is no expectation."""
    out = {}
    for r in sorted(results, key=lambda r: r.index):
        if r.phase == R.INTERRUPTED:
            continue
        outcome = r.baseline["actual"] if r.baseline else r.outcome
        entry = {"outcome": str(outcome)}  # a plain str: yaml cannot dump an enum
        if outcome == R.PASS and r.health:
            entry.update(graph_breaks=r.health.graph_breaks, recompiles=r.health.recompiles)
        out[r.case_id] = entry
    return out


def save_baseline(path: str, results: Iterable[CaseResult]) -> int:
    """Record the results' outcomes. Entries of cases this run did not include (other shards, --only) are kept;
    returns how many entries the file holds."""
    p = Path(path)
    entries = {}
    if p.is_file():
        try:
            entries = load_baseline(path)
        except ConfigError:  # an unreadable old baseline is replaced whole
            entries = {}
    entries.update(snapshot(results))
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.suffix == ".csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=["case", "outcome", *_TRACKED], lineterminator="\n")
        writer.writeheader()
        for case_id, entry in entries.items():
            writer.writerow({"case": case_id, **entry})
        p.write_text(buf.getvalue(), encoding="utf-8")
    else:
        header = "# verify-compile baseline: the expected outcome of each case. Rewrite with --update-baseline.\n"
        p.write_text(header + yaml.safe_dump({"version": 1, "cases": entries}, sort_keys=False, width=120),
                     encoding="utf-8")
    return len(entries)


def judge_against(r: CaseResult, expected: dict | None) -> str:
    """Judge a result (after gates and expected failures) against its baseline entry, in place: it gets
    `baseline = {status, expected, actual, actual_message}`; a known failure becomes xfail, an improvement xpass,
    a health regression of a passing case a gate failure. Returns the judgement step to record."""
    seen = {"actual": r.outcome, "actual_message": r.message}
    if expected is None:
        r.baseline = {"status": NEW, "expected": None, **seen}
        return "baseline: new case, not in the baseline"
    r.baseline = {"status": UNCHANGED, "expected": expected["outcome"], **seen}
    actual, wanted = r.outcome, expected["outcome"]
    if actual == wanted == R.PASS:
        worse, better = _health_changes(r, expected)
        if worse:
            r.baseline["status"] = REGRESSED
            r.outcome, r.message = R.GATE, "regressed against the baseline: " + "; ".join(worse)
        elif better:
            r.baseline["status"] = IMPROVED
            r.outcome = R.XPASS
            r.message = "improved against the baseline: " + "; ".join(better) + ": update the baseline"
    elif actual == wanted:
        if actual in (R.MISMATCH, R.ERROR, R.GATE, R.XPASS):
            r.message = f"known {actual} (baseline): {r.message}"
            r.outcome = R.XFAIL
    elif actual == R.PASS or (actual in (R.XFAIL, R.SKIP) and wanted in (R.MISMATCH, R.ERROR, R.GATE)):
        r.baseline["status"] = IMPROVED
        r.message = f"improved: the baseline expects {wanted}, now {actual}: update the baseline"
        r.outcome = R.XPASS
    else:
        r.baseline["status"] = REGRESSED
        r.message = f"regressed: the baseline expects {wanted}, now {actual}: {r.message}"
        if actual in (R.SKIP, R.FLAKY, R.XFAIL):  # a silent change of outcome must not pass unseen
            r.outcome = R.GATE
    return f"baseline: {r.baseline['status']} (expected {wanted}, saw {actual})"


def _health_changes(r: CaseResult, expected: dict) -> tuple:
    worse, better = [], []
    for key in _TRACKED:
        if key not in expected or r.health is None:
            continue
        now, before = getattr(r.health, key), expected[key]
        label = key.replace("_", " ")
        if now > before:
            worse.append(f"{now} {label} where the baseline has {before}")
        elif now < before:
            better.append(f"{now} {label} where the baseline has {before}")
    return worse, better


def baseline_counts(results: Iterable[CaseResult]) -> dict:
    out = dict.fromkeys((REGRESSED, IMPROVED, UNCHANGED, NEW), 0)
    for r in results:
        if r.baseline:
            out[r.baseline["status"]] += 1
    return out
