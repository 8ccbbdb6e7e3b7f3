"""What the terminal shows: live progress while cases run, and a final table."""

from __future__ import annotations

import shutil
import sys
import time
from typing import Iterable, Optional, TextIO

from verify_compile import results as R
from verify_compile.judgement.baseline import baseline_counts
from verify_compile.reports.junit import clean
from verify_compile.results import CaseResult, counts


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60:02d}:{seconds % 60:02d}"


class Progress:
    """On a terminal: one live line (done/total, running case and phase, elapsed, ETA) above finished lines.
    Elsewhere (CI logs): one plain line per finished case."""

    def __init__(self, total: int, workers: int = 1, stream: TextIO = sys.stderr,
                 live: Optional[bool] = None) -> None:
        self.total, self.workers, self.stream = total, max(1, workers), stream
        self.live = stream.isatty() if live is None else live
        self.colour = self.live
        self.done = 0
        self.start = time.monotonic()
        self.running: dict = {}  # case id -> phase
        self._line_len = 0

    def phase(self, case_id: str, phase: str) -> None:
        self.running[case_id] = phase
        self.tick()

    def result(self, r: CaseResult) -> None:
        self.running.pop(r.case_id, None)
        self.done += 1
        self._clear()
        style = R.OUTCOME_STYLES[r.outcome]
        label = style.label
        if self.colour:
            label = f"\x1b[{style.colour}m{label:<8}\x1b[0m"
        else:
            label = f"{label:<8}"
        width = len(str(self.total))
        message = f"  {_shorten(clean(r.message), 160)}" if r.outcome != R.PASS and r.message else ""
        self.stream.write(f"[{self.done:>{width}}/{self.total}] {label} {r.case_id} ({r.duration:.1f} s){message}\n")
        if r.localization:  # where it starts, right under what differs
            where = _shorten(clean(r.localization.get("summary", "")), 200)
            self.stream.write(f"{' ' * (width * 2 + 4)}localized: {where}\n")
        self.tick()

    def tick(self) -> None:
        if not self.live:
            return
        elapsed = time.monotonic() - self.start
        eta = ""
        if self.done:
            per_case = elapsed / self.done
            eta = f", ETA {_clock(per_case * (self.total - self.done))}"
        running = ", ".join(f"{cid}: {phase}" for cid, phase in list(self.running.items())[:3])
        line = f"{self.done}/{self.total} done, {_clock(elapsed)} elapsed{eta}" + (f" | {running}" if running else "")
        line = line[:max(20, shutil.get_terminal_size().columns - 1)]  # a wrapped line cannot be redrawn
        self.stream.write("\r" + line + " " * max(0, self._line_len - len(line)))
        self._line_len = len(line)
        self.stream.flush()

    def close(self) -> None:
        self._clear()

    def _clear(self) -> None:
        if self.live and self._line_len:
            self.stream.write("\r" + " " * self._line_len + "\r")
            self._line_len = 0


def summary_table(results: Iterable[CaseResult]) -> str:
    """A plain-text table: one row per case, then totals."""
    results = sorted(results, key=lambda r: r.index)
    rows = [("case", "outcome", "time", "compile", "graphs/breaks", "detail")]
    for r in results:
        health = f"{r.health.graphs}/{r.health.graph_breaks}" if r.health else "-"
        compile_time = f"{r.compile_time:.1f}s" if r.compile_time is not None else "-"
        rows.append((r.case_id, r.outcome, f"{r.duration:.1f}s", compile_time, health,
                     _shorten(r.message, 90) if r.outcome != R.PASS else _speed(r)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])) + "  " + row[-1] for row in rows]
    lines.insert(1, "-" * min(120, max(len(line) for line in lines)))
    return "\n".join(lines) + "\n" + totals_line(results)


def totals_line(results: Iterable[CaseResult]) -> str:
    results = list(results)
    c = counts(results)
    parts = [f"{n} {outcome}" for outcome, n in c.items() if n]
    line = f"{sum(c.values())} case(s): " + (", ".join(parts) if parts else "none")
    if any(r.baseline for r in results):
        line += "; against the baseline: " + ", ".join(f"{n} {s}" for s, n in baseline_counts(results).items())
    return line


def _speed(r: CaseResult) -> str:
    return f"speedup {r.perf.speedup:.2f}x" if r.perf and r.perf.speedup else ""


def _shorten(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3] + "..."
