"""A localization in words: the one line every report shows first (`summary`), and the block under it (`text`).
Plain data in, text out; no torch, so the parent side of localization stays light."""

from __future__ import annotations

from verify_compile.spec import Case

MARKER = "verify-compile-localize: "  # the line the localizer prints its report on; the parent reads the last one
_SHOWN_OPS = 6
_SHOWN_TRIALS = 12


def describe(found: dict, case: Case) -> tuple:
    """(summary, text) of a localizer report."""
    verb = "exported" if case.backend.is_shipping else "compiled"
    lines = [f"localized: {summary(found, verb)}"]
    modules = found.get("modules") or []
    first = modules[0] if modules else {}
    if first.get("worst"):
        lines.append(f"  worst there: {first['worst']}")
    if first.get("parts_tested") and not found.get("fused"):
        lines.append(f"  none of its {first['parts_tested']} submodule(s) mismatches alone")
    if len(modules) > 1:
        lines += [f"  also: {_module(m)}: {m.get('worst', '')}" for m in modules[1:]]
    lines += _trials(found.get("tested") or [], case.backend.id, verb)
    lines += _graph(found.get("graph"))
    lines += _workaround(found.get("workaround"))
    if not found.get("finished"):
        lines.append("  localization did not finish in the time the case's timeout left: what is above is what "
                     "was found by then")
    lines += [f"  note: {n}" for n in found.get("notes") or []]
    return lines[0][len("localized: "):], "\n".join(lines)


def summary(found: dict, verb: str = "compiled") -> str:
    """Where the mismatch starts, path and line first."""
    modules, graph = found.get("modules") or [], found.get("graph") or {}
    op = _first_op(graph)
    if found.get("fused") and modules:
        head = (f"no single submodule mismatches alone: the smallest module that does is {_module(modules[0])}, "
                "so the mismatch needs its parts compiled together (fusion across modules)")
    elif modules and not modules[0].get("path"):
        head = f"{_module(modules[0])} mismatches, and it has no submodules to look into"
    elif modules:
        more = f" (and {len(modules) - 1} more)" if len(modules) > 1 else ""
        head = f"{_module(modules[0])}{more} mismatches when {verb} alone"
    elif graph:
        return (f"{op}: the smallest graph that mismatches has {graph.get('ops_after')} of "
                f"{graph.get('ops_before')} op(s)")
    elif found.get("reproduced") is False:
        return "not localized: the mismatch did not reproduce when the model was compiled again in a fresh process"
    else:
        return "not localized: no submodule was verified before the time ran out"
    return f"{head}; smallest graph: {op}" if op else head


def _module(m: dict) -> str:
    path = f"`{m['path']}`" if m.get("path") else "the whole model"
    if m.get("builtin"):
        where = f"called at {m['called_at']}" if m.get("called_at") else m.get("forward", "")
        return f"{path} ({m.get('qualname', m.get('class'))}, {where})"
    return f"{path} ({m.get('class')}, {m.get('forward', 'source unknown')})"


def _first_op(graph: dict) -> str:
    ops = graph.get("ops") or []
    if not ops:
        return ""
    shown = [f"{o['op']} at {o['source']}" if o.get("source") else o["op"] for o in ops[:2]]
    more = f" and {len(ops) - 2} more op(s)" if len(ops) > 2 else ""
    return ", ".join(shown) + more


def _trials(tested: list, backend: str, verb: str) -> list:
    if not tested:
        return []
    words = [f"{t['path']} " + ("MISMATCH" if t["reproduces"] else "error" if t.get("error") else "ok")
             for t in tested[:_SHOWN_TRIALS]]
    more = f", +{len(tested) - _SHOWN_TRIALS} more" if len(tested) > _SHOWN_TRIALS else ""
    lines = [f"  {verb} alone with {backend}: {', '.join(words)}{more}"]
    lines += [f"  {t['path']} could not be verified alone: {t['error']}" for t in tested if t.get("error")][:3]
    return lines


def _graph(graph: object) -> list:
    if not isinstance(graph, dict):
        return []
    where = f" of graph {graph['graph']} of {graph['graphs']}" if graph.get("graphs", 1) > 1 else ""
    lines = [f"  smallest graph that mismatches: {graph.get('ops_after')} of {graph.get('ops_before')} op(s){where} "
             f"of {graph.get('target')}, after {graph.get('queries')} compile(s)"
             + ("" if graph.get("finished", True) else " (stopped at the time limit: the smallest found so far)")]
    for op in (graph.get("ops") or [])[:_SHOWN_OPS]:
        at = f" at {op['source']}: {op.get('code', '')}" if op.get("source") else ""
        module = f"  (in {op['module']})" if op.get("module") else ""
        lines.append(f"    {op['op']}{at}{module}")
    if len(graph.get("ops") or []) > _SHOWN_OPS:
        lines.append(f"    ... {len(graph['ops']) - _SHOWN_OPS} more")
    if graph.get("worst"):
        lines.append(f"    there: {graph['worst']}")
    if graph.get("minimal"):
        lines.append(f"  minimal repro: python {graph['minimal']}  (exit 1 while it reproduces)")
    return lines


def _workaround(fix: object) -> list:
    if not isinstance(fix, dict):
        return []
    if fix.get("verified"):
        return [f"  workaround (re-checked): {fix['text']}"]
    return [f"  no workaround suggested: {fix.get('why', 'it was not re-checked')}"]
