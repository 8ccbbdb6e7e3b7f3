"""Configuration as pure functions: YAML line tracking, validators, case expansion and shard balancing.
Fast tier: no torch, no worker."""

from __future__ import annotations

import pytest

from helpers import write
from verify_compile.config.loader import load_config
from verify_compile.config.yamlload import LocDict, loads_yaml
from verify_compile.errors import ConfigError, ConfigErrors
from verify_compile.orchestration.cases import cost, expand, parse_shard, select, shard
from verify_compile.spec import BackendSpec, Case, ModelSpec


def test_yaml_keeps_the_line_of_every_key_and_item():
    data = loads_yaml("version: 1\nmodels:\n  - name: a\n    model: m.py:A\n  - name: b\n", "c.yaml")
    assert isinstance(data, LocDict) and data.line_of("models") == 2
    assert [m.line for m in data["models"]] == [3, 5]
    assert data["models"][0].line_of("model") == 4


def test_yaml_syntax_errors_name_the_line():
    with pytest.raises(ConfigError) as e:
        loads_yaml("version: 1\nmodels: [\n  - a: b\n", "c.yaml")
    assert e.value.file == "c.yaml" and e.value.line is not None and "YAML syntax error" in e.value.message


def test_yaml_never_builds_python_objects():
    with pytest.raises(ConfigError):
        loads_yaml("x: !!python/object/apply:os.system ['true']\n", "c.yaml")


@pytest.mark.parametrize("value", ["!!timestamp soon", "!!bool maybe", "!!int 0x"])
def test_a_tagged_scalar_that_cannot_be_read_is_a_located_error(value):
    with pytest.raises(ConfigError) as e:
        loads_yaml(f"version: 1\nx: {value}\n", "c.yaml")
    assert e.value.line == 2 and "cannot read the value" in e.value.message, str(e.value)


def _config(tmp_path, body: str) -> object:
    write(tmp_path / "models.py", "def f(x):\n    return x\n")
    return load_config(write(tmp_path / "c.yaml", "version: 1\nmodels:\n" + body))


def test_a_good_entry_gets_its_defaults(tmp_path):
    config = _config(tmp_path, "  - name: f\n    function: models.py:f\n    inputs: [{args: [{shape: [2]}]}]\n")
    model = config.models[0]
    assert (model.name, model.line, model.dtype, model.device) == ("f", 3, "float32", "auto")
    assert [b.id for b in model.backends] == ["inductor"]


@pytest.mark.parametrize("body, line, words", [
    ("  - name: f\n    function: models.py:f\n    dtyp: float32\n", 5, "unknown key 'dtyp'"),
    ("  - name: f\n    function: models.py:f\n    timeout: -1\n", 5, "timeout"),
    ("  - name: f\n    function: models.py:f\n    timeout: .inf\n", 5, "'timeout' must be a finite number"),
    ("  - name: f\n    function: models.py:f\n    min_speedup: 1e999\n", 5, "'min_speedup' must be a finite"),
    ("  - name: f\n    function: missing.py:f\n", 4, "missing.py"),
    ("  - name: f\n    function: models.py:f\n    backends: []\n", 5, "'backends' is empty"),
])
def test_validators_name_line_and_problem(tmp_path, body, line, words):
    with pytest.raises(ConfigErrors) as e:
        _config(tmp_path, body)
    error = e.value.errors[0]
    assert error.line == line and words in error.message, str(error)


def _cases(n_models: int, train_every: int = 0) -> list:
    models = [ModelSpec(name=f"m{i}", kind="function", target="x.py:f", config_file="c.yaml", base_dir=".",
                        line=i + 3, train=bool(train_every and i % train_every == 0),
                        backends=(BackendSpec(id="inductor", backend="inductor"),
                                  BackendSpec(id="aot_eager", backend="aot_eager")))
              for i in range(n_models)]
    from verify_compile.spec import Config

    return expand([Config(path="c.yaml", models=tuple(models))])


def test_shards_cover_every_case_once_and_balance_the_cost():
    cases = _cases(7, train_every=3)
    parts = [shard(cases, i, 3) for i in (1, 2, 3)]
    assert sorted(c.index for p in parts for c in p) == list(range(len(cases)))
    loads = [sum(cost(c) for c in p) for p in parts]
    assert max(loads) - min(loads) <= max(cost(c) for c in cases)
    assert parts == [shard(cases, i, 3) for i in (1, 2, 3)]  # deterministic


def test_more_shards_than_cases_leaves_some_empty():
    cases = _cases(1)
    assert sum(len(shard(cases, i, 5)) for i in range(1, 6)) == 2


@pytest.mark.parametrize("text", ["0/2", "3/2", "x", "1/0", "1-2"])
def test_bad_shards(text):
    with pytest.raises(ConfigError):
        parse_shard(text)


def test_select_matches_ids_and_names_with_literal_brackets():
    cases = _cases(3)
    assert [c.id for c in select(cases, ["m1[aot_eager]"])] == ["m1[aot_eager]"]
    assert len(select(cases, ["m?"])) == 6 and len(select(cases, ["*[inductor]"])) == 3


def test_duplicate_model_names_across_configs_are_config_errors():
    from verify_compile.spec import Config

    model = ModelSpec(name="a", kind="function", target="x.py:f", config_file="c.yaml", base_dir=".", line=3)
    with pytest.raises(ConfigErrors):
        expand([Config(path="c.yaml", models=(model,)), Config(path="d.yaml", models=(model,))])
    assert isinstance(Case(index=0, model=model, backend=BackendSpec(id="b", backend="b")).id, str)


@pytest.mark.parametrize("header", ['{"format": "verify-compile-journal/2", "configs": 5}',
                                    '{"format": "verify-compile-journal/2", "configs": [[1]]}', "[1]", "7"])
def test_a_journal_with_a_damaged_header_is_refused_not_a_traceback(header):
    from verify_compile.orchestration.journal import parse_journal

    with pytest.raises(ValueError, match="j.jsonl:1: not a verify-compile journal"):
        parse_journal(header + "\n", "j.jsonl", ["/c.yaml"])
