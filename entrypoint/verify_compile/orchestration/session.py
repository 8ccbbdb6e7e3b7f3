"""A run from cases to results: workers, journal, resume, and surviving SIGINT/SIGTERM with nothing lost."""

from __future__ import annotations

import dataclasses
import datetime
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Callable, Optional

from verify_compile import results as R
from verify_compile.orchestration.journal import Journal, case_fingerprint, config_set, read_journal, runtime_of
from verify_compile.orchestration.pool import WorkerPool
from verify_compile.orchestration.signals import Interrupted, StopSignals
from verify_compile.orchestration.unreported import error_result
from verify_compile.results import Observation
from verify_compile.spec import Case, RunSettings
from verify_compile.version import __version__


@dataclass
class RunOptions:
    workers: Optional[int] = None  # None: one per visible GPU when cases run on CUDA, else 1
    cache_dir: Optional[str] = None
    memory_limit: Optional[int] = None  # bytes of resident memory per worker
    journal: Optional[str] = None
    resume: Optional[str] = None
    settings: RunSettings = field(default_factory=RunSettings)
    extra_meta: dict = field(default_factory=dict)


@dataclass
class RunReport:
    results: list  # Observation, in case order
    meta: dict
    interrupted: Optional[int] = None  # the signal that stopped the run
    journal: Optional[str] = None


@dataclass
class Listener:
    """Progress hooks; the CLI connects them to the terminal display."""

    on_result: Callable[[Observation], None] = lambda result: None
    on_phase: Callable[[Case, str], None] = lambda case, phase: None


def visible_gpus() -> list:
    """GPU ids this process may use, without importing torch (nvidia-smi, narrowed by CUDA_VISIBLE_DEVICES)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [g.strip() for g in visible.split(",") if g.strip() and g.strip() != "-1"]
    if not shutil.which("nvidia-smi"):
        return []
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, line in enumerate(out.splitlines()) if line.startswith("GPU ")]


def worker_env(cache_dir: Optional[str], gpu: Optional[str]) -> dict:
    env = {}
    if cache_dir:
        cache_dir = os.path.abspath(cache_dir)
        env.update(TORCHINDUCTOR_CACHE_DIR=os.path.join(cache_dir, "inductor"),
                   TRITON_CACHE_DIR=os.path.join(cache_dir, "triton"),
                   TORCHINDUCTOR_FX_GRAPH_CACHE="1", TORCHINDUCTOR_AUTOGRAD_CACHE="1")
    if gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = gpu
    return env


class Session:
    """One run of cases: its workers, its journal and its signals. `start()` starts the workers and returns what
    the first one reports of its torch (the caller checks the configs against it before anything runs), `run()`
    runs the cases that `options.resume` does not hold a still-true result for. Use it as a context manager: the
    workers and the journal are closed however the run ends."""

    def __init__(self, cases: list, options: RunOptions, signals: StopSignals) -> None:
        self.cases, self.options, self.signals = cases, options, signals
        self.journal, self.previous = _open_journal(cases, options)
        self.fingerprints = {c.index: case_fingerprint(c) for c in cases}
        # Results whose config and sources are unchanged; torch and device are compared once a worker says hello.
        self.reusable = {c.index: self.previous[c.id] for c in cases
                         if c.id in self.previous and self.previous[c.id].fingerprint == self.fingerprints[c.index]}
        gpus, workers = _worker_plan(cases, options.workers)
        pin = len(gpus) > 1 and workers > 1
        self.meta = {"verify_compile": __version__, "started": _now(), "workers": workers, "cases": len(cases),
                     "resumed": 0, "cache_dir": options.cache_dir, **options.extra_meta}
        todo = len(cases) - len(self.reusable)
        self.pool = WorkerPool(min(workers, max(1, todo)), memory_limit=options.memory_limit,
                               env_for=lambda slot: worker_env(options.cache_dir,
                                                               gpus[slot % len(gpus)] if pin else None),
                               settings=options.settings)
        self.interrupted: Optional[int] = None

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.pool.close()
        self.journal.close(remove=not (self.options.journal or self.options.resume) and self.interrupted is None)

    def start(self) -> Optional[dict]:
        """Start the workers; what the first says of its torch and device, or None when a signal stopped it."""
        try:
            with self.signals.armed():
                return _start(self.pool, self.meta)
        except Interrupted as e:
            self.interrupted = e.signum
            return None

    def run(self, listener: Optional[Listener] = None) -> RunReport:
        """Run the cases; returns what was observed, in case order. The first SIGINT/SIGTERM stops the run."""
        listener = listener or Listener()
        results: dict = {}

        def on_result(result: Observation) -> None:
            results[result.index] = result
            self.journal.record(result, self.fingerprints.get(result.index, ""), self.meta.get("runtime", ""))
            listener.on_result(result)

        try:
            with self.signals.armed():
                if self.interrupted is not None:
                    raise Interrupted(self.interrupted)
                todo = _reuse(self, results)
                self.pool.run(todo, on_result, listener.on_phase)
        except Interrupted as e:
            self.interrupted = e.signum
            self.pool.close()
            _unfinished(self.cases, results, f"the run was stopped by {e} before this case finished", listener)
        self.meta["finished"] = _now()
        return RunReport(results=[results[c.index] for c in self.cases], meta=self.meta,
                         interrupted=self.interrupted, journal=str(self.journal.path))


def _unfinished(cases: list, results: dict, message: str, listener: Listener) -> None:
    """Every case without a result gets one: an `interrupted` error."""
    for case in cases:
        if case.index not in results:
            results[case.index] = error_result(case, R.INTERRUPTED, message)
            listener.on_result(results[case.index])


def _open_journal(cases: list, options: RunOptions) -> tuple:
    """(the journal this run writes, locked; the entries of the journal it resumes, by case id)."""
    configs = config_set(cases)
    path = options.journal or options.resume or tempfile.mkstemp(prefix="verify-compile-",
                                                                 suffix=".journal.jsonl")[1]
    journal = Journal(path, configs, [c.id for c in cases], keep=path == options.resume)
    if path == options.resume or not options.resume:
        return journal, journal.previous
    try:
        return journal, read_journal(options.resume, configs)
    except BaseException:
        journal.close()
        raise


def _start(pool: WorkerPool, meta: dict) -> dict:
    """Start the workers; what the first one says (torch, device) goes into the meta."""
    info = pool.start()
    meta.update({k: info.get(k) for k in ("torch", "python", "cuda_version", "gpu")})
    meta["device"] = "cuda" if info.get("cuda_available") else "cpu"
    meta["runtime"] = runtime_of(info)
    return info


def _reuse(session: Session, results: dict) -> list:
    """Take over the resumed results that ran on this torch and device; the cases left to run."""
    options, meta = session.options, session.meta
    for index, entry in session.reusable.items():
        if entry.runtime == meta["runtime"]:
            results[index] = dataclasses.replace(entry.observation, index=index)
            if str(session.journal.path) != options.resume:  # carried over into a new journal
                session.journal.record(results[index], session.fingerprints[index], entry.runtime)
    meta["resumed"] = len(results)
    todo = [c for c in session.cases if c.index not in results]
    if options.resume:
        print(f"verify-compile: resuming {options.resume}: {len(results)} finished case(s) kept, "
              f"{sum(c.id in session.previous for c in todo)} re-run because their config, sources, torch or "
              "device changed", file=sys.stderr)
    return todo


def _worker_plan(cases: list, requested: Optional[int]) -> tuple:
    """(visible GPU ids, number of workers): one worker per visible GPU when cases run on CUDA, else 1."""
    gpus = visible_gpus()
    on_cuda = any(c.model.device != "cpu" for c in cases)
    return gpus, requested or (len(gpus) if gpus and on_cuda else 1)


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
