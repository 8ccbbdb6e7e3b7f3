"""Helpers the tests share (a plain module: pytest advises against importing from conftest.py). Fixtures live in
conftest.py."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Iterable, Optional
from unittest import mock

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"


def _shared() -> Optional[Path]:
    """The read-only shared folder: $SHARED_DIR, else `shared/` beside the checkout; None when neither exists."""
    for candidate in (os.environ.get("SHARED_DIR"), REPO.parent / "shared"):
        if candidate and (Path(candidate) / "schemas").is_dir():
            return Path(candidate)
    return None


SHARED = _shared()
SHARED_MISSING = ("the shared folder is missing: set SHARED_DIR to it, or keep it as 'shared/' beside the "
                  f"checkout ({REPO.parent / 'shared'})")
JUNIT_XSD = SHARED / "schemas" / "junit-10.xsd" if SHARED else None


def load_fixture(name: str):
    """A module of tests/fixtures as the tests' own process imports it (the CLI's workers load them by path)."""
    spec = importlib.util.spec_from_file_location(f"fixture_{name}", FIXTURES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_cli(*args: str, cwd: Path | str | None = None, timeout: float = 600,
            env: dict | None = None) -> subprocess.CompletedProcess:
    """`verify-compile ARGS` as a user would run it (a fresh process; the package is imported as installed)."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO / "entrypoint"), **(env or {})}
    return subprocess.run([sys.executable, "-m", "verify_compile", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=full_env)


DEFAULT_FIXTURES = ("models.py", "backends.py")


class ConfigDir:
    """A folder to run configs in, the one set-up of the tests that do: copies of fixture files (tests/fixtures),
    the files and configs a test writes, and the CLI run with the folder as its working directory. conftest.py's
    `config_dir` (a test's tmp_path) and `module_config_dir` (for module-scoped fixtures) make them."""

    def __init__(self, path: Path, fixtures: Iterable[str] = DEFAULT_FIXTURES) -> None:
        self.path = path
        for name in fixtures:
            self.add(name)

    def add(self, name: str, content: str | Path | None = None) -> Path:
        """NAME in the folder: `content` written (text), copied (a Path), or the fixture file of that name."""
        path = self.path / name
        if isinstance(content, str):
            return write(path, content)
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(FIXTURES / name if content is None else content, path)
        return path

    def __call__(self, text: str, name: str | bytes = "cfg.yaml") -> Path:
        """Write a config; its path. A bytes name is given to the OS as it is (it need not be UTF-8)."""
        return self.add(os.fsdecode(name), text)

    def run(self, *args: str, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
        """`verify-compile ARGS` in the folder (`run_cli`)."""
        return run_cli(*args, cwd=self.path, timeout=timeout, env=env)


def refused(*argv: str, cwd: Path) -> tuple[int, str]:
    """`verify-compile ARGV` in this process, with `cwd` as its working directory, for a request that must be
    refused before anything runs: (its exit code, its stderr). A request that gets as far as starting workers
    fails the test instead of running; an exception out of the CLI is the traceback a user would see."""
    from verify_compile import app, cli

    def no_session(*_: object) -> None:
        raise AssertionError(f"verify-compile {' '.join(argv)} got past its checks and started a run")

    err, before = io.StringIO(), os.getcwd()
    os.chdir(cwd)
    try:
        with mock.patch.object(app, "_session", no_session), redirect_stderr(err), redirect_stdout(io.StringIO()):
            code = cli.main(list(argv))
    finally:
        os.chdir(before)
    return code, err.getvalue()


def flat(record: dict) -> dict:
    """One result of a results file as one mapping, for assertions: the observation's facts (`observed` and
    `observed_message` for its outcome and message), the verdict's outcome, message and details, and the
    expectation under `expectation`."""
    observation, verdict = record["observation"], record["verdict"]
    out = {**observation, "observed": observation["outcome"], "observed_message": observation["message"],
           "expectation": record["expectation"], **verdict}
    out["details"] = observation["details"] if verdict["details"] is None else verdict["details"]
    return out


def results_of(json_path: Path | str) -> list:
    """The results of a results file, each `flat`, in the file's order."""
    return [flat(r) for r in json.loads(Path(json_path).read_text())["results"]]


def results_by_id(json_path: Path | str) -> dict:
    return {r["case_id"]: r for r in results_of(json_path)}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def judged(outcome: str = "pass", message: str = "", fail_on: tuple = ("mismatch", "error", "xpass", "gate"),
           expectation: object = None, baseline: dict | None = None, **fields: object) -> object:
    """A judged CaseResult of case `m[b]` whose observation has `outcome`, `message` and `fields`, against
    `baseline` entries when given."""
    from verify_compile.judgement.baseline import Baseline
    from verify_compile.judgement.judge import judge_case
    from verify_compile.results import Observation
    from verify_compile.spec import Expectation

    base = {"case_id": "m[b]", "index": 0, "model": "m", "backend": "b", "config": "c.yaml", "line": 3}
    observation = Observation(**{**base, **fields}, outcome=outcome, message=message)
    return judge_case(observation, expectation or Expectation(), Baseline(baseline) if baseline is not None else None,
                      fail_on)


# --- the GitHub runner's side of the action: its environment, its log's workflow commands, its output file -------

def run_action(workspace: Path, inputs: dict, timeout: float = 300, cmd: list | None = None,
               env_extra: dict | None = None) -> subprocess.CompletedProcess:
    """`verify-compile action` with the environment a runner gives a step, nothing inherited from this one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INPUT_", "GITHUB_", "RUNNER_", "VC_"))}
    env.update(PYTHONPATH=str(REPO / "entrypoint"), GITHUB_ACTIONS="true", CI="true",
               GITHUB_WORKSPACE=str(workspace), GITHUB_OUTPUT=str(workspace.parent / "output"),
               GITHUB_STEP_SUMMARY=str(workspace.parent / "summary.md"), RUNNER_TEMP=str(workspace.parent))
    for path in ("output", "summary.md"):
        (workspace.parent / path).write_text("")  # the runner creates both files before the step starts
    env.update({f"INPUT_{name.upper().replace(' ', '_')}": value for name, value in inputs.items()})
    env.update(env_extra or {})
    cmd = cmd or [sys.executable, "-m", "verify_compile", "action"]  # this checkout's code, installed or not
    # stderr into stdout, as the runner shows them: one log, so fences must hold across both streams
    return subprocess.run(cmd, cwd=workspace, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=timeout)


def live_commands(log: str) -> list:
    """The lines a runner would execute as workflow commands: `::name ...::` after leading blanks, or the legacy
    `##[name ...]` anywhere in a line, except between `::stop-commands::TOKEN` and `::TOKEN::`."""
    live, token = [], None
    for line in log.splitlines():
        if token is not None:
            if line.strip() == f"::{token}::":
                token = None
            continue
        if line.lstrip().startswith("::") or "##[" in line:
            live.append(line.strip())
            if line.lstrip().startswith("::stop-commands::"):
                token = line.strip()[len("::stop-commands::"):]
    assert token is None, "a ::stop-commands:: fence is never closed: every later command would be dead"
    return live


def parse_command(line: str) -> tuple:
    """(name, properties, message) of a `::name k=v,k=v::message` line, unescaped as the runner does."""
    match = re.fullmatch(r"::([\w-]+)(?: ([^:]*))?::(.*)", line)
    assert match, f"not a well-formed workflow command: {line!r}"

    def unescape(text: str) -> str:
        for code, char in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
            text = text.replace(code, char)
        return text

    props = dict(p.split("=", 1) for p in match.group(2).split(",")) if match.group(2) else {}
    return match.group(1), {k: unescape(v) for k, v in props.items()}, unescape(match.group(3))


def read_outputs(path: Path) -> dict:
    """`$GITHUB_OUTPUT` read the runner's way: `name<<DELIM` ... `DELIM` blocks (or `name=value` lines)."""
    outputs, lines = {}, path.read_text().split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line:
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, i + 1)
            outputs[name] = "\n".join(lines[i + 1:end])
            i = end + 1
        else:
            if line:
                name, value = line.split("=", 1)
                outputs[name] = value
            i += 1
    return outputs


# --- headless Chromium (the HTML report's test and the README's screenshots) --------------------------------------

CHROMIUM_APT_LINE = "apt-get install -y --no-install-recommends chromium"
CHROMIUM_MISSING = f"headless Chromium not found: install Debian's chromium package ({CHROMIUM_APT_LINE})"


def find_chromium() -> Optional[str]:
    """Debian's chromium, installed with apt-get when it is missing and this runs as root; None when neither."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run("apt-get update -qq && " + CHROMIUM_APT_LINE, shell=True, env=env, capture_output=True,
                       timeout=600)
        return shutil.which("chromium")
    return None


def browse(chromium: str, profile: Path, page: Path, *flags: str,
           size: tuple = (1400, 1000)) -> subprocess.CompletedProcess:
    """Headless Chromium on a local page with `flags` (`--screenshot=PATH`, `--dump-dom`), in a window of `size`."""
    return subprocess.run(
        # --disable-dev-shm-usage: containers often give /dev/shm 64 MB, too little for a tall page.
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}", *flags, page.as_uri()],
        capture_output=True, text=True, timeout=120)


def read_png(path: Path, pixels: bool = True) -> tuple:
    """(width, height, set of RGB pixels) of an 8-bit RGB/RGBA non-interlaced PNG, CRCs and size checked.
    `pixels=False` skips undoing the row filters (seconds in Python for a large image): an empty set."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, [], None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        assert zlib.crc32(kind + body) == struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0], "bad CRC"
        pos += 12 + n
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    bpp, raw = (3 if colour == 2 else 4), zlib.decompress(b"".join(idat))
    stride = width * bpp
    assert len(raw) == (stride + 1) * height
    prev, found = bytearray(stride), set()
    for y in range(height) if pixels else ():
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride) if kind else ():  # undo the PNG row filter: Sub, Up, Average, Paeth
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], (prev[i - bpp] if i >= bpp else 0)
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            else:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        found.update(bytes(line[i:i + 3]) for i in range(0, stride, bpp))
        prev = line
    return width, height, found


# A sweep over named dims: tests/unit/test_dims_unit.py resolves it, tests/test_dims.py runs it.
SWEEP_MODELS = "def rowsum(x, y):\n    return x.sum(-1) * 2 + y.float().mean()\n"

SWEEP_CONFIG = f"""\
version: 1
defaults:
  dims: {{T: 16}}
models:
  - name: tokens
    function: models.py:rowsum
    device: cpu
    dims: {{B: 4}}
    inputs:
      - args: [{{shape: [B, T]}}, {{shape: [B, T], dist: randint, high: 100}}]
    sweep: {{B: [1, 3], T: [5]}}
    backends: [aot_eager, {FIXTURES / "backends.py"}:wrong_for_batch_of_one]
"""


# Hostile strings in messages and output keys: tests/test_hostile.py runs it, tests/unit/test_refusals.py refuses
# report paths that are its inputs (models, backends, the config).
HOSTILE_CONFIG = """version: 1
defaults: {device: cpu, benchmark: false}
models:
  - {name: nasty, function: hostile.py:nasty_message, inputs: [{args: [{shape: [4]}]}], backends: [aot_eager]}
  - {name: keys, function: hostile.py:nasty_keys, inputs: [{args: [{shape: [4]}]}],
     backends: [aot_eager, backends.py:double_output]}
"""
