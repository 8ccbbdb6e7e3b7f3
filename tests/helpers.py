"""Helpers the tests share (a plain module: pytest advises against importing from conftest.py). Fixtures live in
conftest.py."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Optional

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


def run_cli(*args: str, cwd: Path | str | None = None, timeout: float = 600,
            env: dict | None = None) -> subprocess.CompletedProcess:
    """`verify-compile ARGS` as a user would run it (a fresh process; the package is imported as installed)."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO / "entrypoint"), **(env or {})}
    return subprocess.run([sys.executable, "-m", "verify_compile", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=full_env)


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
