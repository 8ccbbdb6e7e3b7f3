"""The README's main job: the example config passes under eager, aot_eager and inductor, and a second run with
--cache-dir (or the config key cache_dir) compiles warm and says so."""

from __future__ import annotations

import json

import pytest

from helpers import REPO, results_by_id, run_cli, write

EXAMPLE = REPO / "configs" / "example.yaml"


@pytest.mark.inductor
def test_example_config_passes_and_a_second_run_hits_the_compile_cache(tmp_path):
    cache = tmp_path / "cache"
    cold = run_cli("run", str(EXAMPLE), "--cache-dir", str(cache), "--json", str(tmp_path / "cold.json"),
                   "--junit", str(tmp_path / "report.xml"), cwd=tmp_path)
    assert cold.returncode == 0, cold.stdout + cold.stderr
    results = results_by_id(tmp_path / "cold.json")
    assert len(results) == 18 and all(r["outcome"] == "pass" for r in results.values())
    assert sum(r["cache"].get("misses", 0) for r in results.values()) > 0
    assert (cache / "inductor").is_dir()

    warm = run_cli("run", str(EXAMPLE), "--cache-dir", str(cache), "--json", str(tmp_path / "warm.json"),
                   "--junit", str(tmp_path / "warm.xml"), "--only", "*[inductor]", cwd=tmp_path)
    assert warm.returncode == 0, warm.stderr
    warm_results = results_by_id(tmp_path / "warm.json")
    assert sum(r["cache"].get("hits", 0) for r in warm_results.values()) > 0
    assert sum(r["cache"].get("misses", 0) for r in warm_results.values()) == 0
    assert "compile cache:" in (tmp_path / "warm.xml").read_text() and "hit(s)" in (tmp_path / "warm.xml").read_text()


def test_cache_dir_config_key_is_relative_to_the_config(tmp_path):
    write(tmp_path / "models.py", "def double(x):\n    return x * 2\n")
    write(tmp_path / "cfg.yaml", "version: 1\ncache_dir: .compile-cache\nmodels:\n  - name: d\n"
          "    function: models.py:double\n    device: cpu\n    inputs: [{args: [{shape: [4]}]}]\n"
          "    backends: [aot_eager]\n")
    proc = run_cli("run", "cfg.yaml", "--json", "out.json", cwd=tmp_path / ".")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "out.json").read_text())["meta"]["cache_dir"] == str(tmp_path / ".compile-cache")
