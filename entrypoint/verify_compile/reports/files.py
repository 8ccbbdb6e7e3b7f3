"""Writing the report files a run asked for. Each is a pure rendering of the same results, rendered and written
on its own: a failure in one is a message naming it, and every other report is still written.

Paths are checked before anything runs: no two outputs may share a file, no output may be one of the run's
inputs (a config, a model or backend source, the baseline), and an existing output must be a regular file. A
symlink is written through: its target is replaced, atomically like any regular file.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import Callable, Iterable, Optional

from verify_compile.errors import ConfigError
from verify_compile.records import dump_json
from verify_compile.reports import sanitize
from verify_compile.reports.junit import render_junit
from verify_compile.reports.markdown import render_markdown
from verify_compile.results import RunResult


def check_writable(option: str, path: Optional[str], folder: bool = False) -> None:
    """Fail before a run, not after it: `path` must be a file (or, with `folder`, a folder) we can create."""
    if not path:
        return
    p = Path(path)
    if p.exists() and p.is_dir() != folder:
        raise ConfigError(f"{option} {path}: is {'not ' if folder else ''}a directory",
                          hint="give a folder" if folder else "give a file path")
    ancestor = p.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir() or not os.access(ancestor, os.W_OK):
        raise ConfigError(f"{option} {path}: cannot create it under {ancestor}")


def check_outputs(outputs: Iterable[tuple], inputs: Iterable[str] = ()) -> None:
    """`outputs` are (option, path) pairs (a None path: not asked for). Exit 2 before anything runs when two
    share a file, when one is an input of the run, or when one exists and is not a regular file."""
    taken: dict = {}
    protected = {os.path.realpath(p): p for p in inputs if p}
    for option, path in outputs:
        if not path:
            continue
        real = os.path.realpath(path)
        if real in taken:
            raise ConfigError(f"{option} {path}: {taken[real]} writes the same file",
                              hint="give each output its own path")
        if real in protected:
            raise ConfigError(f"{option} {path}: is an input of this run ({protected[real]}); writing it would "
                              "destroy it", hint="give the output another path")
        try:
            mode = os.stat(real).st_mode
        except FileNotFoundError:
            mode = None
        except OSError as e:
            raise ConfigError(f"{option} {path}: cannot check it: {e.strerror or e}") from None
        if mode is not None and not stat.S_ISREG(mode):
            raise ConfigError(f"{option} {path}: exists and is not a regular file ({_kind(mode)})",
                              hint="give the path of a file to create or replace")
        taken[real] = option


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a file"


def write_reports(run: RunResult, junit: Optional[str] = None, junit_file_line: bool = False,
                  json_path: Optional[str] = None, markdown: Optional[str] = None,
                  html: Optional[str] = None) -> tuple:
    """Write every requested report from the one judgement; one that cannot be rendered or written never costs
    the others. Returns ({kind: path written}, [kinds that failed])."""
    def html_report() -> str:
        from verify_compile.reports.html import render_html

        return render_html(run)

    wanted = [("junit", "JUnit", junit, lambda: render_junit(run, file_line=junit_file_line)),
              ("json", "JSON", json_path, lambda: dump_json(run)),
              ("markdown", "Markdown", markdown, lambda: render_markdown(run)),
              ("html", "HTML", html, html_report)]
    written, failed = {}, []
    for kind, name, path, render in wanted:
        if path:
            if _write(name, path, render):
                written[kind] = path
            else:
                failed.append(kind)
    return written, failed


def _write(name: str, path: str, render: Callable[[], str]) -> bool:
    try:
        data = render().encode("utf-8", "replace")
    except Exception as e:  # a bug in one renderer costs that report only, and says so
        print(f"verify-compile: could not render the {name} report for {sanitize.text(path)}: "
              f"{type(e).__name__}: {sanitize.text(e)}", file=sys.stderr)
        return False
    try:
        write_atomically(path, data)
        return True
    except OSError as e:
        print(f"verify-compile: could not write the {name} report {sanitize.text(path)}: "
              f"{sanitize.text(e.strerror or e)}", file=sys.stderr)
        return False


def write_atomically(path: str, data: bytes) -> None:
    """Replace the file at `path` (through a symlink: its target) so that a reader never sees half of it. Only a
    regular file is ever replaced: a device, a FIFO or a directory that appeared since the check is refused."""
    target = Path(os.path.realpath(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        existing = os.stat(target)
        if not stat.S_ISREG(existing.st_mode):
            raise OSError(f"exists and is not a regular file ({_kind(existing.st_mode)})")
        mode = stat.S_IMODE(existing.st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
