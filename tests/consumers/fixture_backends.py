"""Custom torch.compile backends of the fixture run, wrong on purpose in known ways."""

import operator
import os
import signal

import torch


def mul_to_add(gm, example_inputs):
    """Multiplication becomes addition: a mismatch from a user's own backend."""
    for node in gm.graph.nodes:
        if node.op == "call_function" and node.target in (operator.mul, torch.mul):
            node.target = operator.add
    gm.recompile()
    return gm.forward


def segfault(gm, example_inputs):
    """Kills its worker: a `crash` error."""
    os.kill(os.getpid(), signal.SIGSEGV)
