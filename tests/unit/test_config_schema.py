"""configs/verify-compile.schema.json (what editors validate and complete configs with) stays in step with the
checker: every config on disk that the checker accepts validates, a config using every key validates, and each
config of a corpus that the checker rejects for a wrong key, type or enum fails the schema too. Fast tier."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import REPO, write
from verify_compile import spec
from verify_compile.config import argspecs, dims, loader
from verify_compile.config.yamlload import load_yaml
from verify_compile.errors import ConfigErrors

jsonschema = pytest.importorskip("jsonschema")

SCHEMA_PATH = REPO / "configs" / "verify-compile.schema.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
DEFS = SCHEMA["$defs"]

MODELS = "def f(x, *rest, **kw):\n    return x * 2\n\n\nclass M:\n    pass\n"
BACKENDS = "def mine(gm, example_inputs):\n    return gm.forward\n"

EVERY_KEY = """\
version: 1
cache_dir: .cache/vc
x-common: &common
  device: cpu
  train: false
defaults:
  device: auto
  dtype: float32
  backends: [inductor]
  timeout: 600
  train: false
  tolerance: {atol: 1e-5, rtol: 1.3e-6}
  seed: 0
  xfail: {"*": "known", inductor: {reason: "#1", outcome: [mismatch, error]}}
  redraw: true
  benchmark: true
  bisect: false
  max_graph_breaks: null
  max_recompiles: 2
  min_speedup: null
  dynamo_config: {allow_rnn: true}
models:
  - name: seq.v-1_a
    model: models.py:M
    init: {args: [], kwargs: {}}
    backends: aot_eager
  - <<: *common
    name: toy
    function: models.py:f
    dtype: bfloat16
    inputs:
      - args: [{shape: [10]}, {shape: [2, 0], dtype: int64, dist: randint, low: -3, high: 3}]
      - args: [{shape: [3], dist: full, value: 2.5}, {shape: [3], dist: rand, low: 0.5, high: 1,
                requires_grad: true}, [{shape: [1]}, 4, "text", null, true], {a: {shape: [2], dist: ones}}]
        kwargs: {w: {file: w.pt, key: weight}, n: 3, k: {file: w.pt, key: 0}}
    backends:
      - inductor
      - backends.py:mine
      - {backend: inductor, mode: max-autotune-no-cudagraphs, dynamic: true, fullgraph: false, id: inductor-tuned}
      - {backend: inductor, options: {max_autotune: true}, id: inductor-options}
      - {backend: aot_eager, dynamic: null}
      - export
      - {backend: aot_inductor, options: {max_autotune: true}, id: aoti-tuned}
    xfail: {inductor: "pytorch/pytorch#12345"}
    timeout: 30.5
    seed: 7
    min_speedup: 1.1
    max_graph_breaks: 0
"""

BASE = "version: 1\nmodels:\n  - name: m\n    function: models.py:f\n"
# (config text, what is wrong): the checker rejects each, and so must the schema.
BAD = [
    ("version: 1\nmodel:\n  - name: m\n    function: models.py:f\n", "unknown top-level key"),
    ("version: 2\nmodels:\n  - name: m\n    function: models.py:f\n", "unsupported version"),
    ("models:\n  - name: m\n    function: models.py:f\n", "no version"),
    ("version: 1\nmodels: []\n", "empty models"),
    ("version: 1\ncache_dir: 5\nmodels:\n  - name: m\n    function: models.py:f\n", "cache_dir not a string"),
    ("version: 1\ndefaults: [cpu]\nmodels:\n  - name: m\n    function: models.py:f\n", "defaults not a mapping"),
    ("version: 1\ndefaults: {devise: cpu}\nmodels:\n  - name: m\n    function: models.py:f\n", "defaults typo"),
    ("version: 1\ndefaults: {name: x}\nmodels:\n  - name: m\n    function: models.py:f\n", "name as a default"),
    (BASE + "    backend: [eager]\n", "misspelt model key"),
    ("version: 1\nmodels:\n  - function: models.py:f\n", "no name"),
    ("version: 1\nmodels:\n  - name: a b\n    function: models.py:f\n", "name with a space"),
    ("version: 1\nmodels:\n  - name: 3\n    function: models.py:f\n", "name not a string"),
    ("version: 1\nmodels:\n  - name: m\n", "neither model nor function"),
    (BASE + "    model: models.py:M\n", "both model and function"),
    (BASE + "    init: {args: []}\n", "init on a function"),
    (BASE + "    function2: x\n", "unknown key"),
    ("version: 1\nmodels:\n  - name: m\n    function: f\n", "target without a colon"),
    (BASE + "    device: gpu\n", "device enum"),
    (BASE + "    device: cuda:x\n", "device pattern"),
    (BASE + "    dtype: float8\n", "dtype enum"),
    (BASE + "    dtype: int64\n", "integer model dtype"),
    (BASE + "    timeout: '10'\n", "timeout a string"),
    (BASE + "    timeout: 0\n", "timeout zero"),
    (BASE + "    train: yes please\n", "train not a bool"),
    (BASE + "    seed: -1\n", "negative seed"),
    (BASE + "    seed: 1.5\n", "fractional seed"),
    (BASE + "    seed: true\n", "bool seed"),
    (BASE + "    redraw: 1\n", "redraw an int"),
    (BASE + "    benchmark: 'no'\n", "benchmark a string"),
    (BASE + "    bisect: null\n", "bisect null"),
    (BASE + "    max_graph_breaks: -1\n", "negative max_graph_breaks"),
    (BASE + "    max_recompiles: 1.5\n", "fractional max_recompiles"),
    (BASE + "    min_speedup: fast\n", "min_speedup a string"),
    (BASE + "    dynamo_config: [allow_rnn]\n", "dynamo_config a list"),
    (BASE + "    tolerance: 1e-5\n", "tolerance a number"),
    (BASE + "    tolerance: {atol: 1e-5, tol: 1}\n", "tolerance key"),
    (BASE + "    tolerance: {atol: -1}\n", "negative atol"),
    (BASE + "    xfail: [inductor]\n", "xfail a list"),
    (BASE + "    xfail: {'*': 12}\n", "xfail reason a number"),
    (BASE + "    xfail: {'*': {outcome: mismatch}}\n", "xfail without a reason"),
    (BASE + "    backends: [{backend: aot_eager, mode: max-autotune}]\n", "mode on aot_eager"),
    (BASE + "    backends: [{backend: eager, options: {max_autotune: true}}]\n", "options on eager"),
    (BASE + "    backends: [{backend: inductor, mode: max-autotune, options: {max_autotune: true}}]\n",
     "mode and options together"),
    (BASE + "    xfail: {'*': {reason: r, outcome: crash}}\n", "xfail outcome unknown"),
    (BASE + "    xfail: {'*': {reason: r, outcome: []}}\n", "xfail outcome empty"),
    (BASE + "    xfail: {'*': {reason: r, outcomes: error}}\n", "xfail key typo"),
    (BASE + "    backends: 3\n", "backends a number"),
    (BASE + "    backends: []\n", "no backends"),
    (BASE + "    backends: [{mode: default}]\n", "backend mapping without backend"),
    (BASE + "    backends: [{backend: inductor, modes: default}]\n", "backend key typo"),
    (BASE + "    backends: [{backend: inductor, dynamic: 'yes'}]\n", "dynamic a string"),
    (BASE + "    backends: [{backend: inductor, fullgraph: null}]\n", "fullgraph null"),
    (BASE + "    backends: [{backend: inductor, options: [a]}]\n", "options a list"),
    (BASE + "    backends: [{backend: inductor, id: a b}]\n", "id with a space"),
    (BASE + "    backends: [{backend: 5}]\n", "backend a number"),
    (BASE + "    backends: [{backend: export, mode: default}]\n", "mode on export"),
    (BASE + "    backends: [{backend: aot_inductor, dynamic: true}]\n", "dynamic on aot_inductor"),
    (BASE + "    backends: [{backend: aot_inductor, fullgraph: false}]\n", "fullgraph on aot_inductor"),
    (BASE + "    backends: [{backend: export, options: {max_autotune: true}}]\n", "options on export"),
    (BASE + "    inputs: []\n", "empty inputs"),
    (BASE + "    inputs: {args: []}\n", "inputs a mapping"),
    (BASE + "    inputs:\n      - [1]\n", "input set a list"),
    (BASE + "    inputs:\n      - {args: [], kwarg: {}}\n", "input set key typo"),
    (BASE + "    inputs:\n      - {args: {a: 1}}\n", "args a mapping"),
    (BASE + "    inputs:\n      - {kwargs: [1]}\n", "kwargs a list"),
    (BASE + "    inputs:\n      - args: [{shape: 4}]\n", "shape not a list"),
    (BASE + "    inputs:\n      - args: [{shape: [-1]}]\n", "negative size"),
    (BASE + "    inputs:\n      - args: [{shape: [2.5]}]\n", "fractional size"),
    (BASE + "    inputs:\n      - args: [{shape: [2], dist: gaussian}]\n", "dist enum"),
    (BASE + "    inputs:\n      - args: [{shape: [2], dtype: float8}]\n", "tensor dtype enum"),
    (BASE + "    inputs:\n      - args: [{shape: [2], sizes: 3}]\n", "tensor spec key typo"),
    (BASE + "    inputs:\n      - args: [{shape: [2], low: a}]\n", "low a string"),
    (BASE + "    inputs:\n      - args: [{shape: [2], dist: full}]\n", "full without value"),
    (BASE + "    inputs:\n      - args: [{shape: [2], value: 1}]\n", "value without full"),
    (BASE + "    inputs:\n      - args: [{shape: [2], dist: ones, high: 2}]\n", "high with ones"),
    (BASE + "    inputs:\n      - args: [{shape: [2], requires_grad: 1}]\n", "requires_grad an int"),
    (BASE + "    inputs:\n      - args: [{shape: [2], dtype: int32, requires_grad: true}]\n", "integer grad"),
    (BASE + "    inputs:\n      - args: [{file: w.pt, name: x}]\n", "file key typo"),
    (BASE + "    inputs:\n      - args: [{file: 3}]\n", "file not a path"),
    (BASE + "    dims: [B]\n", "dims a list"),
    (BASE + "    dims: {B: 0}\n", "dim size zero"),
    (BASE + "    dims: {B: two}\n", "dim size a string"),
    (BASE + "    dims: {2B: 2}\n", "dim name not an identifier"),
    (BASE + "    dims: {B: 2}\n    sweep: {B: []}\n", "empty sweep"),
    (BASE + "    dims: {B: 2}\n    sweep: {B: [0]}\n", "sweep size zero"),
    (BASE + "    dims: {B: 2}\n    sweep: {B: 4}\n", "sweep not a list"),
    ("version: 1\ndefaults: {sweep: {B: [1]}}\nmodels:\n  - name: m\n    function: models.py:f\n",
     "sweep as a default"),
    (BASE + "    dims: {B: 2}\n    inputs:\n      - args: []\n        dims: {B: -1}\n", "negative set dim"),
]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write(tmp_path / "models.py", MODELS)
    write(tmp_path / "backends.py", BACKENDS)
    (tmp_path / "w.pt").write_bytes(b"")  # the checker only needs the file to exist
    return tmp_path


def checker_accepts(path: Path) -> bool:
    try:
        loader.load_config(path)
    except ConfigErrors:
        return False
    return True


def schema_errors(path: Path) -> list:
    """Validate what the checker itself reads (its YAML loader: merges resolved, `1e-5` a float)."""
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in VALIDATOR.iter_errors(load_yaml(path))]


def test_the_schema_is_a_valid_draft_2020_12_schema():
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_every_config_in_the_repository_that_the_checker_accepts_validates():
    paths = sorted({*REPO.glob("configs/**/*.y*ml"), *REPO.glob("tests/**/*.y*ml")})
    accepted = [p for p in paths if checker_accepts(p)]
    expected = {REPO / "configs" / "example.yaml", REPO / "configs" / "deploy.yaml",
                REPO / "tests" / "fixtures" / "verdicts.yaml"}
    assert expected <= set(accepted)
    for path in accepted:
        assert schema_errors(path) == [], path


@pytest.mark.parametrize("name", ["example.yaml", "deploy.yaml"])
def test_the_example_configs_name_the_schema_for_editors(name):
    first = (REPO / "configs" / name).read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=./verify-compile.schema.json"


def test_a_config_with_every_key_validates(folder):
    path = write(folder / "every.yaml", EVERY_KEY)
    assert checker_accepts(path), loader.load_config(path)
    assert schema_errors(path) == []


def test_named_dims_and_sweeps_validate(folder):
    """`dims` (also as a default and per input set), `sweep` and dim names in shapes."""
    path = write(folder / "dims.yaml", "version: 1\ndefaults:\n  dims: {B: 2}\n" + BASE.split("\n", 1)[1]
                 + "    dims: {B: 8, T: 16}\n    sweep: {B: [1, 8, 32]}\n"
                 "    inputs:\n      - args: [{shape: [B, T, 4]}]\n        dims: {T: 3}\n")
    assert checker_accepts(path), loader.load_config(path)
    assert schema_errors(path) == []


def test_the_base_of_the_bad_corpus_is_good(folder):
    """Each bad config is BASE plus one mistake: BASE itself must pass both, or the corpus proves nothing."""
    path = write(folder / "base.yaml", BASE)
    assert checker_accepts(path) and schema_errors(path) == []


@pytest.mark.parametrize("text,why", BAD, ids=[why for _, why in BAD])
def test_a_config_the_checker_rejects_fails_the_schema(folder, text, why):
    path = write(folder / "bad.yaml", text)
    assert not checker_accepts(path), f"the checker accepts the bad config ({why}): the corpus is out of date"
    assert schema_errors(path), f"the schema accepts a config the checker rejects ({why})"


def test_the_schema_knows_the_keys_and_enums_of_the_checker():
    model = DEFS["model"]["properties"]
    assert set(model) == set(loader.ENTRY_ONLY_KEYS + loader.MERGED_KEYS + loader.DEFAULTABLE_KEYS)
    assert set(SCHEMA["properties"]["defaults"]["properties"]) == set(loader.MERGED_KEYS + loader.DEFAULTABLE_KEYS)
    assert set(SCHEMA["properties"]) == set(loader.TOP_KEYS)
    assert set(DEFS["backend"]["anyOf"][1]["properties"]) == set(loader.BACKEND_KEYS)
    assert set(DEFS["tensor"]["properties"]) == set(argspecs.TENSOR_KEYS)
    assert set(DEFS["file"]["properties"]) == set(argspecs.FILE_KEYS)
    assert set(DEFS["input_set"]["properties"]) == set(argspecs.INPUT_SET_KEYS)
    assert DEFS["dims"]["propertyNames"]["pattern"] == dims.DIM_NAME_RE.pattern
    assert model["dtype"]["enum"] == list(spec.DTYPES)
    assert DEFS["tensor"]["properties"]["dtype"]["enum"] == list(spec.TENSOR_DTYPES)
    assert DEFS["tensor"]["properties"]["dist"]["enum"] == list(spec.DISTS)
    assert set(spec.SHIPPING_BACKENDS) <= set(DEFS["backend_name"]["anyOf"][0]["enum"])
    described = [k for k, v in model.items() if "description" not in v and "$ref" not in v]
    assert described == [], "every key carries a description for the editor's hover"
