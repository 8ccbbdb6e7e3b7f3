"""One case costs one case: the process state a worker starts a case with, what a case changed of it, and the
genuine torch functions the verdict is computed with.

Code under test runs in the worker's process, beside the verdict. A deliberately malicious backend is out of
scope (it could rewrite anything in its process); an accidental patch is not: a backend that replaces
`torch.isclose` must neither make its own wrong answer pass nor change the next case's verdict. So the worker
captures, before it imports any user code, the attributes of the torch namespaces the comparison uses and the
process-wide state a case can change. The comparison runs inside `genuine()`, with the captured attributes put
back for its duration; after each case `leaks()` names what the case changed and did not undo, and the worker
is replaced before the next case (a warm compile state is cheap to lose next to a wrong verdict).
"""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator, Optional

import torch
import torch.nn.functional

# The namespaces whose functions the comparison calls (directly, or as tensor methods and operators).
_NAMESPACES = {"torch": torch, "torch.Tensor": torch.Tensor, "torch.nn.functional": torch.nn.functional}
_TORCH_ENV_PREFIXES = ("_TORCHINDUCTOR_",)  # private variables inductor sets for itself while it compiles
_OWN_THREAD_MODULES = ("torch.", "concurrent.futures")  # compile pools' threads: idle between cases, harmless


@dataclass
class ProcessState:
    attributes: dict  # namespace -> {name: object}
    environment: dict
    cwd: str
    umask: int
    handlers: dict  # signal -> handler
    streams: dict  # fd 0-2 -> (device, inode) or None when closed
    threads: set  # idents of live threads
    torch_modes: dict = field(default_factory=dict)

    @classmethod
    def capture(cls) -> ProcessState:
        return cls(attributes={name: dict(vars(ns)) for name, ns in _NAMESPACES.items()},
                   environment=dict(os.environ), cwd=_cwd(), umask=_umask(), handlers=_handlers(),
                   streams={fd: _stream(fd) for fd in (0, 1, 2)},
                   threads={t.ident for t in threading.enumerate()}, torch_modes=_torch_modes())

    def leaks(self) -> list:
        """What differs now from this state, each named for a note; [] when nothing does."""
        now = ProcessState.capture()
        found = [f"{name}.{attr} was replaced" for name, before in self.attributes.items()
                 for attr, value in before.items() if now.attributes[name].get(attr, _GONE) is not value]
        found += [f"environment variable {key} was {'set' if key in now.environment else 'removed'}"
                  for key in sorted(set(self.environment) ^ set(now.environment)) if not _torch_env(key)]
        found += [f"environment variable {key} was changed" for key in sorted(set(self.environment) &
                  set(now.environment)) if self.environment[key] != now.environment[key] and not _torch_env(key)]
        found += [f"{what} changed ({before!r} -> {after!r})" for what, before, after in (
            ("the working directory", self.cwd, now.cwd), ("the umask", oct(self.umask), oct(now.umask)))
            if before != after]
        found += [f"the handler of {signal.Signals(s).name} was changed" for s, h in self.handlers.items()
                  if now.handlers.get(s) != h]
        found += [f"file descriptor {fd} was {'closed' if now.streams[fd] is None else 'replaced'}"
                  for fd, before in self.streams.items() if now.streams[fd] != before]
        found += [f"{what} is {after} (was {before})" for what, before in self.torch_modes.items()
                  if (after := now.torch_modes.get(what)) != before]
        found += [f"thread '{t.name}' is still running" for t in threading.enumerate()
                  if t.ident not in self.threads and t.is_alive() and not _own_thread(t)]
        return found


_GONE = object()
_START: Optional[ProcessState] = None


def capture_start() -> ProcessState:
    """The worker's state before any user code: what `genuine()` restores and `leaks()` compares with."""
    global _START
    _START = ProcessState.capture()
    return _START


_ACTIVE: list = []  # the replacements of the genuine() block now open (one at a time: nested ones add none)


@contextmanager
def genuine() -> Iterator[None]:
    """The captured torch attributes for the duration of the block, whatever a case replaced; the case's own
    ones are put back after it (its later calls must run as it left them)."""
    if _START is None or _ACTIVE:
        yield
        return
    replaced = [(ns, attr, vars(ns).get(attr, _GONE), value) for name, ns in _NAMESPACES.items()
                for attr, value in _START.attributes[name].items() if vars(ns).get(attr, _GONE) is not value]
    _apply(replaced, real=True)
    _ACTIVE.append(replaced)
    try:
        yield
    finally:
        _ACTIVE.pop()
        _apply(replaced, real=False)


@contextmanager
def as_the_case_left_it() -> Iterator[None]:
    """Inside `genuine()`: the case's own attributes again, for the case's code that runs while comparing (a
    float64 reference is a run of its model, which must see what its eager runs saw)."""
    replaced = _ACTIVE[-1] if _ACTIVE else []
    _apply(replaced, real=False)
    try:
        yield
    finally:
        _apply(replaced, real=True)


def _apply(replaced: list, real: bool) -> None:
    for ns, attr, theirs, ours in replaced:
        value = ours if real else theirs
        if value is _GONE:
            if attr in vars(ns):
                delattr(ns, attr)
        else:
            setattr(ns, attr, value)


def _torch_env(key: str) -> bool:
    return key.startswith(_TORCH_ENV_PREFIXES)


def _own_thread(t: threading.Thread) -> bool:
    target = getattr(t, "_target", None)
    module = getattr(target, "__module__", "") or type(t).__module__
    return module.startswith(_OWN_THREAD_MODULES)


def _cwd() -> str:
    try:
        return os.getcwd()
    except OSError:  # removed under the worker
        return "<gone>"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _handlers() -> dict:
    out = {}
    for s in signal.valid_signals():
        try:
            out[s] = signal.getsignal(s)
        except (ValueError, OSError):
            continue
    return out


def _stream(fd: int) -> Optional[tuple]:
    try:
        st = os.fstat(fd)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _torch_modes() -> dict:
    modes = {"the default dtype": torch.get_default_dtype(), "grad mode": torch.is_grad_enabled(),
             "anomaly mode": torch.is_anomaly_enabled(),
             "deterministic algorithms": torch.are_deterministic_algorithms_enabled()}
    if hasattr(torch, "get_default_device"):
        modes["the default device"] = str(torch.get_default_device())
    return modes
