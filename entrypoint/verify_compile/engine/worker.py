"""The worker process: imports torch once, then runs the cases the parent sends, one at a time.

Started by the pool as `python -m verify_compile.engine.worker FD LOG PARENT_PID`, with stdout and stderr going
to LOG so that a crash leaves its last words behind. Messages are frames on the inherited socket FD (see
verify_compile.channel):
  parent -> worker, pickle: ("init", token) first, then ("run", Case, RunSettings); the parent ends a worker by
                            killing its process group
  worker -> parent, JSON, each with the token: {"kind": "hello", "info"}, {"kind": "phase", "index", "phase"},
                          {"kind": "result", "observation": Observation as a dict, "retire": bool}
  (`retire`: the worker exits after this result, and the pool starts another before the next case)
The token is read before any user code runs and kept only here, so a frame that a case's own code writes into
the socket is told apart from the worker's (engine/isolation.py says what is in and out of scope).
"""

from __future__ import annotations

import dataclasses
import faulthandler
import os
import signal
import socket
import sys
import threading
import time

from verify_compile import proctree
from verify_compile.channel import json_frame, recv_pickle

CAPTURE_CHARS = 8000  # what a result keeps of a case's output: its end
_CAPTURE_READ = 2**20  # the most of the log read back after a case, from its end: never the whole of it


def _make_expendable() -> None:
    """If the machine runs out of memory, the kernel should kill this worker, not the run that reports on it."""
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
    except OSError:
        pass


def _die_with_parent(parent: int) -> None:
    """A worker never outlives the run, nor does anything its case started: when the parent dies the kernel sends
    SIGTERM (Linux), and a watchdog thread notices a changed parent elsewhere (or when the main thread is busy in
    C code); either way every descendant is ended first, since a SIGKILLed worker would leave them behind."""
    signal.signal(signal.SIGTERM, lambda signum, frame: _end_tree_and_exit())
    proctree.prctl(proctree.PR_SET_PDEATHSIG, signal.SIGTERM)
    proctree.prctl(proctree.PR_SET_CHILD_SUBREAPER, 1)  # orphans of a case come back here, to be ended

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        _end_tree_and_exit()

    if os.getppid() != parent:
        os._exit(70)
    threading.Thread(target=watch, name="verify-compile-watchdog", daemon=True).start()


def _end_tree_and_exit() -> None:
    proctree.kill_descendants(os.getpid())
    os._exit(70)


def hello_info() -> dict:
    import platform

    import torch
    import torch._dynamo
    import torch._inductor

    cuda = torch.cuda.is_available()
    return {
        "pid": os.getpid(),
        "torch": str(torch.__version__),
        "python": platform.python_version(),
        "cuda_available": cuda,
        "cuda_version": torch.version.cuda,
        "device_count": torch.cuda.device_count() if cuda else 0,
        "gpu": torch.cuda.get_device_name(0) if cuda else None,
        "backends": sorted(torch._dynamo.list_backends(exclude_tags=())),
        "modes": sorted(torch._inductor.list_mode_options()),
        "inductor_options": sorted(torch._inductor.list_options()),
        "dynamo_options": sorted(torch._dynamo.config.get_config_copy()),
    }


def serve(sock: socket.socket, log_path: str) -> None:
    token = recv_pickle(sock)[1]
    from verify_compile.engine import isolation
    from verify_compile.engine.reference import ReferenceCache
    from verify_compile.engine.runner import run_case
    from verify_compile.engine.torchstate import TorchState, configure_for_verification

    def send(message: dict) -> None:
        sock.sendall(json_frame({**message, "token": token}))

    configure_for_verification()
    state = TorchState.capture()
    start = isolation.capture_start()  # before any user code is imported
    refs = ReferenceCache()
    send({"kind": "hello", "info": hello_info()})
    while True:
        try:
            message = recv_pickle(sock)
        except (EOFError, OSError):
            return
        if message[0] != "run":
            return
        case, settings = message[1], message[2]
        _flush()
        offset = os.path.getsize(log_path)

        def on_phase(phase: str, index: int = case.index) -> None:
            send({"kind": "phase", "index": index, "phase": phase})

        result = run_case(case, refs, on_phase, settings)
        _flush()
        _end_case_processes()
        result.captured = read_tail(log_path, offset)
        state.restore()
        leaked = start.leaks()
        if leaked:
            result.notes.append("the case left the worker changed (" + "; ".join(leaked[:8])
                                + (f"; and {len(leaked) - 8} more" if len(leaked) > 8 else "")
                                + "): a fresh worker runs the next case")
        retire = bool(leaked) or _exhausted(result)  # a fresh process is the only clean state
        send({"kind": "result", "observation": dataclasses.asdict(result), "retire": retire})
        if retire:
            return


def _end_case_processes() -> None:
    """Every process the case started ends with it, in whatever session it moved to; inductor's own compile
    workers (a pool kept for the next case) are spared."""
    me = os.getpid()
    spare = frozenset(p for p in proctree.children(me) if _inductor_compile_pool(proctree.cmdline(p), me))
    proctree.kill_descendants(me, spare)
    proctree.reap([p for p in proctree.children(me) if p not in spare])


def _inductor_compile_pool(cmdline: str, me: int) -> bool:
    """Inductor's SubprocPool, started by this worker (`.../compile_worker/__main__.py ... --parent=PID`)."""
    return "compile_worker" in cmdline and f"--parent={me} " in cmdline + " " and "--torch-key=" in cmdline


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a case closed fd 1 or 2: said by its leaks, not a crash here
            pass


def _exhausted(result: object) -> bool:
    text = f"{getattr(result, 'message', '')}"
    return "OutOfMemoryError" in text or "MemoryError" in text


def read_tail(path: str, offset: int, chars: int = CAPTURE_CHARS) -> str:
    """The end of what was written to `path` after `offset`, read with a seek (the log may hold gigabytes),
    with a note of how much was not kept."""
    try:
        with open(path, "rb") as f:
            end = f.seek(0, os.SEEK_END)
            start = max(offset, end - _CAPTURE_READ)
            f.seek(start)
            data = f.read(end - start)
    except OSError:
        return ""
    text = data.decode("utf-8", "replace")
    kept = text[-chars:]
    dropped = (end - offset) - len(kept.encode("utf-8", "replace"))
    return f"[{dropped} bytes not kept]\n{kept}" if dropped > 0 else kept


def main() -> None:
    fd, log_path, parent = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    _die_with_parent(parent)
    faulthandler.enable()  # a segfault or abort leaves the Python stack in the log the parent reports
    _make_expendable()
    sock = socket.socket(fileno=fd)
    try:
        serve(sock, log_path)
    finally:
        sock.close()


if __name__ == "__main__":
    main()
