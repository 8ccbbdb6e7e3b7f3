"""A config is hostile input: recursion, deep nesting, huge numbers, raw control bytes, huge or non-UTF-8 files are
each `file:line: what limit was passed`, from `load_config` in-process (the CLI prints them, exit 2). Fast tier;
the alias bomb's time and memory are measured on a real CLI process in tests/test_yaml_bounds.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import write
from verify_compile.config.loader import load_config
from verify_compile.errors import ConfigErrors


def problems_of(path: Path) -> str:
    """What `load_config` finds wrong with the config at `path`, one `file:line: message` a line."""
    with pytest.raises(ConfigErrors) as e:
        load_config(path)
    return "\n".join(map(str, e.value.errors))


@pytest.mark.parametrize("name, text, line, message", [
    ("recursive", "version: 1\nx-a: &a [*a]\nmodels: []\n", 2, "recursive alias '*a'"),
    ("recursive_map", "version: 1\nx-a: &a {b: {c: *a}}\nmodels: []\n", 2, "recursive alias '*a'"),
    ("deep", "version: 1\nx-deep: " + "[" * 200 + "]" * 200 + "\nmodels: []\n", 2, "nesting deeper than 64"),
    ("nul", "version: 1\nmodels:\n  - name: a\x00b\n", 3, "character 0x0000 is not allowed"),
    ("escape", "version: 1\n\x1b[31m: 1\nmodels: []\n", 2, "character 0x001b is not allowed"),
    ("long_int", "version: 1\ndefaults:\n  seed: " + "9" * 5000 + "\nmodels: []\n", 3,
     "a number of 5000 characters; the limit is 64"),
    ("long_float", "version: 1\ndefaults:\n  timeout: 1." + "5" * 400 + "\nmodels: []\n", 3,
     "a number of 402 characters"),
    ("bad_date", "version: 1\nx-when: 2020-02-31\nmodels: []\n", 2, "cannot read the value '2020-02-31'"),
])
def test_hostile_yaml_is_a_located_error(tmp_path, name, text, line, message):
    problems = problems_of(write(tmp_path / f"{name}.yaml", text))
    assert f"{name}.yaml:{line}: " in problems and message in problems, problems


def test_a_huge_or_non_utf8_file_is_refused_with_its_line(tmp_path):
    (tmp_path / "huge.yaml").write_text("version: 1\n" + "# padding\n" * 500_000)
    problems = problems_of(tmp_path / "huge.yaml")
    assert "larger than 4 MiB (the limit for a config)" in problems, problems
    assert "huge.yaml:" in problems
    (tmp_path / "latin.yaml").write_bytes(b"version: 1\nmodels:\n  - name: caf\xe9\n")
    problems = problems_of(tmp_path / "latin.yaml")
    assert "latin.yaml:3: not UTF-8: byte 0xe9" in problems, problems


def test_aliases_within_the_limits_still_work(tmp_path):
    """The bounds refuse bombs, not ordinary anchors and merge keys."""
    from verify_compile.config.yamlload import loads_yaml

    data = loads_yaml("base: &b {device: cpu, seed: 3}\nm1: {<<: *b, seed: 4}\nlist: &l [1, 2]\nagain: [*l, *l]\n",
                      "ok.yaml")
    assert data["m1"] == {"device": "cpu", "seed": 4} and data["again"] == [[1, 2], [1, 2]]
    assert data.line_of("m1") == 2

