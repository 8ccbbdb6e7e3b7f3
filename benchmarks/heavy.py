"""verify-compile on compute-bound models, where the forward call (not the compile) is what costs.

Three programs verify the same models (benchmarks/heavy_models.py: a 57M-parameter transformer encoder at 4x128
tokens, a ResNet-like conv stack at 128x128, a 6-block 1024-wide MLP; one listed, random input set each), one
backend at a time, each with a cold inductor cache of its own:
  naive       what a user writes instead: deepcopy, one eager call, torch.compile, one compiled call,
              assert_close;
  same-calls  a bare loop making exactly the calls a verdict needs: eager and compiled (each on its own copy)
              on the listed set and on a re-drawn one, assert_close after each;
  tool        `verify-compile run CONFIG --json out.json` with the default config (latency measured).
They run side by side, alternating (the order rotates every repeat), in one run, so a busy machine slows all
alike. Each runs under a fresh wrapper process that is a child subreaper and reaps every descendant, so its
RUSAGE_CHILDREN ru_maxrss is the peak RSS of the largest process of that program: the bare loop's own process,
the tool's worker (its parent never imports torch). Printed: medians, tool/naive and tool/same-calls time
ratios, and the tool/same-calls peak-RSS ratio. Targets: tool/same-calls <= 1.25 (aot_eager), <= 1.15
(inductor); RSS <= 1.3.

    python benchmarks/heavy.py                  # full: scale 1, aot_eager and inductor, 1 repeat (~6 min on 2 cores)
    python benchmarks/heavy.py --quick          # smaller models, aot_eager only (~1 min)
    python benchmarks/heavy.py --repeat 2 --backends inductor --tool-path /tmp/old/entrypoint
    python benchmarks/heavy.py --before /tmp/old/entrypoint   # also another version of the tool, side by side
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent

# name -> (factory in heavy_models.py, input shape)
MODELS = {
    "encoder": ("encoder", [4, 128, 768]),
    "conv_stack": ("conv_stack", [4, 3, 128, 128]),
    "mlp": ("mlp", [512, 1024]),
}
VARIANTS = ("naive", "same-calls", "tool")

# The bare loops. argv: backend, scale, models as JSON.
_LOOP_HEAD = r'''
import copy, json, sys, torch
import heavy_models
backend, scale, models = sys.argv[1], float(sys.argv[2]), json.loads(sys.argv[3])
torch._inductor.config.fallback_random = True
def build(factory, seed=0):
    torch.manual_seed(seed)
    return getattr(heavy_models, factory)(scale)
'''
NAIVE = _LOOP_HEAD + r'''
def verify(factory, shape):
    model = build(factory)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    eager_model = copy.deepcopy(model)
    with torch.no_grad():
        expected = eager_model(x)
        compiled = torch.compile(model, backend=backend)
        torch.testing.assert_close(compiled(x), expected)
for factory, shape in models:
    verify(factory, shape)
    torch._dynamo.reset()
'''
SAME_CALLS = _LOOP_HEAD + r'''
def verify(factory, shape):
    model = build(factory)
    sets = [torch.randn(shape, generator=torch.Generator().manual_seed(seed)) for seed in (0, 1)]
    eager_model = copy.deepcopy(model)
    with torch.no_grad():
        expected = [eager_model(x) for x in sets]
        del eager_model
        compiled = torch.compile(copy.deepcopy(model), backend=backend)
        for x, e in zip(sets, expected):
            torch.testing.assert_close(compiled(x), e)
for factory, shape in models:
    verify(factory, shape)
    torch._dynamo.reset()
'''

# Runs argv[1:] as a child, reaps every descendant (it is their subreaper), prints wall time and peak RSS.
WRAPPER = r'''
import ctypes, json, os, resource, subprocess, sys, time
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: orphans of the program come back here
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=open(os.environ["HEAVY_LOG"], "w"))
code = proc.wait()
seconds = time.perf_counter() - start
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
print(json.dumps({"seconds": seconds, "rss_mb": peak / 1024, "rc": code}))
'''


def write_config(folder: Path, backend: str, scale: float, models: list) -> Path:
    shutil.copy(HERE / "heavy_models.py", folder / "heavy_models.py")
    lines = ["version: 1", "defaults:", "  device: cpu", f"  backends: [{backend}]", "models:"]
    for name in models:
        factory, shape = MODELS[name]
        lines += [f"  - name: {name}", f"    model: heavy_models.py:{factory}",
                  f"    init: {{kwargs: {{scale: {scale}}}}}", f"    inputs: [{{args: [{{shape: {shape}}}]}}]"]
    path = folder / "heavy.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def command(variant: str, backend: str, scale: float, models: list, folder: Path) -> list:
    if variant.startswith("tool"):
        return [sys.executable, "-m", "verify_compile", "run", str(folder / "heavy.yaml"),
                "--json", str(folder / "out.json")]
    specs = json.dumps([MODELS[m] for m in models])
    return [sys.executable, "-c", NAIVE if variant == "naive" else SAME_CALLS, backend, str(scale), specs]


def measure(variant: str, backend: str, scale: float, models: list, tool_path: str) -> dict:
    """One program's wall time and peak RSS (and, for the tool, its cases), in a folder of its own."""
    with tempfile.TemporaryDirectory(prefix="heavy-") as tmp:
        folder = Path(tmp)
        write_config(folder, backend, scale, models)
        (folder / "cache").mkdir()
        env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": str(folder / "cache"), "HEAVY_LOG": str(folder / "log"),
               "PYTHONPATH": os.pathsep.join([tool_path, str(folder)])}
        out = subprocess.run([sys.executable, "-c", WRAPPER] + command(variant, backend, scale, models, folder),
                             env=env, cwd=folder, capture_output=True, text=True, check=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        if variant.startswith("tool") and (folder / "out.json").exists():
            row["cases"] = [_case_summary(r) for r in json.loads((folder / "out.json").read_text())["results"]]
        elif row["rc"] != 0:
            row["error"] = (folder / "log").read_text()[-2000:]
    return row


def _case_summary(record: dict) -> dict:
    """One case of a tool's --json: format 2 nests observation and verdict; an older tool's record is flat."""
    r, verdict = record.get("observation", record), record.get("verdict", record)
    perf = r.get("perf") or {}
    return {"id": r["case_id"], "outcome": verdict["outcome"], "duration": round(r["duration"], 1),
            "compile_time": r.get("compile_time") and round(r["compile_time"], 1),
            "eager_ms": perf.get("eager_ms") and round(perf["eager_ms"]), "speedup": perf.get("speedup"),
            "notes": r.get("notes", [])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller models (scale 0.25), aot_eager only")
    parser.add_argument("--scale", type=float, help="model size (default 1, or 0.25 with --quick)")
    parser.add_argument("--backends", help="comma separated (default aot_eager,inductor; aot_eager with --quick)")
    parser.add_argument("--models", default=",".join(MODELS), help="comma separated subset of " + ",".join(MODELS))
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--tool-path", default=str(REPO / "entrypoint"),
                        help="the verify_compile package's folder (another checkout, to compare versions)")
    parser.add_argument("--before", help="another verify_compile package folder, run as variant 'tool-before'")
    args = parser.parse_args()
    variants = VARIANTS + (("tool-before",) if args.before else ())
    scale = args.scale or (0.25 if args.quick else 1.0)
    backends = (args.backends or ("aot_eager" if args.quick else "aot_eager,inductor")).split(",")
    models = args.models.split(",")
    rows: dict = {(b, v): [] for b in backends for v in variants}
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; scale {scale}; models {', '.join(models)};"
          f" tool from {args.tool_path}", flush=True)
    for r in range(args.repeat):
        for backend in backends:
            order = variants[r % len(variants):] + variants[:r % len(variants)]
            for variant in order:
                path = args.before if variant == "tool-before" else args.tool_path
                row = measure(variant, backend, scale, models, path)
                rows[(backend, variant)].append(row)
                print(f"  [{r + 1}/{args.repeat}] {backend:9s} {variant:10s} {row['seconds']:6.1f} s  "
                      f"peak RSS {row['rss_mb']:6.0f} MB  rc {row['rc']}", flush=True)
                for case in row.get("cases", []):
                    print(f"        {case}", flush=True)
                if row.get("error"):
                    print(row["error"], flush=True)
    report(rows, backends, variants)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


def report(rows: dict, backends: list, variants: tuple) -> None:
    def med(backend: str, variant: str, key: str) -> float:
        return statistics.median(x[key] for x in rows[(backend, variant)])

    for b in backends:
        naive, same = med(b, "naive", "seconds"), med(b, "same-calls", "seconds")
        rss_same = med(b, "same-calls", "rss_mb")
        target = 1.25 if b == "aot_eager" else 1.15
        print(f"{b}: naive {naive:.1f} s ({med(b, 'naive', 'rss_mb'):.0f} MB), same-calls {same:.1f} s "
              f"({rss_same:.0f} MB)")
        for v in variants[2:]:
            tool, rss = med(b, v, "seconds"), med(b, v, "rss_mb")
            print(f"  {v:11s} {tool:6.1f} s | tool/naive {tool / naive:.2f}x, tool/same-calls {tool / same:.2f}x "
                  f"(target <= {target}x) | peak RSS {rss:.0f} MB, tool/same-calls {rss / rss_same:.2f}x "
                  "(target <= 1.3x)")


if __name__ == "__main__":
    main()
