"""Everything about a request that can be wrong, found before anything runs: each mistake is a ConfigError
(exit 2) naming the option and the fix. The configs' own checks live in config/, and those only the workers'
torch can answer in config/torchcheck.py."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Sequence, Union

from verify_compile.config.loader import DEVICE_RE, MAX_TIMEOUT
from verify_compile.errors import ConfigError
from verify_compile.reports.files import check_outputs, check_writable
from verify_compile.requests import MergeRequest, RunRequest
from verify_compile.spec import OUTCOMES_FOR_FAIL_ON


def parse_fail_on(text: str) -> tuple:
    if text.strip() == "none":  # report only: no outcome fails the run
        return ()
    outcomes = tuple(o.strip() for o in text.split(",") if o.strip())
    if not outcomes:
        raise ConfigError("--fail-on names no outcome", hint="list outcomes, or write 'none' to fail on nothing")
    for outcome in outcomes:
        if outcome not in OUTCOMES_FOR_FAIL_ON:
            raise ConfigError(f"--fail-on: unknown outcome '{outcome}'",
                              hint=f"choose from {', '.join(OUTCOMES_FOR_FAIL_ON)}")
    return outcomes


def parse_size(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)i?[bB]?\s*", text)
    if not match or float(match.group(1)) <= 0 or len(match.group(1)) > 30:
        raise ConfigError(f"--memory-limit: cannot read size '{text}'", hint="write it like 512M or 8G")
    scale = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}[match.group(2).lower()]
    return int(float(match.group(1)) * scale)


def check_reports(request: Union[RunRequest, MergeRequest], sources: Sequence[str] = ()) -> None:
    """Every output can be written, no two share a file, and none is an input of the run (`sources`: the model
    and backend files, known once the configs are read)."""
    r, judging = request.reports, request.judging
    outputs = [("--junit", r.junit), ("--json", r.json), ("--markdown", r.markdown), ("--html", r.html)]
    inputs = list(request.configs if isinstance(request, RunRequest) else request.inputs) + list(sources)
    if judging.update_baseline:
        if not judging.baseline:
            raise ConfigError("--update-baseline needs --baseline FILE")
        outputs.append(("--baseline", judging.baseline))
    else:
        inputs.append(judging.baseline)
        if judging.baseline and not Path(judging.baseline).is_file():
            raise ConfigError("baseline file not found", judging.baseline, hint="create it with --update-baseline")
    journal, resume = getattr(request, "journal", None), getattr(request, "resume", None)
    if journal or resume:
        outputs.append(("--journal" if journal else "--resume", journal or resume))
    if journal and resume and os.path.realpath(journal) != os.path.realpath(resume):
        inputs.append(resume)  # read, not written: a report must not replace it
    for option, path in outputs:
        check_writable(option, path)
    check_outputs(outputs, inputs)


def check_run(request: RunRequest) -> None:
    """The run's own arguments (the files it writes: `check_reports`)."""
    check_writable("--cache-dir", request.cache_dir, folder=True)
    check_writable("--repro-dir", request.repro_dir, folder=True)
    if not request.configs:
        raise ConfigError("no config to run", hint="name at least one YAML config")
    if request.resume and not Path(request.resume).is_file():
        raise ConfigError(f"--resume {request.resume}: no such journal file",
                          hint="give the journal a run wrote (its path is printed when a run is interrupted)")
    if request.device and not DEVICE_RE.match(request.device):
        raise ConfigError(f"--device: unknown device '{request.device}'", hint="use auto, cpu, cuda or cuda:N")
    if request.timeout is not None and not (0 < request.timeout <= MAX_TIMEOUT):  # NaN fails both comparisons
        raise ConfigError(f"--timeout must be a positive number of seconds up to {MAX_TIMEOUT:g}, not "
                          f"{request.timeout}")
    if request.workers is not None and request.workers < 1:
        raise ConfigError("--workers must be at least 1")
    if request.memory_limit and parse_size(request.memory_limit) < 2**26:
        raise ConfigError(f"--memory-limit {request.memory_limit} is too small for a worker", hint="e.g. 8G")
    if request.memory_limit and not Path("/proc/self/status").is_file():  # the pool reads a worker's size there
        raise ConfigError("--memory-limit needs /proc (Linux) to read a worker's memory, and this system has none",
                          hint="drop --memory-limit here, or run on Linux (e.g. the action's docker mode)")
