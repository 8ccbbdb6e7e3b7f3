"""What every step of a localization shares: the case, its eager reference, the time left, the report so far,
and how a piece of the model is compiled (exactly as the case compiles the whole of it).

Runs in the localizer's own process (engine/localize_worker.py), never in a worker.
"""

from __future__ import annotations

import inspect
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import torch

from verify_compile.engine.loading import resolve_backend
from verify_compile.engine.localize_text import MARKER
from verify_compile.engine.portable import compile_kwargs, uses_cudagraphs
from verify_compile.engine.reference import Reference
from verify_compile.spec import Case

_TORCH_DIR = str(Path(torch.__file__).resolve().parent)
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<func>\S+)\n(?P<code>[^\n]*)', re.M)


class OutOfTime(Exception):
    """The localization's time is up: what is known so far is reported as it is."""


@dataclass
class Session:
    case: Case
    ref: Reference
    set_index: int  # 0-based: the input set that mismatched
    deadline: float  # time.monotonic() by which the report must be out
    bundle: Optional[str] = None  # the case's repro bundle, where minimal.py goes; None: none was asked for
    report: dict = field(default_factory=lambda: {"finished": False, "modules": [], "tested": [], "notes": []})
    started: float = field(default_factory=time.monotonic)
    found: dict = field(default_factory=dict)  # path -> the trial of a submodule that mismatched alone
    captured: dict = field(default_factory=dict)  # path -> [Invocation] of every submodule captured so far
    called_at: dict = field(default_factory=dict)  # path -> (file, line, code) where the model first calls it
    _backend: Any = None

    @property
    def calls(self) -> int:
        """How many calls the compiled model saw up to the one that mismatched."""
        return self.set_index + 1

    @property
    def train(self) -> bool:
        return self.case.model.train

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def check_time(self, need: float = 0.0) -> None:
        if self.left() < need:
            raise OutOfTime()

    def note(self, text: str) -> None:
        self.report["notes"].append(text)

    def emit(self) -> None:
        """Print the report so far on a marker line: if this process is killed, the parent keeps the last one."""
        self.report["seconds"] = round(time.monotonic() - self.started, 1)
        print(MARKER + json.dumps(self.report, default=str), flush=True)

    def compile(self, target: Callable) -> Callable:
        """`target` under torch.compile with the case's backend, mode, options, dynamic and fullgraph, on fresh
        dynamo caches (many compiles of one class would otherwise hit the recompile limit)."""
        torch._dynamo.reset()
        compiled = torch.compile(target, **self.compile_kwargs())
        b = self.case.backend
        if not uses_cudagraphs(b.backend, b.mode, b.options, self.ref.device):
            return compiled

        def marked(*args: Any, **kwargs: Any) -> Any:
            torch.compiler.cudagraph_mark_step_begin()  # outputs are copied by call_once before the next call
            return compiled(*args, **kwargs)
        return marked

    def compile_kwargs(self) -> dict:
        if self._backend is None:
            self._backend = resolve_backend(self.case.backend, self.case.model.base_dir)
        b = self.case.backend
        return compile_kwargs(self._backend, b.mode, b.options, b.dynamic, b.fullgraph)

    def shown(self, filename: str) -> str:
        """A source file as a reader knows it: relative to the config's folder, `torch/...` for torch's own."""
        path = Path(filename)
        try:
            resolved = path.resolve()
        except OSError:
            return filename
        for root, prefix in ((Path(self.case.model.base_dir).resolve(), ""), (Path(_TORCH_DIR), "torch/")):
            try:
                return prefix + str(resolved.relative_to(root))
            except ValueError:
                continue
        return filename


def is_torch_file(filename: str) -> bool:
    try:
        return str(Path(filename).resolve()).startswith(_TORCH_DIR)
    except OSError:
        return False


def forward_source(module: torch.nn.Module) -> Optional[tuple]:
    """(file, line) of the `def forward` a module runs, or None when Python cannot say."""
    forward = getattr(type(module), "forward", None)
    try:
        forward = inspect.unwrap(forward)
        return inspect.getsourcefile(forward), inspect.getsourcelines(forward)[1]
    except (TypeError, OSError):
        return None


def user_frame(stack_trace: Optional[str]) -> Optional[dict]:
    """The innermost frame of a graph node's stack trace that is the user's code (not torch's):
    {"file", "line", "function", "code"}; the innermost frame of all when every frame is torch's."""
    frames = [m.groupdict() for m in _FRAME.finditer(stack_trace or "")]
    if not frames:
        return None
    mine = [f for f in frames if not is_torch_file(f["file"])]
    frame = (mine or frames)[-1]
    return {"file": frame["file"], "line": int(frame["line"]), "function": frame["func"],
            "code": frame["code"].strip()}


def first_summary(mismatches: list) -> str:
    """The located difference a report shows first, with how many more there are."""
    more = f" (+{len(mismatches) - 1} more)" if len(mismatches) > 1 else ""
    return mismatches[0].summary + more
