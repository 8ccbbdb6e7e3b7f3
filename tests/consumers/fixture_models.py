"""The fixture run's models: one per outcome that tests/consumers/fixture.yaml needs."""

import os
import time
from pathlib import Path

import torch


def relu3(x):
    return torch.relu(x) * 3


def noisy(x):
    """Different on every call, eager included: flaky."""
    return x + int.from_bytes(os.urandom(2), "little") * 1e-3


def branchy(x):
    """A data-dependent Python branch: one graph break, over a `max_graph_breaks: 0` gate."""
    y = torch.relu(x)
    if y.sum().item() > 0:
        return y * 2
    return y


def hangs(x):
    """Never finishes: make_fixture.py interrupts the run once this file says it has started."""
    started = os.environ.get("VERIFY_COMPILE_FIXTURE_STARTED")
    if started:
        Path(started).touch()
    time.sleep(3600)
    return x
