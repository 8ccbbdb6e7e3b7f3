"""What the parent observes for a case that never reported back: a crash, a timeout, an interruption."""

from __future__ import annotations

from verify_compile.results import Observation, set_error
from verify_compile.spec import Case


def error_result(case: Case, phase: str, message: str, details: str = "",
                 duration: float = 0.0, captured: str = "") -> Observation:
    observation = Observation(case_id=case.id, index=case.index, model=case.model.name, backend=case.backend.id,
                              config=case.model.config_file, line=case.model.line, dtype=case.model.dtype,
                              duration=duration, captured=captured)
    set_error(observation, phase, message, details or message)
    return observation
