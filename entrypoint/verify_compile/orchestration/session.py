"""A run from cases to results: workers, journal, resume, and surviving SIGINT/SIGTERM with nothing lost."""

from __future__ import annotations

import dataclasses
import datetime
import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from typing import Callable, Optional

from verify_compile import __version__
from verify_compile import results as R
from verify_compile.config.spec import RunSettings
from verify_compile.errors import ConfigError, ConfigErrors, did_you_mean
from verify_compile.judgement.verdicts import error_result
from verify_compile.orchestration.cases import Case
from verify_compile.orchestration.journal import Journal, finished
from verify_compile.orchestration.pool import WorkerPool
from verify_compile.results import CaseResult


class Interrupted(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


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


def check_against_torch(cases: list, info: dict) -> None:
    """What only the workers' torch can say: registered backend names, compile modes, inductor options and
    dynamo config names must exist there. A typo is a config error (exit 2), not a column of red cases."""
    errors: dict = {}

    def check(name: str, known: list, what: str, file: str, line: int, hint: str = "") -> None:
        if known and name not in known:
            errors.setdefault((file, line, name), ConfigError(
                f"unknown {what} '{name}'", file, line, did_you_mean(name, known) or hint or None))

    for case in cases:
        b, m = case.backend, case.model
        file, line = (m.config_file, b.line) if b.line else ("--backends", 0)  # line 0: from the command line
        if not b.is_custom:
            check(b.backend, info.get("backends", []), "backend (not in torch._dynamo.list_backends())",
                  file, line, "custom backends are written 'file.py:function'")
        if b.mode:
            check(b.mode, info.get("modes", []), "torch.compile mode", file, line,
                  "modes: " + ", ".join(info.get("modes", [])))
        for option in b.options or {}:
            check(option, info.get("inductor_options", []), "inductor option", file, line)
        for option in m.dynamo_config:
            check(option, info.get("dynamo_options", []), "torch._dynamo.config option", m.config_file,
                  m.key_lines.get("dynamo_config", m.line))
    if errors:
        raise ConfigErrors(list(errors.values()))


def execute(cases: list, options: RunOptions, listener: Optional[Listener] = None) -> RunReport:
    listener = listener or Listener()
    done = finished(options.resume)
    results: dict = {}
    for case in cases:
        if case.id in done:
            results[case.index] = dataclasses.replace(done[case.id], index=case.index)
    todo = [c for c in cases if c.index not in results]
    journal_path = options.journal or options.resume or tempfile.mkstemp(
        prefix="verify-compile-", suffix=".journal.jsonl")[1]
    journal = Journal(journal_path, [c.id for c in cases], append=journal_path == options.resume)
    gpus = visible_gpus()
    on_cuda = any(c.model.device != "cpu" for c in cases)
    workers = options.workers or (len(gpus) if gpus and on_cuda else 1)
    pin = len(gpus) > 1 and workers > 1
    meta = {"verify_compile": __version__, "started": _now(), "workers": workers, "cases": len(cases),
            "resumed": len(results), "cache_dir": options.cache_dir, **options.extra_meta}

    def on_result(result: CaseResult) -> None:
        results[result.index] = result
        journal.record(result)
        listener.on_result(result)

    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def interrupt(signum: int, frame: object) -> None:
        raise Interrupted(signum)

    interrupted = None
    pool = WorkerPool(min(workers, max(1, len(todo))),
                      env_for=lambda slot: worker_env(options.cache_dir, gpus[slot % len(gpus)] if pin else None),
                      memory_limit=options.memory_limit, settings=options.settings)
    try:
        for s in previous:
            signal.signal(s, interrupt)
        if todo:
            info = pool.start()
            meta.update({k: info.get(k) for k in ("torch", "python", "cuda_version", "gpu")})
            meta["device"] = "cuda" if info.get("cuda_available") else "cpu"
            check_against_torch(todo, info)
            pool.run(todo, on_result, listener.on_phase)
    except Interrupted as e:
        interrupted = e.signum
        pool.close()
        for case in todo:
            if case.index not in results:
                result = error_result(case, R.INTERRUPTED,
                                      f"the run was stopped by {e} before this case finished")
                results[case.index] = result
                listener.on_result(result)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        pool.close()
        journal.close()
    meta["finished"] = _now()
    return RunReport(results=[results[c.index] for c in cases], meta=meta, interrupted=interrupted,
                     journal=journal_path)


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
