"""Expanding configs into cases (one model under one backend), selecting them, and sharding them."""

from __future__ import annotations

import dataclasses
import heapq
import re
from typing import Iterable, Optional, Sequence

from verify_compile.errors import ConfigError, ConfigErrors
from verify_compile.spec import BackendSpec, Case, Config, ModelSpec

# Rough relative cost of one case by backend, for balancing shards without history.
_BACKEND_COST = {"eager": 1.0, "aot_eager": 2.0, "inductor": 20.0, "export": 2.0, "aot_inductor": 20.0}
_DEFAULT_COST = 10.0
MAX_SHARDS = 10000  # far more than a CI matrix holds (GitHub: 256 jobs)


def cost(case: Case) -> float:
    """Rough relative cost of a case, for balancing shards without history."""
    base = _BACKEND_COST.get(case.backend.backend, _DEFAULT_COST)
    if case.backend.mode and "autotune" in case.backend.mode:
        base *= 5
    return base * (2.0 if case.model.train else 1.0)


def expand(configs: Sequence[Config], backends_override: Optional[Sequence[BackendSpec]] = None,
           device_override: Optional[str] = None) -> list[Case]:
    """Every (model, backend) pair of every config, in config order. Model names must be unique overall."""
    cases: list[Case] = []
    seen: dict[str, ModelSpec] = {}
    errors = []
    for config in configs:
        for model in config.models:
            if model.name in seen:
                first = seen[model.name]
                errors.append(ConfigError(
                    f"model name '{model.name}' is also used in {first.config_file}:{first.line}",
                    model.config_file, model.line, "model names must be unique across all configs of a run"))
                continue
            seen[model.name] = model
            if device_override:
                model = dataclasses.replace(model, device=device_override)
            if backends_override:
                model = dataclasses.replace(model, backends=tuple(backends_override))
            for backend in model.backends:
                cases.append(Case(index=len(cases), model=model, backend=backend))
    if errors:
        raise ConfigErrors(errors)
    return cases


def select(cases: Iterable[Case], patterns: Sequence[str]) -> list[Case]:
    """Cases whose id (`model[backend]`) or model name matches any of the patterns.

    `*` and `?` are wildcards; brackets are literal, because every case id has them."""
    if not patterns:
        return list(cases)
    regexes = [re.compile(re.escape(p).replace(r"\*", ".*").replace(r"\?", ".")) for p in patterns]
    return [c for c in cases if any(r.fullmatch(c.id) or r.fullmatch(c.model.name) for r in regexes)]


def shard(cases: Sequence[Case], index: int, total: int) -> list[Case]:
    """The cases of shard `index` (1-based) of `total`: greedy longest-first onto the lightest shard.

    Deterministic (ties broken by case order, then shard number), so every shard of a CI matrix computes the same
    split; a heap keeps it fast for any number of shards.
    """
    loads = [(0.0, s) for s in range(total)]  # (load, shard): the lightest, lowest-numbered first
    owner: dict[int, int] = {}
    for case in sorted(cases, key=lambda c: (-cost(c), c.index)):
        load, target = heapq.heappop(loads)
        heapq.heappush(loads, (load + cost(case), target))
        owner[case.index] = target
    return [c for c in cases if owner[c.index] == index - 1]


def parse_shard(text: str) -> tuple[int, int]:
    """'2/3' -> (2, 3); raises ConfigError for anything else."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match:
        raise ConfigError(f"--shard must look like I/N (e.g. 2/3), got '{text}'")
    index, total = int(match.group(1)), int(match.group(2))
    if not 1 <= total <= MAX_SHARDS:
        raise ConfigError(f"--shard {text}: N must be between 1 and {MAX_SHARDS}")
    if not 1 <= index <= total:
        raise ConfigError(f"--shard {text}: I must be between 1 and N")
    return index, total
