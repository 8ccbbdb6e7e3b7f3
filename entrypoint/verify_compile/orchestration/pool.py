"""Isolating workers: each case runs in a worker process, so a crash, a hang or a memory blow-up costs one case.

Workers are reused across cases (torch is imported once per worker) and a worker is preferably given the next
backend of the model it just ran, whose eager reference it still holds. What a worker sends is checked JSON in
frames (verify_compile.channel): a model that writes into the channel costs its case, never the run.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path
from typing import Callable, Optional

from verify_compile import proctree
from verify_compile import results as R
from verify_compile.channel import SCRATCH_ENV, ChannelError, FrameReader, decode_json, pickle_frame
from verify_compile.orchestration.unreported import error_result
from verify_compile.records import read_observation
from verify_compile.results import Observation
from verify_compile.spec import Case, RunSettings

_POLL_S = 0.25
_STDERR_TAIL = 3000
_CRASH_DUMP = 6000
_START_TIMEOUT_S = 300.0
_LOG_READ = 2**20  # the most of a worker's log read back for its last words: the end of it
CORRUPTED = "the worker's channel was corrupted"


class WorkerStartError(Exception):
    """No worker could start (torch missing or broken): nothing can run."""


@dataclass
class _Worker:
    slot: int
    proc: subprocess.Popen
    sock: socket.socket
    log: Path
    reader: FrameReader = field(default_factory=FrameReader)
    info: Optional[dict] = None
    case: Optional[Case] = None
    started: float = 0.0
    deadline: float = 0.0
    phase: str = ""
    last_model: Optional[str] = None
    token: str = field(default_factory=lambda: secrets.token_hex(16))  # on every frame the worker itself sends

    def stderr_tail(self) -> str:
        """The worker's last words: from a fatal-error dump when there is one (its top frames say where it
        crashed), else the end of its output."""
        try:
            with open(self.log, "rb") as f:
                f.seek(max(0, f.seek(0, os.SEEK_END) - _LOG_READ))
                text = f.read(_LOG_READ).decode("utf-8", "replace")
        except OSError:
            return ""
        fatal = text.rfind("Fatal Python error")
        if fatal >= 0:
            return text[fatal:fatal + _CRASH_DUMP]
        return text[-_STDERR_TAIL:]

    def rss_bytes(self) -> int:
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            pass
        return 0

    def fileno(self) -> int:
        return self.sock.fileno()

    def kill(self) -> None:
        """End the worker and every process it started, in whatever session (the worker is a subreaper, so
        while it lives its descendants are found through it)."""
        if self.proc.poll() is None:
            proctree.kill_descendants(self.proc.pid)
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.proc.kill()
        self.proc.wait()
        self.sock.close()

    def send(self, message: object) -> None:
        self.sock.sendall(pickle_frame(message))

    def receive(self) -> list:
        """The messages that have arrived; EOFError when the worker is gone, ChannelError on a bad frame."""
        data = self.sock.recv(2**20)
        if not data:
            raise EOFError
        return [decode_json(payload) for payload in self.reader.feed(data)]


class WorkerPool:
    """Runs cases on `size` worker processes; `env_for(slot)` gives each its environment (e.g. its GPU)."""

    def __init__(self, size: int, env_for: Callable[[int], dict] = lambda slot: {},
                 memory_limit: Optional[int] = None, settings: RunSettings = RunSettings()) -> None:
        self.size = max(1, size)
        self.env_for = env_for
        self.memory_limit = memory_limit
        self.settings = settings
        self.log_dir = Path(tempfile.mkdtemp(prefix="verify-compile-"))
        self.workers: list = []
        self.info: Optional[dict] = None
        self._spawns = 0
        self._failed_starts = 0

    def start(self) -> dict:
        """Start the workers and wait for the first to say hello; returns what it reported (torch, backends)."""
        while len(self.workers) < self.size:
            self.workers.append(self._spawn(len(self.workers)))
        deadline = time.monotonic() + _START_TIMEOUT_S
        while self.info is None:
            if time.monotonic() > deadline:
                raise WorkerStartError(f"no worker started within {_START_TIMEOUT_S:.0f} s")
            self._pump(lambda result: None, lambda case, phase: None, timeout=_POLL_S)
        return self.info

    def run(self, cases: list, on_result: Callable[[Observation], None],
            on_phase: Callable[[Case, str], None] = lambda case, phase: None) -> None:
        """Run every case, calling on_result as each finishes (in completion order)."""
        self.start()
        pending = list(cases)
        busy = lambda: any(w.case is not None for w in self.workers)  # noqa: E731
        while pending or busy():
            for worker in self.workers:
                if worker.info is not None and worker.case is None and pending:
                    self._assign(worker, self._pick(worker, pending))
            self._pump(on_result, on_phase, timeout=_POLL_S)

    def close(self) -> None:
        """Stop the workers. Every result is already in hand, so there is nothing to wait for: a graceful exit
        would only spend a second tearing torch down."""
        for worker in self.workers:
            worker.kill()
        self.workers = []
        shutil.rmtree(self.log_dir, ignore_errors=True)

    # -- internals ---------------------------------------------------------------------------------------

    def _spawn(self, slot: int) -> _Worker:
        self._spawns += 1
        parent_sock, child_sock = socket.socketpair()
        log = self.log_dir / f"worker-{slot}-{self._spawns}.log"
        env = {**os.environ, "PYTHONUNBUFFERED": "1", SCRATCH_ENV: str(self.log_dir), **self.env_for(slot)}
        package_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        with open(log, "wb") as log_file:
            proc = subprocess.Popen(
                [sys.executable, "-m", "verify_compile.engine.worker", str(child_sock.fileno()), str(log),
                 str(os.getpid())],
                stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                pass_fds=(child_sock.fileno(),), env=env, start_new_session=True)
        child_sock.close()
        worker = _Worker(slot=slot, proc=proc, sock=parent_sock, log=log)
        try:
            worker.send(("init", worker.token))  # read by the worker before it imports anything of a case
        except OSError:
            pass  # it died at once: _pump reports it
        return worker

    def _pick(self, worker: _Worker, pending: list) -> Case:
        """The next backend of the worker's last model; else a model no other worker is on; else the next."""
        others = {w.last_model for w in self.workers if w is not worker}
        for choice in (lambda c: _model_key(c) == worker.last_model, lambda c: _model_key(c) not in others):
            for i, case in enumerate(pending):
                if choice(case):
                    return pending.pop(i)
        return pending.pop(0)

    def _assign(self, worker: _Worker, case: Case) -> None:
        worker.case, worker.phase = case, "start"
        worker.started = time.monotonic()
        worker.deadline = worker.started + case.model.timeout
        worker.last_model = _model_key(case)
        try:
            worker.send(("run", case, self.settings))
        except OSError:
            pass  # the worker died: its end of the socket is closed, and _pump reports the case

    def _pump(self, on_result: Callable, on_phase: Callable, timeout: float) -> None:
        """Handle whatever the workers said within `timeout`, then deaths, timeouts and memory limits."""
        ready = wait([w.sock for w in self.workers], timeout=timeout)
        for worker in list(self.workers):
            if worker.sock in ready:
                self._receive(worker, on_result, on_phase)
        now = time.monotonic()
        for worker in list(self.workers):
            if worker.case is None:
                continue
            if now > worker.deadline:
                self._fail(worker, R.TIMEOUT, f"no result after {worker.case.model.timeout:g} s "
                           f"(the case was in phase '{worker.phase}'); the worker was killed", on_result)
            elif self.memory_limit and worker.rss_bytes() > self.memory_limit:
                self._fail(worker, R.CRASH, f"the worker exceeded the memory limit of "
                           f"{self.memory_limit / 2**30:.1f} GiB in phase '{worker.phase}' and was killed",
                           on_result)

    def _receive(self, worker: _Worker, on_result: Callable, on_phase: Callable) -> None:
        try:
            for message in worker.receive():
                self._handle(worker, message, on_result, on_phase)
        except (EOFError, OSError):
            self._died(worker, on_result)
        except ChannelError as e:
            self._corrupted(worker, str(e), on_result)

    def _handle(self, worker: _Worker, message: dict, on_result: Callable, on_phase: Callable) -> None:
        """One message, checked against what the worker may say now; ChannelError for anything else."""
        kind, case = message["kind"], worker.case
        if message.get("token") != worker.token:
            raise ChannelError(f"a '{kind[:40]}' frame without the worker's token: written by the case's own code, "
                               "not by verify-compile")
        if kind == "hello" and worker.info is None and isinstance(message.get("info"), dict):
            worker.info = message["info"]
            self.info = self.info or worker.info
            self._failed_starts = 0
        elif kind == "phase" and case is not None and message.get("index") == case.index \
                and isinstance(message.get("phase"), str) and len(message["phase"]) <= 64:
            worker.phase = message["phase"]
            on_phase(case, worker.phase)
        elif kind == "result" and case is not None:
            result = _checked_result(message.get("observation"), case)
            worker.case = None
            on_result(result)
            if message.get("retire"):  # it exits now: no case may be given to it meanwhile
                self._replace(worker)
        else:
            raise ChannelError(f"an unexpected '{kind[:40]}' message"
                               + (f" during case {case.id}" if case is not None else " between cases"))

    def _corrupted(self, worker: _Worker, why: str, on_result: Callable) -> None:
        if worker.case is not None:
            self._fail(worker, R.CRASH, f"{CORRUPTED} in phase '{worker.phase}' ({why}); the worker was replaced",
                       on_result)
        else:
            worker.kill()
            self._died(worker, on_result)

    def _died(self, worker: _Worker, on_result: Callable) -> None:
        code = worker.proc.wait()
        if worker.case is not None:
            how = _describe_exit(code)
            self._fail(worker, R.CRASH, f"the worker {how} in phase '{worker.phase}'", on_result)
            return
        if worker.info is None:
            self._failed_starts += 1
            if self._failed_starts >= 2:
                raise WorkerStartError(f"the worker process {_describe_exit(code)} before it was ready:\n"
                                       + worker.stderr_tail())
        self._replace(worker)

    def _fail(self, worker: _Worker, phase: str, message: str, on_result: Callable) -> None:
        case = worker.case
        worker.kill()
        tail = worker.stderr_tail()
        details = f"{phase}: {message}" + ("\n\nlast output of the worker:\n" + tail if tail else "")
        on_result(error_result(case, phase, message, details,
                               duration=time.monotonic() - worker.started, captured=tail))
        worker.case = None
        self._replace(worker)

    def _replace(self, worker: _Worker) -> None:
        worker.kill()
        index = self.workers.index(worker)
        self.workers[index] = self._spawn(worker.slot)


def _checked_result(record: object, case: Case) -> Observation:
    """An observation as the worker sent it: plain JSON with the types reports rely on, for the case it ran."""
    try:
        result = read_observation(record)  # the check `merge` applies to results files
    except (TypeError, ValueError) as e:
        raise ChannelError(f"the worker's observation is malformed: {e}") from None
    if result.case_id != case.id or result.index != case.index:
        raise ChannelError(f"a result for '{result.case_id[:80]}' arrived during case {case.id}")
    return result


def _model_key(case: Case) -> str:
    return f"{case.model.config_file}::{case.model.name}"


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
            return f"was killed by {name} ({signal.strsignal(-code)})"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"
