"""Compile health read from dynamo's own bookkeeping: graphs, graph breaks, recompiles, fallbacks, cache use."""

from __future__ import annotations

from verify_compile.results import Health


def reset_counters() -> None:
    import torch._dynamo
    from torch._dynamo.utils import clear_compilation_metrics, counters

    torch._dynamo.reset()
    counters.clear()  # reset() leaves counters alone
    clear_compilation_metrics()


def read_health() -> Health:
    from torch._dynamo.utils import counters, get_compilation_metrics

    # Explicit breaks (print, unsupported builtins) land in "graph_break"; data-dependent control flow and other
    # untraceable code in "unimplemented". Either way the frame is split and part of it runs eagerly.
    breaks = dict(counters.get("unimplemented", {}))
    for reason, n in counters.get("graph_break", {}).items():
        breaks[reason] = breaks.get(reason, 0) + n
    metrics = get_compilation_metrics()
    reasons = [m.recompile_reason for m in metrics if getattr(m, "recompile_reason", None)]
    frames = counters.get("frames", {})
    return Health(
        graphs=int(counters.get("stats", {}).get("unique_graphs", 0)),
        graph_breaks=len(breaks),
        break_reasons=[_first_line(reason) + (f" (x{n})" if n > 1 else "") for reason, n in breaks.items()],
        recompiles=len(reasons),
        recompile_reasons=[_first_line(r) for r in reasons],
        fallbacks=max(0, int(frames.get("total", 0)) - int(frames.get("ok", 0))),
    )


def compile_seconds() -> float:
    from torch._dynamo.utils import get_compilation_metrics

    return float(sum(getattr(m, "entire_frame_compile_time_s", None) or 0.0 for m in get_compilation_metrics()))


def cache_stats() -> dict:
    """Inductor's FX graph cache and AOT autograd cache: a hit skips codegen, a miss paid for it."""
    from torch._dynamo.utils import counters

    inductor, aot = counters.get("inductor", {}), counters.get("aot_autograd", {})
    hits = int(inductor.get("fxgraph_cache_hit", 0)) + int(aot.get("autograd_cache_hit", 0))
    misses = int(inductor.get("fxgraph_cache_miss", 0))
    return {"hits": hits, "misses": misses} if hits or misses else {}


def _first_line(text: str) -> str:
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    if not lines:
        return ""
    head = lines[0]
    # dynamo's break messages put the useful part on the "Explanation:" line
    explanation = next((line for line in lines[1:3] if line.startswith("Explanation:")), None)
    return f"{head} ({explanation[len('Explanation:'):].strip()})" if explanation else head
