"""The journal: every finished result is appended (one JSON line) the moment it exists, so an interrupted or
killed run loses nothing and `--resume` can skip what is done, and only what is still true.

Each result is stored with its case's fingerprint: the resolved config entry (model and backend), the content
of the source files they name, and the torch version and device it ran on. The first part is known before
anything runs; torch and device only once a worker has said hello, so they are stored (and compared) apart.
A journal is locked (flock) while a run writes it: a second run on it is refused, not interleaved.
"""

from __future__ import annotations

import ast
import dataclasses
import fcntl
import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterable, Optional

from verify_compile.errors import ConfigError
from verify_compile.records import read_observation, read_v1
from verify_compile.results import Observation
from verify_compile.spec import FileSpec, InputSet

FORMAT = "verify-compile-journal/3"  # a line holds an observation
_FORMAT_V2 = "verify-compile-journal/2"  # a line held a format-1 result


@dataclass
class Entry:
    observation: Observation
    fingerprint: str  # of the config entry and sources
    runtime: str  # torch version and device


def case_fingerprint(case: object) -> str:
    """sha256 of the case's resolved model entry, its backend, and the content of the files they name (model and
    backend sources and the modules of the config's folder they import, `{file:}` inputs). The model's other
    backends and its timeout are left out: neither changes what this case's result says."""
    model, backend = case.model, case.backend  # type: ignore[attr-defined]
    data = {"model": dataclasses.replace(model, backends=(), timeout=0.0), "backend": backend,
            "sources": {path: _file_hash(path) for path in _case_files(case)}}
    return hashlib.sha256(_stable_json(data).encode()).hexdigest()


def runtime_of(info: dict) -> str:
    """Torch version and device, from a worker's hello."""
    device = f"cuda ({info.get('gpu')})" if info.get("cuda_available") else "cpu"
    return f"torch {info.get('torch')} on {device}"


def config_set(cases: Iterable[object]) -> list:
    return sorted({os.path.realpath(c.model.config_file) for c in cases})  # type: ignore[attr-defined]


class Journal:
    """Appends results to `path`, holding an exclusive lock on it. With `keep`, the results already in it are
    read (under the lock) into `previous` and new ones appended; else it starts empty."""

    def __init__(self, path: str, configs: list, case_ids: Iterable[str], keep: bool = False) -> None:
        self.path = Path(path)
        self._broken = False  # a write failed: later ones are not tried
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = open(self.path, "a+", encoding="utf-8", errors="surrogateescape")
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.close()
            raise ConfigError(f"the journal {path} is in use by another run", hint="give each run its own "
                              "--journal, or wait for the other run to finish") from None
        self.previous: dict = {}
        if keep:
            self._file.seek(0)
            text = self._file.read()
            try:
                self.previous = parse_journal(text, str(path), configs)
            except BaseException:
                self._file.close()
                raise
            if text and not text.endswith("\n"):  # a line torn by a kill: new lines must not continue it
                self._file.truncate(len(text[:text.rfind("\n") + 1].encode("utf-8", "surrogateescape")))
        else:
            self._file.truncate(0)
            self._write({"format": FORMAT, "configs": configs, "cases": list(case_ids)})

    def record(self, observation: Observation, fingerprint: str, runtime: str) -> None:
        self._write({"observation": dataclasses.asdict(observation), "fingerprint": fingerprint,
                     "runtime": runtime})

    def close(self, remove: bool = False) -> None:
        if remove:
            self.path.unlink(missing_ok=True)
        try:
            self._file.close()  # releases the lock
        except OSError:
            pass  # a buffered line that cannot be written: _write has said so

    def _write(self, obj: dict) -> None:
        if self._broken:
            return
        try:
            self._file.write(json.dumps(obj, default=str) + "\n")
            self._file.flush()
        except OSError as e:  # a full disk costs the journal, never the run or its reports
            self._broken = True
            print(f"verify-compile: warning: cannot write the journal {self.path} ({e.strerror or e}); the run "
                  "goes on without it, and --resume will run again what it lacks", file=sys.stderr)


def read_journal(path: str, configs: list) -> dict:
    """Entries by case id from the journal at `path` (ValueError when it cannot be read or is not one)."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="surrogateescape")
    except OSError as e:
        raise ValueError(f"{path}: cannot read the journal ({e.strerror or e})") from None
    return parse_journal(text, path, configs)


def parse_journal(text: str, path: str, configs: list) -> dict:
    """Finished entries by case id. A torn last line (the run was killed mid-write) is ignored, and results of
    cases that were interrupted are not finished: they run again. A journal of other configs is refused."""
    lines = text.splitlines()
    header = _json_line(lines[0]) if lines else None
    configs_of = header.get("configs") if isinstance(header, dict) else None
    if not isinstance(configs_of, list) or header.get("format") not in (FORMAT, _FORMAT_V2) \
            or not all(isinstance(c, str) for c in configs_of):
        raise ValueError(f"{path}:1: not a verify-compile journal (of this version)")
    theirs = set(configs_of)
    if not (theirs <= set(configs) or set(configs) <= theirs):
        raise ConfigError(f"the journal is of other configs ({', '.join(sorted(theirs)) or 'none'})", path, 1,
                          "resume with the configs of the run that wrote it, or start a new journal")
    done: dict = {}
    for number, line in enumerate(lines[1:], start=2):
        entry = _json_line(line)
        if entry is None and number == len(lines):
            break
        try:
            observation = (read_observation(entry["observation"]) if header["format"] == FORMAT
                           else read_v1(entry["result"], path)[0])  # the checks `merge` applies to results files
            item = Entry(observation, str(entry["fingerprint"]), str(entry["runtime"]))
        except (TypeError, KeyError, ValueError):
            raise ValueError(f"{path}:{number}: corrupt journal line") from None
        if not observation.interrupted:
            done[observation.case_id] = item
    return done


def _json_line(line: str) -> Optional[object]:
    try:
        return json.loads(line)
    except (ValueError, RecursionError):
        return None


def source_file(target: str, base_dir: str) -> Optional[str]:
    """The file a `file.py:attr` or `package.module:attr` target names (modules are looked up in base_dir,
    without importing anything); None when it is not there (an installed package)."""
    module = target.rsplit(":", 1)[0]
    if module.endswith(".py") or "/" in module:
        candidates = [Path(base_dir) / module]
    else:
        stem = Path(base_dir, *module.split("."))
        candidates = [stem.with_suffix(".py"), stem / "__init__.py"]
    return next((str(p) for p in candidates if p.is_file()), None)


def source_files(cases: Iterable[object]) -> list:
    """The model and backend source files and the `{file:}` inputs the cases name: inputs of the run."""
    return sorted({path for case in cases for path in _case_files(case)})


def _case_files(case: object) -> list:
    model, backend = case.model, case.backend  # type: ignore[attr-defined]
    targets = [model.target] + ([backend.backend] if backend.is_custom else [])
    found = [path for path in (source_file(target, model.base_dir) for target in targets) if path]
    return local_imports(found, model.base_dir) + _input_files((model.init, model.inputs or ()))


_MAX_SOURCES = 500  # a config folder that is a whole repository: the first files are what a case loads anyway


def local_imports(paths: list, base_dir: str) -> list:
    """`paths` and every source file under `base_dir` they import, transitively: read with ast, never run. An
    edited helper module that a model or backend imports changes the case as much as an edit of the file the
    config names."""
    root = os.path.realpath(base_dir)
    found: dict = {}
    todo = [os.path.realpath(p) for p in paths]
    while todo and len(found) < _MAX_SOURCES:
        path = todo.pop()
        if path in found:
            continue
        found[path] = None
        todo += [c for c in _imported_files(path, root) if c not in found]
    return sorted(found)


def _imported_files(path: str, root: str) -> list:
    try:
        tree = ast.parse(Path(path).read_bytes())
    except (OSError, SyntaxError, ValueError):
        return []
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _relative_base(path, root, node.level) if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            names += [module] + [f"{module}.{alias.name}" if module else alias.name for alias in node.names]
    files = []
    for name in names:
        parts = [p for p in name.split(".") if p]
        for depth in range(1, len(parts) + 1):  # a.b imports a/__init__.py too
            stem = Path(root, *parts[:depth])
            files += [str(c) for c in (stem.with_suffix(".py"), stem / "__init__.py") if c.is_file()]
    return [f for f in (os.path.realpath(f) for f in files) if f.startswith(root + os.sep)]


def _relative_base(path: str, root: str, level: int) -> str:
    """The dotted package that `from .` (level 1), `from ..` (2) means in the file at `path`."""
    folder = Path(path).parent
    for _ in range(level - 1):
        folder = folder.parent
    try:
        return ".".join(folder.relative_to(root).parts)
    except ValueError:
        return ""


def _input_files(value: object) -> list:
    """The paths of the `{file:}` arguments in input sets, nested in tuples and mappings."""
    if isinstance(value, FileSpec):
        return [value.file]
    if isinstance(value, InputSet):
        return _input_files((value.args, value.kwargs))
    if isinstance(value, dict):
        value = list(value.values())
    return [path for item in value for path in _input_files(item)] if isinstance(value, (list, tuple)) else []


def _file_hash(path: str) -> Optional[str]:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(2**20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def _stable_json(value: object) -> str:
    """The same text for equal specs in any process: dataclasses as dicts, keys sorted, anything else repr'd."""
    def plain(v: object) -> object:
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, dict):
            return sorted(([repr(k), plain(x)] for k, x in v.items()), key=lambda kv: kv[0])
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if v is None or isinstance(v, (str, int, float, bool)):
            return v
        return repr(v)

    return json.dumps(plain(value), sort_keys=True)
