"""Overhead of verify-compile over the work itself, measured side by side in one run.

Runs the example config twice, each with a cold inductor cache of its own:
  1. a bare in-process loop: build each model, eager call, torch.compile, compiled call, allclose, for every
     case and input set (what a hand-written test does);
  2. `verify-compile run` with isolation on (worker processes, journal, reports).
and prints both wall times and their ratio. Target: ratio <= 1.15.

    python benchmarks/overhead.py [CONFIG] [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

BARE_LOOP = r'''
import sys, time, torch
sys.path.insert(0, sys.argv[2])
from verify_compile.config.loader import load_config
from verify_compile.orchestration.cases import expand
from verify_compile.engine.inputs import materialize, torch_dtype
from verify_compile.engine.loading import build_callable, resolve_backend
torch._inductor.config.fallback_random = True
for case in expand([load_config(sys.argv[1])]):
    spec, b = case.model, case.backend
    device, dtype = torch.device("cpu"), torch_dtype(spec.dtype)
    fn, module = build_callable(spec, device, dtype)
    sets = [materialize(s, spec.seed * 1000 + i, device, dtype) for i, s in enumerate(spec.inputs)]
    kwargs = {"backend": resolve_backend(b, spec.base_dir)}
    if b.options:
        kwargs["options"] = dict(b.options)
    if spec.dynamo_config:
        for k, v in spec.dynamo_config.items():
            setattr(torch._dynamo.config, k, v)
    torch._dynamo.reset()
    compiled = torch.compile(fn, **kwargs)
    with torch.set_grad_enabled(spec.train):
        for args, kw in sets:
            torch.manual_seed(0)
            expected = fn(*args, **kw)
            torch.manual_seed(0)
            actual = compiled(*args, **kw)
            torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-4)
'''


def timed(cmd: list, cache_dir: str) -> float:
    env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache_dir, "PYTHONPATH": str(REPO / "entrypoint")}
    start = time.perf_counter()
    subprocess.run(cmd, check=False, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", default=str(REPO / "configs" / "example.yaml"))
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    bare, tool = [], []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as c1, tempfile.TemporaryDirectory() as c2, \
                tempfile.TemporaryDirectory() as out:
            bare.append(timed([sys.executable, "-c", BARE_LOOP, args.config, str(REPO / "entrypoint")], c1))
            tool.append(timed([sys.executable, "-m", "verify_compile", "run", args.config,
                               "--junit", f"{out}/r.xml", "--json", f"{out}/r.json"], c2))
    b, t = statistics.median(bare), statistics.median(tool)
    print(f"config: {args.config}  ({os.cpu_count()} CPUs)")
    print(f"bare in-process loop : {b:7.1f} s   (runs: {', '.join(f'{x:.1f}' for x in bare)})")
    print(f"verify-compile run   : {t:7.1f} s   (runs: {', '.join(f'{x:.1f}' for x in tool)})")
    print(f"overhead ratio       : {t / b:7.2f}x   (target <= 1.15x)")


if __name__ == "__main__":
    main()
