"""Stopping on SIGINT/SIGTERM without losing anything, however many signals arrive and whenever they do.

While a `StopSignals` is active, neither signal can kill the process or raise at a random point: the first one
is recorded and, only inside `armed()` (while cases run), raised once as `Interrupted`; every later one is only
noted. So a second Ctrl-C while workers are being stopped or reports written changes nothing: the reports are
written with the finished cases, and the exit code says which signal stopped the run (128 + signal number).
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator, Optional

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class StopSignals:
    def __init__(self) -> None:
        self.signum: Optional[int] = None  # the first signal received
        self._armed = False
        self._previous: dict = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():  # only the main thread may set handlers
            self._previous = {s: signal.signal(s, self._handle) for s in SIGNALS}
        return self

    def __exit__(self, *exc: object) -> None:
        for s, handler in self._previous.items():
            # Once stopping, the process only has its exit code left to give: later signals must not turn it
            # into a KeyboardInterrupt traceback or a death by signal.
            signal.signal(s, signal.SIG_IGN if self.signum is not None else handler)
        self._previous = {}

    def _handle(self, signum: int, frame: object) -> None:
        if self.signum is not None:
            return  # already stopping: nothing more to do than what the first signal started
        self.signum = signum
        if self._armed:
            self._armed = False
            raise Interrupted(signum)

    @contextmanager
    def armed(self) -> Iterator[None]:
        """The first signal raises Interrupted inside this block (at once if one came before it)."""
        if self.signum is not None:
            raise Interrupted(self.signum)
        self._armed = True
        try:
            yield
        finally:
            self._armed = False
