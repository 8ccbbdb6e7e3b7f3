"""A config is hostile input: alias bombs, recursion, deep nesting, huge numbers, raw control bytes and huge
files are each `file:line: what limit was passed` and exit 2, within seconds and in bounded memory."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from helpers import REPO, run_cli, write


def _billion_laughs() -> str:
    """Nine levels of nine aliases under `x-` keys (ignored extension keys): 9**9 strings once expanded."""
    lines = ["version: 1", 'x-a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"x-{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    lines += ["models:", "  - {name: m, function: 'models.py:f', backends: [eager], x: *i}"]
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_refused_in_seconds_and_small_memory(tmp_path):
    text = _billion_laughs()
    assert 400 < len(text) < 600, len(text)  # the size of the file in the report
    write(tmp_path / "bomb.yaml", text)
    # Run the CLI under a tiny Python parent so that getrusage(RUSAGE_CHILDREN) sees only the CLI's memory.
    probe = ("import json, os, resource, subprocess, sys\n"
             "p = subprocess.run([sys.executable, '-m', 'verify_compile', 'run', 'bomb.yaml'], capture_output=True,"
             " text=True)\n"
             "print(json.dumps({'rc': p.returncode, 'stderr': p.stderr,"
             " 'maxrss_kb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))\n")
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(REPO / "entrypoint"), "PATH": "/usr/bin:/bin"})
    elapsed = time.monotonic() - start
    out = json.loads(proc.stdout)
    assert out["rc"] == 2, out["stderr"]
    assert "bomb.yaml:" in out["stderr"], out["stderr"]
    assert "has more than 1000000 YAML nodes once its aliases are expanded" in out["stderr"]
    assert elapsed < 10, elapsed
    assert out["maxrss_kb"] < 300 * 1024, out["maxrss_kb"]  # loosely: far from the 6.6 GB it used to take


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
    write(tmp_path / f"{name}.yaml", text)
    proc = run_cli("run", f"{name}.yaml", cwd=tmp_path, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert f"{name}.yaml:{line}: " in proc.stderr and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_huge_or_non_utf8_file_is_refused_with_its_line(tmp_path):
    (tmp_path / "huge.yaml").write_text("version: 1\n" + "# padding\n" * 500_000)
    proc = run_cli("run", "huge.yaml", cwd=tmp_path, timeout=60)
    assert proc.returncode == 2 and "larger than 4 MiB (the limit for a config)" in proc.stderr, proc.stderr
    assert "huge.yaml:" in proc.stderr
    (tmp_path / "latin.yaml").write_bytes(b"version: 1\nmodels:\n  - name: caf\xe9\n")
    proc = run_cli("run", "latin.yaml", cwd=tmp_path, timeout=60)
    assert proc.returncode == 2 and "latin.yaml:3: not UTF-8: byte 0xe9" in proc.stderr, proc.stderr


def test_aliases_within_the_limits_still_work(tmp_path):
    """The bounds refuse bombs, not ordinary anchors and merge keys."""
    from verify_compile.config.yamlload import loads_yaml

    data = loads_yaml("base: &b {device: cpu, seed: 3}\nm1: {<<: *b, seed: 4}\nlist: &l [1, 2]\nagain: [*l, *l]\n",
                      "ok.yaml")
    assert data["m1"] == {"device": "cpu", "seed": 4} and data["again"] == [[1, 2], [1, 2]]
    assert data.line_of("m1") == 2
