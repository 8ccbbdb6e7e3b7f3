"""The house: only the engine imports torch (or the engine), every import follows the dependency order of the
layers, and no two modules import each other in a circle. Fast tier: reads the sources, runs nothing."""

from __future__ import annotations

import ast
from pathlib import Path

from helpers import REPO

PACKAGE = REPO / "entrypoint" / "verify_compile"
ENGINE = PACKAGE / "engine"


def _imports(path: Path) -> set:
    """Every module a file imports, anywhere in it (lazy imports inside functions count)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            subs = {f"{node.module}.{alias.name}" for alias in node.names}
            names.update(subs)
            if not subs <= _SUBMODULES:  # `from pkg import module` needs pkg's folder, not what its __init__ runs
                names.add(node.module)
    return names


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


_SUBMODULES = {_module(p) for p in PACKAGE.rglob("*.py")}


# The Python API runs the engine in the caller's process on purpose (the object it verifies is live); it imports
# the engine only inside its functions, so importing the package stays free of it and of torch.
IN_PROCESS = PACKAGE / "api.py"


def test_only_the_engine_imports_torch_or_the_engine():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if ENGINE in path.parents:
            continue
        forbidden = ("torch.",) if path == IN_PROCESS else ("torch.", "verify_compile.engine")
        bad = {n for n in _imports(path) if n == "torch" or n.startswith(forbidden)}
        if bad:
            offenders.append(f"{path.relative_to(PACKAGE)}: {sorted(bad)}")
    assert not offenders, "only verify_compile/engine/ may import torch or the engine:\n" + "\n".join(offenders)


def test_no_import_cycles():
    modules = {_module(p): p for p in PACKAGE.rglob("*.py")}
    graph = {m: {n for n in _imports(p) if n in modules and n != m} for m, p in modules.items()}
    state: dict = {}
    cycles = []

    def visit(node: str, stack: list) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


# Each layer may import its own modules and those of layers ranked below it, never a layer of the same rank:
# shared <- config <- {orchestration, engine} <- judgement <- reports <- app <- {cli, github} <- __main__.
LAYERS = {"shared": 0, "config": 1, "orchestration": 2, "engine": 2, "judgement": 3, "reports": 4, "app": 5,
          "cli": 6, "github": 6, "pytest": 6, "entry": 7}
_TOP = {"verify_compile": "entry", "verify_compile.spec": "shared", "verify_compile.results": "shared",
        "verify_compile.records": "shared", "verify_compile.version": "shared",
        "verify_compile.errors": "shared", "verify_compile.channel": "shared", "verify_compile.proctree": "shared",
        "verify_compile.app": "app", "verify_compile.api": "app", "verify_compile.preflight": "app",
        "verify_compile.requests": "app",
        "verify_compile.cli": "cli", "verify_compile.pytest_plugin": "pytest", "verify_compile.__main__": "entry"}


def _layer(module: str) -> str:
    if module in _TOP:
        return _TOP[module]
    folder = module.split(".")[1]
    assert folder in LAYERS, f"{module}: a module outside the known layers; give it one in test_layout.py"
    return folder


def test_imports_follow_the_dependency_order():
    modules = {_module(p): p for p in PACKAGE.rglob("*.py")}
    offenders = []
    for module, path in sorted(modules.items()):
        mine = _layer(module)
        for name in sorted(n for n in _imports(path) if n in modules and n != module):
            theirs = _layer(name)
            if theirs != mine and LAYERS[theirs] >= LAYERS[mine]:
                offenders.append(f"{module} ({mine}) imports {name} ({theirs})")
    assert not offenders, "imports against the layer order:\n" + "\n".join(offenders)


def test_the_api_imports_the_engine_only_when_called():
    tree = ast.parse(IN_PROCESS.read_text(encoding="utf-8"))
    top = {n for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))
           for n in ([a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""])}
    assert not {n for n in top if n == "torch" or n.startswith(("torch.", "verify_compile.engine"))}, top


def test_test_files_have_unique_names():
    # pytest's default import mode keys test modules by basename: two files of one name stop the whole collection.
    names = [path.name for path in (REPO / "tests").rglob("test_*.py")]
    assert sorted({n for n in names if names.count(n) > 1}) == []
