"""Every example in README.md works as written.

- Workflow blocks (`jobs:`) validate against GitHub's workflow schema (check-jsonschema's vendored copy, offline),
  set `permissions:`, and give the action only inputs it declares.
- Config blocks (`version: 1`) load, and run with the CLI, in a folder holding copies of configs/models.py and
  configs/backends.py (the files they name): every case passes unless the block's `xfail` expects it to fail, and
  then it is an expected failure, not an xpass. Fragments (a block of model keys only, e.g. a `backends:` list)
  run the same way, wrapped into a minimal model entry around configs/models.py's `gated`.
- `verify-compile run|merge` command lines (in sh blocks and inline code) parse with the CLI's own parser, and the
  command-line synopsis lists exactly the parser's options.

The blocks that compile with inductor run together in one CLI run (one worker, one torch import and one warm-up
for all), marked `inductor`: about a minute of compiling and AOTInductor packaging on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
import yaml

from helpers import REPO, results_by_id, run_cli
from verify_compile.config import loader
from verify_compile.config.loader import load_config
from verify_compile.requests import build_parser

README = (REPO / "README.md").read_text(encoding="utf-8")
MODEL_KEYS = set(loader.ENTRY_ONLY_KEYS + loader.MERGED_KEYS + loader.DEFAULTABLE_KEYS)
# A fragment of model keys runs inside this entry (what it leaves out of it): a small real function that exports.
WRAPPER = {"function": "    function: models.py:gated\n",
           "inputs": "    inputs:\n      - args: [{shape: [4, 10]}, {shape: [10]}]\n"}
INDUCTOR_BACKENDS = {"inductor", "aot_inductor"}


@dataclass(frozen=True)
class Block:
    line: int  # README line of the block's first line
    text: str

    @property
    def id(self) -> str:
        return f"L{self.line}"

    @property
    def kind(self) -> str:
        if re.search(r"^jobs:", self.text, re.M):
            return "workflow"
        if re.search(r"^version: 1\b", self.text, re.M):
            return "config"
        data = yaml.safe_load(self.text)
        if isinstance(data, dict) and data and set(data) <= MODEL_KEYS:
            return "fragment"
        return "unknown"

    def config_text(self) -> str:
        """The block as a config file: a config as it is, a fragment inside a minimal model entry."""
        if self.kind == "config":
            return self.text
        keys = set(yaml.safe_load(self.text))
        entry = "".join(text for key, text in WRAPPER.items()
                        if key not in keys and not (key == "function" and "model" in keys))
        return f"version: 1\nmodels:\n  - name: readme_{self.id}\n{entry}{textwrap.indent(self.text, '    ')}"


def blocks(lang: str) -> list:
    """The fenced blocks of README.md in language `lang` ('' for plain fences), with their lines."""
    found, opened = [], None  # opened: (language, first line index) of the block being read
    lines = README.splitlines()
    for i, line in enumerate(lines):
        if opened is None and line.startswith("```"):
            opened = (line[3:].strip(), i + 1)
        elif opened is not None and line == "```":
            if opened[0] == lang:
                found.append(Block(opened[1] + 1, "\n".join(lines[opened[1]:i]) + "\n"))
            opened = None
    return found


YAML_BLOCKS = blocks("yaml")
WORKFLOWS = [b for b in YAML_BLOCKS if b.kind == "workflow"]
CONFIGS = [b for b in YAML_BLOCKS if b.kind in ("config", "fragment")]


def check_jsonschema() -> str:
    path = shutil.which("check-jsonschema")
    if not path:
        pytest.skip("check-jsonschema is not installed (pip install -e '.[test]' provides it)")
    return path


# --- workflows ----------------------------------------------------------------------------------------------------

def test_every_yaml_block_is_a_workflow_a_config_or_a_fragment() -> None:
    assert WORKFLOWS and CONFIGS
    unknown = [b.id for b in YAML_BLOCKS if b.kind == "unknown"]
    assert not unknown, f"README yaml blocks this test cannot check (lines {unknown}): teach it, or make them text"


def test_workflow_blocks_match_the_github_workflows_schema(tmp_path: Path) -> None:
    paths = []
    for block in WORKFLOWS:
        paths.append(tmp_path / f"readme-{block.id}.yml")  # check-jsonschema names the file: the README line
        paths[-1].write_text(block.text)
    proc = subprocess.run([check_jsonschema(), "--builtin-schema", "vendor.github-workflows", *map(str, paths)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("block", WORKFLOWS, ids=[b.id for b in WORKFLOWS])
def test_workflow_blocks_set_permissions(block: Block) -> None:
    assert re.search(r"^permissions:", block.text, re.M), "a README workflow without permissions:"


@pytest.mark.parametrize("block", WORKFLOWS, ids=[b.id for b in WORKFLOWS])
def test_workflow_blocks_give_the_action_only_its_inputs(block: Block) -> None:
    """The schema cannot know the action's inputs: a misspelt one would be ignored by GitHub with a warning."""
    inputs = set(yaml.safe_load((REPO / "action.yml").read_text())["inputs"])
    steps = [s for job in yaml.safe_load(block.text)["jobs"].values() for s in job.get("steps", [])]
    ours = [s for s in steps if s.get("uses", "").startswith("verify-compile/verify-compile-action@")]
    for step in ours:
        given = set(step.get("with", {}))
        assert given <= inputs, f"unknown action inputs {sorted(given - inputs)}"
        assert given & {"config", "merge"}, "the action needs config (or merge)"


# --- configs and fragments ----------------------------------------------------------------------------------------

def _folder(directory: Path, chosen: list) -> list:
    """Copies of the files the README's configs name, and each block as readme-L<line>.yaml; the configs' names."""
    for name in ("models.py", "backends.py"):
        shutil.copy(REPO / "configs" / name, directory / name)
    names = []
    for block in chosen:
        names.append(f"readme-{block.id}.yaml")
        (directory / names[-1]).write_text(block.config_text())
    return names


def _compiles_with_inductor(config: loader.Config) -> bool:
    return any(b.backend in INDUCTOR_BACKENDS for m in config.models for b in m.backends)


def _config_of(block: Block, directory: Path) -> loader.Config:
    (name,) = _folder(directory, [block])
    return load_config(directory / name)


@pytest.mark.parametrize("block", CONFIGS, ids=[b.id for b in CONFIGS])
def test_config_blocks_load(block: Block, tmp_path: Path) -> None:
    config = _config_of(block, tmp_path)  # ConfigErrors names the file (readme-L<line>.yaml) and line
    assert config.models


def _inductor_blocks() -> set:
    """The blocks that compile with inductor (checked with the loader, in a throwaway folder)."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        found = set()
        for block in CONFIGS:
            try:
                if _compiles_with_inductor(_config_of(block, Path(d))):
                    found.add(block.id)
            except loader.ConfigErrors:
                pass  # test_config_blocks_load says why
        return found


INDUCTOR = _inductor_blocks()


@dataclass
class GroupRun:
    dir: Path
    proc: subprocess.CompletedProcess
    results: dict  # case id -> flat result


@pytest.fixture(scope="module")
def group_run(tmp_path_factory: pytest.TempPathFactory) -> Callable[[bool], GroupRun]:
    """`group_run(inductor)`: one CLI run of every config block with (or without) inductor, made once."""
    made: dict = {}

    def get(inductor: bool) -> GroupRun:
        if inductor not in made:
            directory = tmp_path_factory.mktemp("readme-inductor" if inductor else "readme")
            names = _folder(directory, [b for b in CONFIGS if (b.id in INDUCTOR) == inductor])
            proc = run_cli("run", *names, "--json", "results.json", cwd=directory, timeout=900)
            results = results_by_id(directory / "results.json") if (directory / "results.json").is_file() else {}
            made[inductor] = GroupRun(directory, proc, results)
        return made[inductor]
    return get


@pytest.mark.parametrize("block", [pytest.param(b, marks=[pytest.mark.inductor] if b.id in INDUCTOR else [],
                                                id=b.id) for b in CONFIGS])
def test_config_blocks_run_as_written(block: Block, group_run: Callable[[bool], GroupRun]) -> None:
    run = group_run(block.id in INDUCTOR)
    log = run.proc.stdout[-6000:] + run.proc.stderr[-6000:]
    config = load_config(run.dir / f"readme-{block.id}.yaml")
    # What the README says or implies: a pass, or the expected failure its xfail names (never an xpass).
    expected = {f"{m.name}[{b.id}]": "xfail" if m.xfail_for(b.id) else "pass"
                for m in config.models for b in m.backends}
    got = {cid: r["outcome"] for cid, r in run.results.items() if Path(r["config"]).name == Path(config.path).name}
    assert got == expected, log
    assert run.proc.returncode == 0, log
    for cid, outcome in expected.items():
        if outcome == "xfail":
            assert run.results[cid]["observed"] in ("mismatch", "error"), cid  # an honest failure, expected


# --- command lines ------------------------------------------------------------------------------------------------

IMAGE_OR_COMMAND = re.compile(r"^(verify-compile(:[\w.-]+)?|ghcr\.io/verify-compile/verify-compile-action:\S+)$")


def _commands() -> list:
    """(where, arguments after `verify-compile`) of every `verify-compile run|merge` in sh blocks (also as a
    docker image's command) and inline code."""
    found = []
    for block in blocks("sh"):
        text = block.text.replace("\\\n", " ")
        for n, line in enumerate(text.splitlines()):
            for command in re.split(r"&&|\|\||;|\|", line):
                found += [(f"L{block.line + n}", args) for args in _after_program(shlex.split(command, comments=True))]
    for span in re.findall(r"`(verify-compile (?:run|merge) [^`]*)`", README):
        found.append((span, shlex.split(span)[1:]))
    return found


def _after_program(words: list) -> list:
    return [words[i + 1:] for i, w in enumerate(words[:-1])
            if IMAGE_OR_COMMAND.match(w) and words[i + 1] in ("run", "merge")]


COMMANDS = _commands()


def test_the_readme_shows_verify_compile_commands() -> None:
    assert len(COMMANDS) >= 5


@pytest.mark.parametrize("where,args", COMMANDS, ids=[w[:60] for w, _ in COMMANDS])
def test_readme_commands_parse(where: str, args: list) -> None:
    try:
        build_parser().parse_args(args)  # abbreviations are refused, so every option name must be whole
    except SystemExit as e:
        pytest.fail(f"{where}: `verify-compile {' '.join(args)}` does not parse (exit {e.code})")


def _parser_options(command: str) -> set:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {o for a in sub.choices[command]._actions if a.help != argparse.SUPPRESS for o in a.option_strings
            if o not in ("-h", "--help")}


def test_the_synopsis_lists_exactly_the_parsers_options() -> None:
    section = README[README.index("## Command line"):]
    synopsis = next(b for b in blocks("") if b.text.startswith("verify-compile run") and b.text in section).text
    run, merge = synopsis.split("verify-compile merge")
    assert set(re.findall(r"--[a-z][a-z-]*", run)) == _parser_options("run")
    assert set(re.findall(r"--[a-z][a-z-]*", merge)) == _parser_options("merge")
