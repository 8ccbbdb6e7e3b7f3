"""A run from cases to results: workers, journal, resume, and surviving SIGINT/SIGTERM with nothing lost."""

from __future__ import annotations

import dataclasses
import datetime
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Callable, Optional

from verify_compile import __version__
from verify_compile import results as R
from verify_compile.config.torchcheck import check_against_torch
from verify_compile.orchestration.journal import Journal, case_fingerprint, config_set, read_journal, runtime_of
from verify_compile.orchestration.pool import WorkerPool
from verify_compile.orchestration.signals import Interrupted, StopSignals
from verify_compile.orchestration.unreported import error_result
from verify_compile.results import CaseResult
from verify_compile.spec import Case, RunSettings


@dataclass
class RunOptions:
    workers: Optional[int] = None  # None: one per visible GPU when cases run on CUDA, else 1
    cache_dir: Optional[str] = None
    memory_limit: Optional[int] = None  # bytes of resident memory per worker
    journal: Optional[str] = None
    resume: Optional[str] = None
    settings: RunSettings = field(default_factory=RunSettings)
    extra_meta: dict = field(default_factory=dict)
    signals: Optional[StopSignals] = None  # the caller's, when it keeps catching signals past the run


@dataclass
class RunReport:
    results: list  # CaseResult, in case order
    meta: dict
    interrupted: Optional[int] = None  # the signal that stopped the run
    journal: Optional[str] = None


@dataclass
class Listener:
    """Progress hooks; the CLI connects them to the terminal display."""

    on_result: Callable[[CaseResult], None] = lambda result: None
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


def execute(cases: list, options: RunOptions, listener: Optional[Listener] = None) -> RunReport:
    """Run the cases that `options.resume` does not hold a still-true result for; returns what was observed,
    in case order. The first SIGINT/SIGTERM stops the run (`options.signals`, else handlers of its own)."""
    listener = listener or Listener()
    journal, previous = _open_journal(cases, options)
    fingerprints = {c.index: case_fingerprint(c) for c in cases}
    # Results whose config and sources are unchanged; torch and device are compared once a worker says hello.
    reusable = {c.index: previous[c.id] for c in cases
                if c.id in previous and previous[c.id].fingerprint == fingerprints[c.index]}
    results: dict = {}
    todo = [c for c in cases if c.index not in reusable]
    gpus, workers = _worker_plan(cases, options.workers)
    pin = len(gpus) > 1 and workers > 1
    meta = {"verify_compile": __version__, "started": _now(), "workers": workers, "cases": len(cases),
            "resumed": 0, "cache_dir": options.cache_dir, **options.extra_meta}

    def on_result(result: CaseResult) -> None:
        results[result.index] = result
        journal.record(result, fingerprints.get(result.index, ""), meta.get("runtime", ""))
        listener.on_result(result)

    interrupted = None
    pool = WorkerPool(min(workers, max(1, len(todo))),
                      env_for=lambda slot: worker_env(options.cache_dir, gpus[slot % len(gpus)] if pin else None),
                      memory_limit=options.memory_limit, settings=options.settings)
    signals = options.signals or StopSignals()
    try:
        with signals if options.signals is None else nullcontext(), signals.armed():
            info = _start(pool, meta)
            todo = _reuse(cases, reusable, previous, results, meta, journal, fingerprints, options)
            check_against_torch(todo, info)
            pool.run(todo, on_result, listener.on_phase)
    except Interrupted as e:
        interrupted = e.signum
        pool.close()
        _unfinished(cases, results, f"the run was stopped by {e} before this case finished", listener)
    finally:
        pool.close()
        journal.close(remove=not (options.journal or options.resume) and interrupted is None)
    meta["finished"] = _now()
    return RunReport(results=[results[c.index] for c in cases], meta=meta, interrupted=interrupted,
                     journal=str(journal.path))


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


def _reuse(cases: list, reusable: dict, previous: dict, results: dict, meta: dict, journal: Journal,
           fingerprints: dict, options: RunOptions) -> list:
    """Take over the resumed results that ran on this torch and device; the cases left to run."""
    for index, entry in reusable.items():
        if entry.runtime == meta["runtime"]:
            results[index] = dataclasses.replace(entry.result, index=index)
            if str(journal.path) != options.resume:  # carried over into a new journal
                journal.record(results[index], fingerprints[index], entry.runtime)
    meta["resumed"] = len(results)
    todo = [c for c in cases if c.index not in results]
    if options.resume:
        print(f"verify-compile: resuming {options.resume}: {len(results)} finished case(s) kept, "
              f"{sum(c.id in previous for c in todo)} re-run because their config, sources, torch or device "
              "changed", file=sys.stderr)
    return todo


def _worker_plan(cases: list, requested: Optional[int]) -> tuple:
    """(visible GPU ids, number of workers): one worker per visible GPU when cases run on CUDA, else 1."""
    gpus = visible_gpus()
    on_cuda = any(c.model.device != "cpu" for c in cases)
    return gpus, requested or (len(gpus) if gpus and on_cuda else 1)


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
