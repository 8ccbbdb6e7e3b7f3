"""The worker process: imports torch once, then runs the cases the parent sends, one at a time.

Started by the pool as `python -m verify_compile.engine.worker FD LOG`, with stdout and stderr going to LOG so that a
crash leaves its last words behind. Messages travel as pickles over the inherited connection FD:
  worker -> parent: ("hello", info), ("phase", index, phase), ("result", CaseResult)
  parent -> worker: ("run", Case, RunSettings), ("stop",)
"""

from __future__ import annotations

import faulthandler
import os
import sys
from multiprocessing.connection import Connection

_CAPTURE_LIMIT = 8000


def _make_expendable() -> None:
    """If the machine runs out of memory, the kernel should kill this worker, not the run that reports on it."""
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
    except OSError:
        pass


def hello_info() -> dict:
    import platform

    import torch
    import torch._dynamo
    import torch._inductor

    cuda = torch.cuda.is_available()
    return {
        "pid": os.getpid(),
        "torch": str(torch.__version__),  # a TorchVersion would make the parent import torch to unpickle it
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


def serve(conn: Connection, log_path: str) -> None:
    from verify_compile.engine.reference import ReferenceCache
    from verify_compile.engine.runner import run_case
    from verify_compile.engine.torchstate import TorchState, configure_for_verification

    configure_for_verification()
    state = TorchState.capture()
    refs = ReferenceCache()
    conn.send(("hello", hello_info()))
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message[0] != "run":
            return
        case, settings = message[1], message[2]
        sys.stdout.flush()
        offset = os.path.getsize(log_path)

        def on_phase(phase: str, index: int = case.index) -> None:
            conn.send(("phase", index, phase))

        result = run_case(case, refs, on_phase, settings)
        sys.stdout.flush()
        sys.stderr.flush()
        result.captured = _read_from(log_path, offset)
        state.restore()
        conn.send(("result", result))
        if _exhausted(result):
            return  # after running out of memory, a fresh process is the only clean state


def _exhausted(result: object) -> bool:
    text = f"{getattr(result, 'message', '')}"
    return "OutOfMemoryError" in text or "MemoryError" in text


def _read_from(path: str, offset: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except OSError:
        return ""
    text = data.decode("utf-8", "replace")
    return text if len(text) <= _CAPTURE_LIMIT else "...\n" + text[-_CAPTURE_LIMIT:]


def main() -> None:
    fd, log_path = int(sys.argv[1]), sys.argv[2]
    faulthandler.enable()  # a segfault or abort leaves the Python stack in the log the parent reports
    _make_expendable()
    conn = Connection(fd)
    try:
        serve(conn, log_path)
    finally:
        conn.close()


if __name__ == "__main__":
    main()
