"""Cold vs warm compile cache: the example config run twice against the same --cache-dir, side by side.

Target: the warm run takes at most 0.35x the cold one.

    python benchmarks/cache.py [CONFIG]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run(config: str, cache_dir: str, out: str) -> tuple:
    env = {**os.environ, "PYTHONPATH": str(REPO / "entrypoint")}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "verify_compile", "run", config, "--cache-dir", cache_dir,
                    "--json", out], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    seconds = time.perf_counter() - start
    return (seconds, *cache_counts(Path(out).read_text()))


def cache_counts(results_json: str) -> tuple[int, int]:
    """(hits, misses) over a run's --json: format 2 nests each case's observation; an older tool's is flat."""
    caches = [r.get("observation", r)["cache"] for r in json.loads(results_json)["results"]]
    return sum(c.get("hits", 0) for c in caches), sum(c.get("misses", 0) for c in caches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", default=str(REPO / "configs" / "example.yaml"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as out:
        cold = run(args.config, cache, f"{out}/cold.json")
        warm = run(args.config, cache, f"{out}/warm.json")
    print(f"config: {args.config}  ({os.cpu_count()} CPUs)")
    print(f"cold: {cold[0]:6.1f} s  cache hits {cold[1]:3d}, misses {cold[2]:3d}")
    print(f"warm: {warm[0]:6.1f} s  cache hits {warm[1]:3d}, misses {warm[2]:3d}")
    print(f"warm/cold ratio: {warm[0] / cold[0]:.2f}x  (target <= 0.35x)")


if __name__ == "__main__":
    main()
