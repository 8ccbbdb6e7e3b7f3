"""Restoring torch's process-wide state after every case, so no case leaks into the next; the settings that make
verdicts reproducible are portable.configure_for_verification."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
import torch._dynamo
import torch._dynamo.config
import torch._inductor.config
from torch._dynamo.utils import counters

from verify_compile.engine.portable import configure_for_verification


@dataclass
class TorchState:
    """A snapshot of process-wide torch state, restored after every case."""

    inductor_config: bytes
    dynamo_config: bytes
    default_dtype: torch.dtype
    grad_enabled: bool
    num_threads: int
    deterministic: bool

    @classmethod
    def capture(cls) -> TorchState:
        return cls(torch._inductor.config.save_config(), torch._dynamo.config.save_config(),
                   torch.get_default_dtype(), torch.is_grad_enabled(), torch.get_num_threads(),
                   torch.are_deterministic_algorithms_enabled())

    def restore(self) -> None:
        torch._dynamo.reset()
        counters.clear()
        with warnings.catch_warnings():  # load_config re-sets deprecated keys, each with a FutureWarning
            warnings.simplefilter("ignore")
            torch._inductor.config.load_config(self.inductor_config)
            torch._dynamo.config.load_config(self.dynamo_config)
        torch.set_default_dtype(self.default_dtype)
        torch.set_grad_enabled(self.grad_enabled)
        torch.set_num_threads(self.num_threads)
        torch.use_deterministic_algorithms(self.deterministic, warn_only=True)
        configure_for_verification()
