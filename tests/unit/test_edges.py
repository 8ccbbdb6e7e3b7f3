"""Edges found by the second hostile round (issue #19): each once passed, crashed or took seconds. Fast tier."""

from __future__ import annotations

import pytest

from verify_compile.config.loader import load_config
from verify_compile.errors import ConfigError, ConfigErrors
from verify_compile.orchestration.cases import parse_shard, shard

CONFIG = """version: 1
models:
  - name: {name}
    function: models.py:f
    seed: {seed}
    inputs: [{{args: [1]}}]
"""


def _errors(tmp_path, name: str = "m", seed: int = 0) -> list:
    (tmp_path / "models.py").write_text("def f(x):\n    return x\n")
    (tmp_path / "c.yaml").write_text(CONFIG.format(name=name, seed=seed))
    try:
        load_config(tmp_path / "c.yaml")
    except ConfigErrors as e:
        return [str(err) for err in e.errors]
    return []


def test_a_name_ending_in_a_newline_is_refused(tmp_path):
    assert any("may only use letters" in e and "c.yaml:3" in e for e in _errors(tmp_path, name='"m\\n"'))
    assert _errors(tmp_path, name="m") == []


def test_a_seed_out_of_range_is_a_config_error(tmp_path):
    assert any("'seed' must be at most 4.29497e+09" in e and "c.yaml:5" in e for e in _errors(tmp_path, seed=2**64))
    assert _errors(tmp_path, seed=2**32 - 1) == []


@pytest.mark.parametrize("text, words", [("1/1000000000", "N must be between 1 and 10000"),
                                         ("1/10**9", "must look like I/N"), ("0/3", "I must be between"),
                                         ("4/3", "I must be between")])
def test_shard_counts_are_bounded(text, words):
    with pytest.raises(ConfigError, match=words):
        parse_shard(text)


def test_more_shards_than_cases_give_each_case_one_shard():
    """100,000 shards once took 31 s (a linear scan of the shards per case); now a heap, and N is bounded."""
    from verify_compile.spec import BackendSpec, Case, ModelSpec

    model = ModelSpec(name="m", kind="function", target="m.py:f", config_file="c.yaml", base_dir=".", line=1)
    cases = [Case(i, model, BackendSpec(id=f"b{i}", backend="eager")) for i in range(2000)]
    parts = [shard(cases, i, 10000) for i in (1, 2000, 2001, 10000)]
    assert [len(p) for p in parts] == [1, 1, 0, 0]


def test_the_resume_fingerprint_covers_the_modules_a_backend_imports(tmp_path):
    """A backend module's helper, edited between runs, kept a stale pass under --resume (issue #19)."""
    from verify_compile.orchestration.journal import case_fingerprint, local_imports
    from verify_compile.spec import BackendSpec, Case, ModelSpec

    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "ops.py").write_text("from . import consts\nSCALE = 2\n")
    (tmp_path / "pkg" / "consts.py").write_text("ONE = 1\n")
    (tmp_path / "helpers.py").write_text("import pkg.ops\nimport os\n")
    (tmp_path / "backends.py").write_text("from helpers import *\n\ndef wrong(gm, inputs):\n    return gm\n")
    (tmp_path / "models.py").write_text("def f(x):\n    return x\n")
    names = {p.rpartition("/")[2] for p in local_imports([str(tmp_path / "backends.py")], str(tmp_path))}
    assert names == {"backends.py", "helpers.py", "__init__.py", "ops.py", "consts.py"}
    model = ModelSpec(name="m", kind="function", target="models.py:f", config_file=str(tmp_path / "c.yaml"),
                      base_dir=str(tmp_path), line=1)
    case = Case(0, model, BackendSpec(id="wrong", backend="backends.py:wrong"))
    before = case_fingerprint(case)
    (tmp_path / "pkg" / "consts.py").write_text("ONE = 2\n")
    assert case_fingerprint(case) != before
