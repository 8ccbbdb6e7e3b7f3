"""Graph reduction: the fewest ops of a captured dynamo graph that still mismatch under the case's backend.

A capturing backend records each graph dynamo makes of the target (a plain function, or the culprit module) with
its example inputs; PyTorch's own graph minifier (torch._functorch.fx_minifier) then shrinks the first graph that
mismatches alone, with the case's verdict as its predicate: eager graph against the graph compiled with the case's
backend, through call_once and compare_calls (tolerances, the float64 rule, gradients in training). Each op left
is named with the user's source line, from the node's stack trace.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Callable, Optional

import torch
import torch.fx

from verify_compile.engine.compare import compare_calls
from verify_compile.engine.localize_session import OutOfTime, Session, first_summary, is_torch_file, user_frame
from verify_compile.engine.portable import call_once, cast_floating, clone_value, seed_everything

_KEPT_META = ("stack_trace", "nn_module_stack")  # what the report reads; fake tensors would only weigh on copies
_CALLS = ("call_function", "call_method", "call_module")
_MODULE_ROOT = re.compile(r"^L\['[^']*'\]\.?")


def capture_graphs(session: Session, target: Callable, args: tuple, kwargs: dict,
                   before: Callable[[], None]) -> list:
    """[(GraphModule, example inputs)] of each graph dynamo captures of one call of `target` (static shapes).
    `before` sets the RNG as the verdict's call had it."""
    graphs: list = []

    def capturing(gm: torch.fx.GraphModule, example_inputs: list) -> Callable:
        graphs.append((gm, [clone_value(t) for t in example_inputs]))  # before the graph runs: inputs as given
        return gm.forward

    torch._dynamo.reset()
    compiled = torch.compile(target, backend=capturing, dynamic=False)
    args, kwargs = clone_value((args, kwargs))
    before()
    with torch.set_grad_enabled(session.train):
        compiled(*args, **kwargs)
    return [_prepared(gm, inputs) for gm, inputs in graphs]


def _prepared(gm: torch.fx.GraphModule, inputs: list) -> tuple:
    """The graph with only the metadata the report needs, and its tensor attributes lifted to inputs, so that the
    graph stands alone (minimal.py holds only code and inputs)."""
    for node in gm.graph.nodes:
        node.meta = {k: v for k, v in node.meta.items() if k in _KEPT_META}
    placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
    for node in [n for n in gm.graph.nodes if n.op == "get_attr"]:
        value = _attribute(gm, node.target)
        if not isinstance(value, torch.Tensor):
            continue
        anchor = placeholders[-1] if placeholders else next(iter(gm.graph.nodes))
        with gm.graph.inserting_after(anchor) if placeholders else gm.graph.inserting_before(anchor):
            lifted = gm.graph.placeholder(node.name + "_lifted")
        lifted.meta = dict(node.meta)
        node.replace_all_uses_with(lifted)
        gm.graph.erase_node(node)
        placeholders.append(lifted)
        inputs.append(value.detach().clone().requires_grad_(value.requires_grad and value.is_floating_point()))
    gm.recompile()
    return gm, inputs


def _attribute(gm: torch.nn.Module, dotted: str) -> Any:
    value: Any = gm
    for part in dotted.split("."):
        value = getattr(value, part, None)
    return value


class Predicate:
    """The minifier's `module_fails`: does this graph, compiled with the case's backend, mismatch eager?
    Remembers the smallest failing graph, which is the answer if time runs out mid-way."""

    def __init__(self, session: Session, seed: int) -> None:
        self.session, self.seed = session, seed
        self.best: Optional[tuple] = None  # (GraphModule, inputs, mismatches)
        self.queries = 0

    def __call__(self, gm: torch.fx.GraphModule, inputs: list) -> bool:
        self.session.check_time()
        self.queries += 1
        diffs = self.mismatches(gm, inputs)
        if diffs and (self.best is None or count_ops(gm) <= count_ops(self.best[0])):
            self.best = (copy.deepcopy(gm), list(inputs), diffs)
        return bool(diffs)

    def mismatches(self, gm: torch.fx.GraphModule, inputs: list, strict: bool = False) -> list:
        """The differences; an error counts as none (another failure than this mismatch: the minifier cut the
        graph somewhere odd), or is raised when `strict`."""
        train = self.session.train
        try:
            expected = call_once(gm, None, tuple(inputs), {}, self.seed, train, {})
            compiled = self.session.compile(copy.deepcopy(gm))
            seen = call_once(compiled, None, tuple(inputs), {}, self.seed, train, {})
        except OutOfTime:
            raise
        except Exception:
            if strict:
                raise
            return []
        return compare_calls(expected, seen, self.session.case.model.tolerance,
                             fp64=lambda: self._float64(gm, inputs))

    def _float64(self, gm: torch.fx.GraphModule, inputs: list) -> Any:
        try:
            wide = copy.deepcopy(gm).to(torch.float64)
            return call_once(wide, None, cast_floating(tuple(inputs), torch.float64), {}, self.seed,
                             self.session.train, {})
        except Exception:  # no float64 kernel for an op: the tolerance alone decides
            return None


def reduce(session: Session, graphs: list, seed: int, prefix: str) -> Optional[dict]:
    """Minify the first captured graph that mismatches alone; the report's "graph" entry, or None (and a note)
    when no graph does."""
    from torch._functorch.fx_minifier import minifier

    for index, (gm, inputs) in enumerate(graphs):
        predicate = Predicate(session, seed)
        if not predicate(gm, inputs):
            continue
        before, finished = count_ops(gm), True
        try:
            with torch.set_grad_enabled(session.train):  # the intermediates it turns into inputs, as the call had them
                minifier(gm, inputs, predicate, dump_state=lambda *a: None, skip_sanity=True)
        except OutOfTime:
            finished = False
        except Exception as e:  # the minifier gave up on this graph: the smallest failing one so far stands
            session.note(f"graph reduction stopped early ({type(e).__name__}: {str(e)[:200]})")
        small, small_inputs, diffs = predicate.best
        return {"graph": index + 1, "graphs": len(graphs), "ops_before": before, "ops_after": count_ops(small),
                "queries": predicate.queries, "finished": finished, "worst": first_summary(diffs),
                "ops": describe_ops(session, small, prefix), "_module": small, "_inputs": small_inputs, "_seed": seed,
                "_full": (gm, inputs)}
    session.note(f"graph reduction: none of the {len(graphs)} captured graph(s) mismatches alone on one call "
                 "(the mismatch needs earlier calls, or more than one graph)")
    return None


def count_ops(gm: torch.fx.GraphModule) -> int:
    return sum(1 for n in gm.graph.nodes if n.op in _CALLS)


def describe_ops(session: Session, gm: torch.fx.GraphModule, prefix: str) -> list:
    """Each op of the graph: what it calls, and the user's line that called it (for an op inside one of torch's
    own modules, the line that called the module)."""
    ops = []
    called = session.called_at.get(prefix)
    for node in gm.graph.nodes:
        if node.op not in _CALLS:
            continue
        entry = {"node": node.name, "op": op_name(node)}
        frame = user_frame(node.meta.get("stack_trace"))
        if frame and not is_torch_file(frame["file"]):
            entry.update(source=f"{session.shown(frame['file'])}:{frame['line']}", code=frame["code"],
                         function=frame["function"])
        elif called:
            entry.update(source=f"{session.shown(called[0])}:{called[1]}", code=called[2], via="module call")
        stack = node.meta.get("nn_module_stack") or {}
        if stack:
            inner = _MODULE_ROOT.sub("", list(stack.values())[-1][0])
            entry["module"] = ".".join(p for p in (prefix, inner) if p)
        ops.append(entry)
    return ops


def op_name(node: torch.fx.Node) -> str:
    if node.op == "call_method":
        return f"Tensor.{node.target}"
    if node.op == "call_module":
        return str(node.target)
    try:
        name = torch.fx.node._get_qualified_name(node.target)
    except Exception:  # a callable without an importable name
        return getattr(node.target, "__name__", str(node.target))
    return "operator." + name[len("_operator."):] if name.startswith("_operator.") else name


def eager_ops(gm: torch.fx.GraphModule, names: set) -> torch.fx.GraphModule:
    """A copy of `gm` in which the ops named `names` run eagerly (torch.compiler.disable): a graph break around
    each, the rest compiled. What a user gets by moving those lines into a disabled helper."""
    gm = copy.deepcopy(gm)
    for node in gm.graph.nodes:
        if node.name in names and node.op in ("call_function", "call_method"):
            node.target, node.op = _run_eagerly(node.target, node.op == "call_method"), "call_function"
    gm.recompile()
    return gm


def _run_eagerly(target: Any, method: bool) -> Callable:
    # A wrapper of its own name: wrapping the op itself would keep its qualified name, and the graph's code would
    # call the op by that name, compiled.
    def run_eagerly(*args: Any, **kwargs: Any) -> Any:
        return getattr(args[0], target)(*args[1:], **kwargs) if method else target(*args, **kwargs)
    return torch.compiler.disable(run_eagerly)


def seeded(seed: int, rng: Optional[torch.Tensor] = None) -> Callable[[], None]:
    """The RNG as a call of the verdict started: seeded, or a submodule's captured state."""
    def before() -> None:
        seed_everything(seed)
        if rng is not None:
            torch.set_rng_state(rng)
    return before
