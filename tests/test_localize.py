"""Localization (`--localize`, `localize: true`): on a mismatch, the smallest submodule that mismatches alone, the
fewest graph ops that still do with their source lines, a minimal.py in the repro bundle, and a workaround that was
re-checked to pass. Real CLI runs, real backends that are wrong in known places, real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from xml.etree import ElementTree

import pytest

from helpers import REPO, results_by_id, run_cli

# Only Gate multiplies tensors, so under mul_to_add (tests/fixtures/backends.py) only Gate is wrong.
NET = """\
import torch


class Squash(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(8, 8)

    def forward(self, x):
        return torch.tanh(self.fc(x))


class Gate(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(8, 8)

    def forward(self, x):
        g = torch.sigmoid(self.proj(x))
        return x * g


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = Squash()
        self.blocks = torch.nn.ModuleList([Squash(), Gate(), Squash()])
        self.head = torch.nn.Linear(8, 4)

    def forward(self, x):
        x = self.embed(x)
        for block in self.blocks:
            x = x + block(x)
        return self.head(x)
"""
GATE_FORWARD, GATE_MUL = 18, 20

FUNCTIONS = """\
import torch


def score(x, w):
    h = x @ w
    a = torch.tanh(h)
    b = torch.sigmoid(a)
    c = b + h * 0.5
    return c.sum(-1), a
"""
SIGMOID_LINE = 7

BROKEN = """\
import time

import torch


def sigmoid_is_wrong(gm, example_inputs):
    \"\"\"One wrong op: sigmoid(x) + 0.01.\"\"\"
    for node in gm.graph.nodes:
        if node.op == "call_function" and node.target is torch.sigmoid:
            with gm.graph.inserting_after(node):
                bumped = gm.graph.call_function(torch.add, (node, 0.01))
            node.replace_all_uses_with(bumped, delete_user_cb=lambda user: user is not bumped)
    gm.recompile()
    return gm.forward


def wrong_when_fused(gm, example_inputs):
    \"\"\"Wrong only for a graph holding both tanh and sigmoid: a bug that needs two modules compiled together.\"\"\"
    targets = {n.target for n in gm.graph.nodes if n.op == "call_function"}
    if torch.tanh in targets and torch.sigmoid in targets:
        return lambda *args: tuple(t + 0.1 for t in gm.forward(*args))
    return gm.forward


COMPILES = []


def hangs_after_first_compile(gm, example_inputs):
    \"\"\"Every output off by one; from its second compile in a process on, it never returns.\"\"\"
    COMPILES.append(1)
    if len(COMPILES) > 1:
        time.sleep(3600)
    return lambda *args: tuple(t + 1 for t in gm.forward(*args))
"""


def _write(folder: Path, config: str) -> Path:
    (folder / "nets.py").write_text(NET)
    (folder / "fns.py").write_text(FUNCTIONS)
    (folder / "broken.py").write_text(BROKEN)
    (folder / "c.yaml").write_text(config)
    return folder / "c.yaml"


def _config(entries: str) -> str:
    return "version: 1\ndefaults: {device: cpu, benchmark: false, timeout: 180}\nmodels:\n" + entries


def _timed(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    start = time.perf_counter()
    proc = run_cli(*args, cwd=cwd)
    print(f"verify-compile {' '.join(args)}: {time.perf_counter() - start:.1f} s")
    return proc


def test_names_the_one_submodule_that_multiplies_and_rechecks_the_workaround(config_dir, tmp_path: Path) -> None:
    config = config_dir(_config("  - {name: net, model: nets.py:Net, train: true, backends: [backends.py:mul_to_add],"
                                " inputs: [{args: [{shape: [4, 8]}]}]}\n"))
    (tmp_path / "nets.py").write_text(NET)
    plain = _timed("run", str(config), "--json", "plain.json", cwd=tmp_path)
    proc = _timed("run", str(config), "--localize", "--repro-dir", "repro", "--json", "out.json", "--junit",
                  "out.xml", "--markdown", "out.md", "--html", "out.html", cwd=tmp_path)
    assert proc.returncode == plain.returncode == 1, proc.stderr
    before, after = results_by_id(tmp_path / "plain.json")["net[mul_to_add]"], \
        results_by_id(tmp_path / "out.json")["net[mul_to_add]"]
    for key in ("outcome", "observed", "message", "mismatches", "failed", "judgement"):  # the verdict is the same
        assert after[key] == before[key], key
    assert before["localization"] is None
    found = after["localization"]
    assert found["finished"] and found["notes"] == []
    [culprit] = found["modules"]  # Gate, and none of its innocent siblings
    assert (culprit["path"], culprit["class"], culprit["forward"]) == ("blocks.1", "Gate", f"nets.py:{GATE_FORWARD}")
    verdicts = {t["path"]: t["reproduces"] for t in found["tested"]}
    assert verdicts == {"embed": False, "head": False, "blocks.0": False, "blocks.1": True, "blocks.2": False,
                        "blocks.1.proj": False}
    assert [(op["op"], op["source"], op["code"]) for op in found["graph"]["ops"]] == [
        ("operator.mul", f"nets.py:{GATE_MUL}", "return x * g")]
    fix = found["workaround"]
    assert fix["verified"] and fix["disabled"] == ["blocks.1"]
    assert f"add `@torch.compiler.disable` to `Gate.forward` (nets.py:{GATE_FORWARD})" in fix["text"]
    summary = found["summary"]
    assert summary.startswith(f"`blocks.1` (Gate, nets.py:{GATE_FORWARD}) mismatches when compiled alone")
    # Every report shows where it starts before what differs.
    failure = ElementTree.parse(tmp_path / "out.xml").getroot().find(".//testcase/failure")
    assert failure is not None and failure.text.index(f"localized: {summary}") < failure.text.index("difference(s)")
    assert f"localized: {summary}" in (tmp_path / "out.md").read_text()
    assert "Localization" in (tmp_path / "out.html").read_text()
    assert f"localized: {summary}"[:150] in proc.stderr
    minimal = Path(found["graph"]["minimal"])
    assert minimal == tmp_path / "repro" / "net_mul_to_add" / "minimal.py"
    replay = subprocess.run([sys.executable, str(minimal)], cwd=tmp_path.parent, capture_output=True, text=True,
                            timeout=120, env={**os.environ, "PYTHONPATH": str(REPO / "entrypoint")})
    assert replay.returncode == 1 and "MISMATCH REPRODUCED" in replay.stdout, replay.stdout + replay.stderr
    assert "grad input[" in replay.stdout  # train: true reduces forward and backward together


def test_names_the_miscompiled_line_of_a_function(tmp_path: Path) -> None:
    config = _write(tmp_path, _config("  - {name: score, function: fns.py:score, localize: true,"
                                      " backends: [broken.py:sigmoid_is_wrong],"
                                      " inputs: [{args: [{shape: [4, 8]}, {shape: [8, 8]}]}]}\n"))
    proc = _timed("run", str(config), "--json", "out.json", "--repro-dir", "repro", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    result = results_by_id(tmp_path / "out.json")["score[sigmoid_is_wrong]"]
    assert result["outcome"] == "mismatch"
    found = result["localization"]
    assert found["finished"] and found["modules"] == []
    graph = found["graph"]
    assert (graph["ops_before"], graph["ops_after"], graph["target"]) == (6, 1, "the function")
    [op] = graph["ops"]
    assert (op["op"], op["source"], op["code"]) == ("torch.sigmoid", f"fns.py:{SIGMOID_LINE}",
                                                    "b = torch.sigmoid(a)")
    assert found["summary"].startswith(f"torch.sigmoid at fns.py:{SIGMOID_LINE}")
    fix = found["workaround"]
    assert fix["verified"] and f"fns.py:{SIGMOID_LINE}" in fix["text"], fix
    replay = subprocess.run([sys.executable, graph["minimal"]], capture_output=True, text=True, timeout=120)
    assert replay.returncode == 1, replay.stdout + replay.stderr


PAIR = """\
import torch


class Pair(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.squash = torch.nn.Tanh()
        self.gate = torch.nn.Sigmoid()

    def forward(self, x):
        return self.gate(self.squash(x))
"""


def test_a_mismatch_that_needs_modules_compiled_together_says_so(tmp_path: Path) -> None:
    config = _write(tmp_path, _config("  - {name: pair, model: pair.py:Pair, localize: true,"
                                      " backends: [broken.py:wrong_when_fused],"
                                      " inputs: [{args: [{shape: [4, 8]}]}]}\n"))
    (tmp_path / "pair.py").write_text(PAIR)
    proc = _timed("run", str(config), "--json", "out.json", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    found = results_by_id(tmp_path / "out.json")["pair[wrong_when_fused]"]["localization"]
    assert found["fused"] and [m["path"] for m in found["modules"]] == [""]
    assert [t["reproduces"] for t in found["tested"]] == [False, False]
    assert found["summary"].startswith("no single submodule mismatches alone: the smallest module that does is the "
                                       "whole model (Pair, pair.py:10)")
    assert {op["op"] for op in found["graph"]["ops"]} == {"torch.tanh", "torch.sigmoid"}
    assert found["workaround"]["verified"] and found["workaround"]["split"] == ["squash", "gate"]


def test_only_a_mismatch_is_localized(config_dir, tmp_path: Path) -> None:
    config = config_dir(_config(
        "  - {name: mlp, model: models.py:MLP, localize: true, backends: [aot_eager, backends.py:prints_and_raises],"
        " inputs: [{args: [{shape: [2, 16]}]}]}\n"
        "  - {name: noisy, function: models.py:noisy, localize: true, backends: [aot_eager],"
        " inputs: [{args: [{shape: [4]}]}]}\n"))
    proc = _timed("run", str(config), "--json", "out.json", "--fail-on", "none", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    results = results_by_id(tmp_path / "out.json")
    assert {k: r["outcome"] for k, r in results.items()} == {
        "mlp[aot_eager]": "pass", "mlp[prints_and_raises]": "error", "noisy[aot_eager]": "flaky"}
    for r in results.values():
        assert r["localization"] is None and not any("locali" in n for n in r["notes"]), r["notes"]


def test_localizing_stays_within_the_case_timeout(tmp_path: Path) -> None:
    """The localizer hangs in its second compile: it is killed when the case's time is up, the case is still a
    mismatch (not a timeout), and what it found before the hang is kept, marked unfinished."""
    config = _write(tmp_path, "version: 1\nmodels:\n  - {name: net, model: nets.py:Net, device: cpu, benchmark: false,"
                              " timeout: 35, localize: true, backends: [broken.py:hangs_after_first_compile],"
                              " inputs: [{args: [{shape: [4, 8]}]}]}\n")
    start = time.perf_counter()
    proc = _timed("run", str(config), "--json", "out.json", cwd=tmp_path)
    assert time.perf_counter() - start < 35 + 20  # the run's own start-up and reports on top of the case
    assert proc.returncode == 1, proc.stderr
    result = results_by_id(tmp_path / "out.json")["net[hangs_after_first_compile]"]
    assert result["outcome"] == "mismatch" and result["phase"] is None, result["message"]
    assert result["duration"] < 35
    found = result["localization"]
    assert found is not None and found["finished"] is False
    assert [t["path"] for t in found["tested"]] == ["embed"]  # the one trial before the hang
    assert any(n.startswith("localization stopped after") for n in result["notes"]), result["notes"]
    assert "localization did not finish" in found["text"]


COUNTER = """\
import torch


class Counter(torch.nn.Module):
    \"\"\"Counts its calls in a Python int, which an exported program freezes when it is exported.\"\"\"

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return x + self.calls


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(8, 8)
        self.count = Counter()
        self.head = torch.nn.Linear(8, 4)

    def forward(self, x):
        return self.head(self.count(torch.tanh(self.fc(x))))
"""


def test_under_export_each_submodule_is_exported_alone(tmp_path: Path) -> None:
    (tmp_path / "counter.py").write_text(COUNTER)
    (tmp_path / "c.yaml").write_text(_config("  - {name: net, model: counter.py:Net, localize: true, backends: "
                                             "[export], inputs: [{args: [{shape: [4, 8]}]}, "
                                             "{args: [{shape: [4, 8]}]}]}\n"))
    proc = _timed("run", "c.yaml", "--json", "out.json", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    result = results_by_id(tmp_path / "out.json")["net[export]"]
    assert result["message"].startswith("input set 2:")
    found = result["localization"]
    assert [m["path"] for m in found["modules"]] == ["count"]
    assert {t["path"]: t["reproduces"] for t in found["tested"]} == {"fc": False, "count": True, "head": False}
    assert found["tested"][1]["on_call"] == 2  # right on its first call, frozen from the second on
    assert found["summary"] == "`count` (Counter, counter.py:11) mismatches when exported alone"
    assert "graph" not in found and "workaround" not in found
    assert any("need torch.compile" in n for n in found["notes"])


RELU_STACK = """\
import torch


class Block(torch.nn.Module):
    def __init__(self, act: torch.nn.Module) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(16, 16)
        self.act = act

    def forward(self, x):
        return x + self.act(self.fc(x))


class Stack(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        acts = [torch.nn.Tanh(), torch.nn.GELU(), torch.nn.ReLU(), torch.nn.Sigmoid()]
        self.blocks = torch.nn.ModuleList([Block(a) for a in acts])
        self.head = torch.nn.Linear(16, 4)

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return self.head(x)
"""


@pytest.mark.inductor
def test_names_the_block_hit_by_inductors_relu_bug_alongside_bisection(tmp_path: Path) -> None:
    (tmp_path / "stack.py").write_text(RELU_STACK)
    (tmp_path / "c.yaml").write_text(
        "version: 1\nmodels:\n  - name: stack\n    model: stack.py:Stack\n    device: cpu\n    benchmark: false\n"
        "    timeout: 500\n    backends:\n"
        "      - {backend: inductor, options: {\"cpp.inject_relu_bug_TESTING_ONLY\": \"accuracy\"}}\n"
        "    inputs:\n      - args: [{shape: [8, 16]}]\n")
    proc = _timed("run", "c.yaml", "--localize", "--bisect", "--json", "out.json", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    result = results_by_id(tmp_path / "out.json")["stack[inductor]"]
    found = result["localization"]
    assert found["finished"], found["notes"]
    [culprit] = found["modules"]  # the ReLU of block 2, and nothing of blocks 0, 1, 3
    assert (culprit["path"], culprit["qualname"], culprit["called_at"]) == ("blocks.2.act", "torch.nn.ReLU",
                                                                            "stack.py:11")
    assert [t["path"] for t in found["tested"] if t["reproduces"]] == ["blocks.2", "blocks.2.act"]
    assert [op["op"] for op in found["graph"]["ops"]] == ["torch.nn.functional.relu"]
    assert found["workaround"]["verified"] and found["workaround"]["disabled"] == ["blocks.2.act"]
    # Bisection still gets its share of the case's time, and still names the same culprit from the compiler's side.
    assert result["bisect"] is not None and result["bisect"]["summary"] == "inductor > lowerings > relu", \
        result["notes"]
