"""A case pays for the calls its verdict needs: on a pass, one eager call per input set (shared by the model's
backends) and one compiled call per set; eager's second run only when a case fails (or when the compiled side's
outputs changed after a later call), at most once per model; latency from the verification calls when calls are
slow. In-process (run_case), counting the calls each side makes and the copies of the model."""

from __future__ import annotations

import shutil
import weakref
from pathlib import Path
from typing import Callable

import pytest
import torch

from helpers import FIXTURES
from verify_compile import results as R
from verify_compile.config.loader import load_config
from verify_compile.engine import perf, reference, runner
from verify_compile.engine.reference import Reference, ReferenceCache
from verify_compile.engine.torchstate import TorchState, configure_for_verification
from verify_compile.orchestration.cases import expand

SLOW = '''
import time


def sleepy(gm, example_inputs):
    """Correct, and slow: each call takes 0.3 s."""
    def run(*args):
        time.sleep(0.3)
        return gm.forward(*args)
    return run
'''

CONFIG = """
version: 1
defaults: {device: cpu, backends: [aot_eager], benchmark: false}
models:
  - name: mlp                # one random set: the re-drawn one makes two
    model: models.py:MLP
    inputs: [{args: [{shape: [8, 16]}]}]
    backends: [aot_eager, eager, backends.py:stale, relu_accuracy_error_TESTING_ONLY]
  - name: noisy
    function: models.py:noisy
    inputs: [{args: [{shape: [4]}]}]
    backends: [aot_eager, eager]
  - name: one_call           # a single deterministic set: the extra call shows a reused output buffer
    function: models.py:relu_model
    inputs: [{args: [{shape: [6], dist: arange}]}]
    backends: [aot_eager, backends.py:static_output]
  - name: slow
    model: models.py:MLP
    benchmark: true
    inputs: [{args: [{shape: [8, 16]}]}]
    backends: [slow.py:sleepy]
"""


class Counts:
    def __init__(self) -> None:
        self.eager = self.compiled = self.copies = self.loops = 0


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    folder = tmp_path_factory.mktemp("calls")
    for name in ("models.py", "backends.py"):
        shutil.copy(FIXTURES / name, folder / name)
    (folder / "slow.py").write_text(SLOW)
    (folder / "cfg.yaml").write_text(CONFIG)
    counts: dict = {}
    patch = pytest.MonkeyPatch()
    _count_calls(patch, counts)
    configure_for_verification()
    state = TorchState.capture()
    refs, results = ReferenceCache(), {}
    try:
        for case in expand([load_config(str(folder / "cfg.yaml"))]):
            counts[case.model.name] = counts.get(case.model.name) or Counts()
            counts["now"] = counts[case.model.name]
            results[case.id] = runner.run_case(case, refs)
            state.restore()
    finally:
        patch.undo()
    return results, counts


def _count_calls(patch: pytest.MonkeyPatch, counts: dict) -> None:
    def counting(owner: object, attr: str, field: Callable[..., str]) -> None:
        original = getattr(owner, attr)

        def counted(*args: object, **kwargs: object) -> object:
            name = field(*args)
            setattr(counts["now"], name, getattr(counts["now"], name) + 1)
            return original(*args, **kwargs)
        patch.setattr(owner, attr, counted)

    for module in (reference, runner):  # the compiled side's extra call goes through the reference's helper
        counting(module, "call_once", lambda fn, *args: "compiled" if _is_compiled(fn) else "eager")
    counting(Reference, "fresh_module", lambda *args: "copies")
    copy_of = Reference.fresh_module  # the counted one

    def tracked(self: Reference) -> object:  # how many earlier copies are still alive when one more is made
        module = copy_of(self)
        if module is None:  # a plain function: nothing to copy
            return module
        counts["alive"] = counts.get("alive", []) + [sum(w() is not None for w in counts.get("refs", []))]
        counts["refs"] = counts.get("refs", []) + [weakref.ref(module)]
        return module
    patch.setattr(Reference, "fresh_module", tracked)
    counting(perf, "measure", lambda *args: "loops")


def _is_compiled(fn: object) -> bool:
    inner = fn.fn if isinstance(fn, perf.CallTimer) else fn
    return hasattr(inner, "_orig_mod") or hasattr(inner, "_torchdynamo_orig_callable")


def test_a_pass_makes_one_call_per_input_set_on_each_side(run: tuple) -> None:
    results, counts = run
    assert results["mlp[aot_eager]"].outcome == R.PASS and results["mlp[eager]"].outcome == R.PASS
    mlp = counts["mlp"]
    # two backends pass and two fail: eager ran its two sets once up front, once more (the second run) for the
    # failures, and once in float64 (the wrong relu's difference needed arbitration); each compiled object ran
    # the sets up to its first difference (stale: 2, wrong relu: 1)
    assert mlp.eager == 2 + 2 + 2
    assert mlp.compiled == 2 + 2 + 2 + 1
    assert mlp.loops == 0  # benchmark: false


def test_eager_copies_are_one_per_run(run: tuple) -> None:
    _, counts = run
    # the eager run, one compiled copy per backend (4), eager's second run and the float64 one: never a copy
    # per check
    assert counts["mlp"].copies == 1 + 4 + 1 + 1


def test_every_copy_is_freed_when_its_run_ends(run: tuple) -> None:
    _, counts = run
    # a copy is made while at most one other lives (the compiled one, when a failing case reruns eager or
    # arbitrates in float64); the pristine module is the reference's own and no copy
    assert max(counts["alive"]) <= 1
    assert counts["alive"][:2] == [0, 0]  # mlp's eager run is gone before its first compiled copy is made
    assert not any(w() is not None for w in counts["refs"][:-1])


def test_a_failing_comparison_reruns_eager_and_stays_a_mismatch(run: tuple) -> None:
    results, _ = run
    stale, wrong = results["mlp[stale]"], results["mlp[relu_accuracy_error_TESTING_ONLY]"]
    assert stale.outcome == R.MISMATCH and stale.message.startswith("input set 1 re-drawn (second call)")
    assert wrong.outcome == R.MISMATCH and wrong.mismatches[0].where == "output"


def test_flaky_is_found_on_the_failed_comparison_and_reported_as_before(run: tuple) -> None:
    results, counts = run
    for case_id in ("noisy[aot_eager]", "noisy[eager]"):
        r = results[case_id]
        assert r.outcome == R.FLAKY and r.message.startswith("eager disagrees with itself, so no verdict is possible")
        assert r.details.startswith("eager run 1 vs eager run 2: 1 difference(s)")
        assert r.mismatches[0].input_set == 1 and r.phase is None
        assert r.health is None and r.compile_time is None and r.notes == [] and r.perf is None
    assert counts["noisy"].eager == 2 + 2 + 2  # the second run (and float64's) made once for both backends


def test_outputs_kept_needs_eager_only_when_compiled_outputs_change(run: tuple) -> None:
    results, counts = run
    assert results["one_call[aot_eager]"].outcome == R.PASS
    r = results["one_call[static_output]"]
    assert r.outcome == R.MISMATCH and "changed when the compiled object was called again" in r.message
    # one eager call up front; only static_output's changed output needed eager's second run (1 + extra call)
    assert counts["one_call"].eager == 1 + 2
    assert counts["one_call"].compiled == 2 * 2  # each backend: the set and the extra call


def test_slow_calls_take_latency_from_the_verification_calls(run: tuple) -> None:
    results, counts = run
    r = results["slow[sleepy]"]
    assert r.outcome == R.PASS and r.perf is not None and r.perf.compiled_ms >= 300
    assert r.perf.speedup is not None and r.perf.speedup < 1
    assert counts["slow"].loops == 0 and counts["slow"].eager == 2 and counts["slow"].compiled == 2
    assert any(n.startswith("latency from the verification calls: 1 eager and 1 compiled warm call(s) (a pair")
               for n in r.notes), r.notes


def _timings(case_id: str, eager: list, compiled: list, case_seconds: float, tmp_path: Path) -> tuple:
    """runner._measure on a real reference, with the verification calls' timings given (a busy machine makes
    real ones of a tiny model anything from 0.05 to 30 ms)."""
    import time

    from verify_compile.engine.compilers import Compiled
    from verify_compile.results import Observation

    shutil.copy(FIXTURES / "models.py", tmp_path / "models.py")
    (tmp_path / "c.yaml").write_text("version: 1\ndefaults: {device: cpu, backends: [eager]}\nmodels:\n"
                                     "  - name: relu\n    function: models.py:relu_model\n"
                                     "    inputs: [{args: [{shape: [4]}]}]\n")
    (case,) = expand([load_config(str(tmp_path / "c.yaml"))])
    ref = reference.build_reference(case.model, torch.device("cpu"), lambda phase: None)
    ref.eager_timer.seconds, ref.eager_timer.warm = eager, eager[1:]
    timer = perf.CallTimer(ref.fn, torch.device("cpu"))
    timer.seconds, timer.warm = compiled, compiled[1:]
    result = Observation(case_id=case_id, index=0, model="relu", backend="eager", config="c.yaml", line=1,
                         outcome=R.PASS)
    loops: list = []
    patch = pytest.MonkeyPatch()
    patch.setattr(perf, "measure", lambda *a, **k: loops.append(1) or (perf.Perf(1.0, 1.0, 1.0), 5))
    try:
        runner._measure(ref, Compiled(call=ref.fn, module=None, kind="torch.compile"), timer, result,
                        time.perf_counter() - case_seconds)
    finally:
        patch.undo()
    return result, len(loops)


def test_cheap_calls_are_timed_in_the_loop(tmp_path: Path) -> None:
    # a 10 s case: a budget of 1 s, room for 2 warm-ups and 5 repeats of a 2 ms pair
    result, loops = _timings("relu[eager]", [0.01, 0.001], [5.0, 0.001], 10.0, tmp_path)
    assert loops == 1 and result.perf is not None and result.notes == []


def test_slow_calls_are_not_made_again(tmp_path: Path) -> None:
    # a 10 s case: a budget of 1 s cannot hold 7 pairs of 0.5 s; the verification calls' warm timings serve
    result, loops = _timings("relu[eager]", [0.3, 0.2, 0.25], [5.0, 0.1, 0.2], 10.0, tmp_path)
    assert loops == 0 and result.perf.eager_ms == pytest.approx(225) and result.perf.compiled_ms == pytest.approx(150)
    assert result.notes[0].startswith("latency from the verification calls: 2 eager and 2 compiled warm call(s)")


def test_the_latency_loop_stays_within_its_budget() -> None:
    import time

    def sleeper(*args: object) -> None:
        time.sleep(0.02)

    x = (torch.zeros(2),)
    start = time.perf_counter()
    result, repeats = perf.measure(sleeper, sleeper, x, {}, torch.device("cpu"), budget_s=0.3, pair_s=0.04)
    assert time.perf_counter() - start <= 0.3 + 0.05
    assert result is not None and 1 <= repeats < perf.MIN_REPEATS + 2
    assert perf.measure(sleeper, sleeper, x, {}, torch.device("cpu"), budget_s=0.03, pair_s=0.04) == (None, 0)


def test_the_budget_is_a_share_of_the_case() -> None:
    assert perf.latency_budget(100.0) == 2.0 and perf.latency_budget(5.0) == pytest.approx(0.5)
    assert perf.loop_affordable(0.001, 0.5) and not perf.loop_affordable(0.1, 0.5)


def test_a_model_whose_pristine_copy_refuses_deepcopy_is_rebuilt(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(
        "import torch\n"
        "class NoCopy(torch.nn.Linear):\n"
        "    def __init__(self):\n"
        "        super().__init__(4, 4)\n"
        "    def __deepcopy__(self, memo):\n"
        "        raise TypeError('no deepcopy')\n")
    (tmp_path / "c.yaml").write_text("version: 1\ndefaults: {device: cpu, benchmark: false, backends: [aot_eager]}\n"
                                     "models:\n  - name: nocopy\n    model: m.py:NoCopy\n"
                                     "    inputs: [{args: [{shape: [2, 4]}]}]\n")
    state = TorchState.capture()
    try:
        (case,) = expand([load_config(str(tmp_path / "c.yaml"))])
        assert runner.run_case(case, ReferenceCache()).outcome == R.PASS
    finally:
        state.restore()

