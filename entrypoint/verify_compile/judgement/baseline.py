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
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

import yaml

from verify_compile import results as R
from verify_compile.config.yamlload import LocDict, load_yaml
from verify_compile.errors import ConfigError
from verify_compile.results import CaseResult, Health

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


@dataclass(frozen=True)
class Baseline:
    """The expected entries a run is judged against. With `update` (--update-baseline), each case is judged
    against the entry this run records for it, so only what the baseline cannot hold (a flaky case) fails."""

    entries: dict
    update: bool = False

    def expected(self, case_id: str, recorded: Optional[dict]) -> Optional[dict]:
        return recorded if self.update else self.entries.get(case_id)


def entry_of(outcome: str, health: Optional[Health]) -> dict:
    """The baseline entry of a case whose outcome, after gates and xfail, is `outcome`."""
    entry = {"outcome": str(outcome)}  # a plain str: yaml cannot dump an enum
    if outcome == R.PASS and health:
        entry.update(graph_breaks=health.graph_breaks, recompiles=health.recompiles)
    return entry


def snapshot(results: Iterable[CaseResult]) -> dict:
    """The baseline that the given judged results would match exactly. A case stopped before it finished (a
    merged, interrupted shard) records nothing: its `error` is no expectation."""
    return {r.case_id: entry_of(r.verdict.recorded, r.health)
            for r in sorted(results, key=lambda r: r.index) if r.verdict.recorded is not None}


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


def compare_with(outcome: str, message: str, health: Optional[Health], expected: Optional[dict]) -> tuple:
    """((outcome, message, judgement step), {status, expected}) for a case whose outcome after gates and
    expected failures is `outcome`: a known failure becomes xfail, an improvement xpass, a health regression of
    a passing case a gate failure, a silent change to skip or flaky a gate failure."""
    if expected is None:
        return (outcome, message, "baseline: new case, not in the baseline"), {"status": NEW, "expected": None}
    wanted, seen = expected["outcome"], outcome
    status = UNCHANGED
    if outcome == wanted == R.PASS:
        worse, better = _health_changes(health, expected)
        if worse:
            status, outcome, message = REGRESSED, R.GATE, "regressed against the baseline: " + "; ".join(worse)
        elif better:
            status, outcome = IMPROVED, R.XPASS
            message = "improved against the baseline: " + "; ".join(better) + ": update the baseline"
    elif outcome == wanted:
        if outcome in R.NOTABLE:
            message, outcome = f"known {outcome} (baseline): {message}", R.XFAIL
    elif outcome == R.PASS or (outcome in (R.XFAIL, R.SKIP) and wanted in (R.MISMATCH, R.ERROR, R.GATE)):
        status, outcome = IMPROVED, R.XPASS
        message = f"improved: the baseline expects {wanted}, now {seen}: update the baseline"
    else:
        status = REGRESSED
        message = f"regressed: the baseline expects {wanted}, now {seen}: {message}"
        if outcome in (R.SKIP, R.FLAKY, R.XFAIL):  # a silent change of outcome must not pass unseen
            outcome = R.GATE
    return (outcome, message, f"baseline: {status} (expected {wanted}, saw {seen})"), \
        {"status": status, "expected": wanted}


def _health_changes(health: Optional[Health], expected: dict) -> tuple:
    worse, better = [], []
    for key in _TRACKED:
        if key not in expected or health is None:
            continue
        now, before = getattr(health, key), expected[key]
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
