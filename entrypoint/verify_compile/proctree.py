"""Processes a case started, found through /proc whatever session they moved to, so they end with the case.

The worker makes itself a child subreaper, so a descendant whose parent exits (the classic double fork, or a
`setsid` daemon) is re-parented to the worker and stays in its tree, where these functions find it.
"""

from __future__ import annotations

import ctypes
import os
import signal
import time
from pathlib import Path

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


def prctl(option: int, value: int) -> bool:
    """Linux prctl(2); False where it is not available."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def children(pid: int) -> list:
    """Direct children of every thread of `pid` (a thread that forks is the child's parent)."""
    out = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            out += [int(c) for c in Path(f"/proc/{pid}/task/{tid}/children").read_text().split()]
        except (OSError, ValueError):
            continue
    return out


def descendants(pid: int, spare: frozenset = frozenset()) -> list:
    """Every descendant of `pid`, parents before children, leaving out the subtrees rooted at `spare`."""
    out, stack = [], [c for c in children(pid) if c not in spare]
    while stack:
        p = stack.pop()
        out.append(p)
        stack += [c for c in children(p) if c not in spare]
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def kill_descendants(pid: int, spare: frozenset = frozenset(), rounds: int = 5) -> int:
    """SIGKILL every descendant of `pid` (but the `spare` subtrees) until none is left; the number killed.

    Repeated because a process may fork between the listing and the kill; while `pid` lives and is a
    subreaper, the orphans of killed processes come back to it and are found by the next round."""
    killed: set = set()
    for _ in range(rounds):
        found = [p for p in descendants(pid, spare) if p not in killed or _alive(p)]
        found = [p for p in found if _alive(p)]
        if not found:
            break
        for p in found:
            try:
                os.kill(p, signal.SIGKILL)
                killed.add(p)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.01)
    return len(killed)


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def reap(pids: list) -> None:
    """Collect the exit status of our own children among `pids`, without waiting."""
    for p in pids:
        try:
            os.waitpid(p, os.WNOHANG)
        except ChildProcessError:
            pass
