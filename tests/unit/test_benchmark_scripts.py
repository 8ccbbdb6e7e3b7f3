"""The benchmark scripts read the results the current CLI writes (they broke once, silently, when the JSON format
changed). Fast tier: their readers on a recorded run; the benchmarks themselves are run by hand."""

from __future__ import annotations

import importlib.util
import json

from helpers import REPO, judged

RECORDED = REPO / "tests" / "consumers" / "results.json"  # a real run of the CLI, every outcome


def _script(name: str):
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_heavy_summarises_every_case_of_a_run():
    records = json.loads(RECORDED.read_text(encoding="utf-8"))["results"]
    summaries = [_script("heavy")._case_summary(r) for r in records]
    assert [s["id"] for s in summaries] == [r["observation"]["case_id"] for r in records]
    assert [s["outcome"] for s in summaries] == [r["verdict"]["outcome"] for r in records]


def test_cache_counts_hits_and_misses_of_a_run():
    from verify_compile.judgement.judge import conclude
    from verify_compile.records import dump_json

    cases = [judged(cache={"hits": 3, "misses": 1}), judged(cache={"misses": 2}), judged(cache={})]
    assert _script("cache").cache_counts(dump_json(conclude(cases, {}, ("mismatch",)))) == (3, 3)
