"""Rendering results as JUnit XML, for GitHub, GitLab, Jenkins and test-reporter actions.

Built with junit-xml, whose traps are closed here: every failure and error carries a message (junit-xml drops
an empty one and the case silently passes), no `disabled` attribute, times with three decimals, no ANSI colour
residue or XML-illegal characters.

Consumers read different places (tests/consumers/ records what each one shows): dorny/test-reporter prints
`type: message`, mikepenz/action-junit-report the `message` attribute, GitLab and EnricoMi's publisher the
element text. So an error's message does not repeat its phase (the `type` says it), and every `<failure>`,
`<error>` and `<skipped>` body starts with that message (an error's next line names the phase) before the diff
or traceback. By default testcases carry `file`/`line` (the model's line in its config), which annotating
consumers use (without them they annotate a file named after the classname); `file_line=False` leaves them out
for the strict Jenkins xunit schema, which rejects them.
"""

from __future__ import annotations

import os
import re
import socket
import xml.dom.minidom
import xml.etree.ElementTree as ET
from collections import OrderedDict
from pathlib import Path
from typing import Optional

from junit_xml import TestCase, TestSuite

from verify_compile import results as R
from verify_compile.results import CaseResult, RunResult

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]")
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_MAX_BODY = 60000


def clean(text: Optional[str]) -> str:
    """Text that is safe in XML and free of terminal colour codes."""
    return _ILLEGAL_XML.sub("", _ANSI.sub("", text or ""))


def render_junit(run: RunResult, file_line: bool = True, base_dir: Optional[str] = None) -> str:
    """A testcase is a failure or an error exactly when it fails the run (`--fail-on`); other outcomes that are
    not a pass (skip, flaky, xfail, or a mismatch under `--fail-on none`) are skipped, with their message."""
    results = sorted(run.results, key=lambda r: r.index)
    meta = run.meta or {}
    suites = OrderedDict()
    for r in results:
        suites.setdefault(r.config, []).append(r)
    root = ET.Element("testsuites", {"name": "verify-compile"})
    totals = dict.fromkeys(("tests", "failures", "errors"), 0)
    total_time = 0.0
    for config, members in suites.items():
        shown = _relative(config, base_dir)
        suite = TestSuite(shown, [_testcase(r, shown, file_line) for r in members],
                          hostname=socket.gethostname(), timestamp=meta.get("started"),
                          properties=_properties(meta))
        element = suite.build_xml_doc()
        _fix_suite(element, members)
        root.append(element)
        for key in totals:
            totals[key] += int(element.get(key, 0))
        total_time += sum(r.duration for r in members)
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", f"{total_time:.3f}")
    text = ET.tostring(root, encoding="unicode")
    return xml.dom.minidom.parseString(text).toprettyxml(indent="  ", encoding="UTF-8").decode("utf-8")


def _testcase(r: CaseResult, config: str, file_line: bool) -> TestCase:
    stem = Path(config).stem
    case = TestCase(name=r.case_id, classname=f"{stem}.{r.model}", elapsed_sec=r.duration,
                    stdout=clean(_system_out(r)) or None,
                    file=config if file_line else None, line=str(r.line) if file_line else None)
    message = clean(r.message) or r.outcome
    details = clean(r.details)[-_MAX_BODY:]
    if r.localization and r.localization.get("text"):  # where it starts, before what differs
        details = clean(r.localization["text"]) + "\n\n" + details[-(_MAX_BODY - 4000):]
    if r.failed and r.outcome == R.ERROR:  # the element follows the judgement: red exactly when the run fails
        phase = r.phase or "error"
        message, details = _without_phase(message, phase), _without_phase(details, phase)
        case.add_error_info(message=message, output=_body(message, details, f"error (phase {phase})"),
                            error_type=phase)
    elif r.failed:
        case.add_failure_info(message=message, output=_body(message, details), failure_type=r.outcome)
    elif r.outcome != R.PASS:
        message = message if r.outcome == R.SKIP else f"{r.outcome}: {message}"  # <skipped> has no type to say it
        case.add_skipped_info(message=message, output=_body(message, details))
    return case


def _without_phase(text: str, phase: str) -> str:
    """The text minus a leading 'PHASE: ': dorny/test-reporter shows `type: message`, and type is the phase."""
    prefix = f"{phase}: "
    return text[len(prefix):] if text.startswith(prefix) and len(text) > len(prefix) else text


def _body(message: str, details: str, second_line: str = "") -> str:
    """Element text: the message first (GitLab and EnricoMi's publisher show the text, not the attribute; the
    publisher drops the attribute when the text starts with it), then the diff or traceback, minus its own copy
    of the message."""
    if details == message or details.startswith(message + "\n"):
        details = details[len(message):].lstrip("\n")
    head = "\n".join(line for line in (message, second_line) if line)
    return f"{head}\n\n{details}" if details else head


def _system_out(r: CaseResult) -> str:
    lines = [f"outcome: {r.outcome}" + (f" (phase {r.phase})" if r.phase else ""),
             f"device: {r.device or '-'}, dtype: {r.dtype}, calls: {r.input_sets} (the input sets, and a re-drawn one)"
             if r.input_sets else f"device: {r.device or '-'}, dtype: {r.dtype}"]
    if r.compile_time is not None:
        lines.append(f"compile time: {r.compile_time:.3f} s")
    if r.health:
        h = r.health
        lines.append(f"graphs: {h.graphs}, graph breaks: {h.graph_breaks}, recompiles: {h.recompiles}, "
                     f"fallbacks: {h.fallbacks}")
        lines += [f"  graph break: {reason}" for reason in h.break_reasons]
        lines += [f"  recompile: {reason}" for reason in h.recompile_reasons]
    if r.perf and r.perf.speedup is not None:
        lines.append(f"latency: eager {r.perf.eager_ms:.3f} ms, compiled {r.perf.compiled_ms:.3f} ms, "
                     f"speedup {r.perf.speedup:.2f}x")
    if r.cache:
        lines.append(f"compile cache: {r.cache.get('hits', 0)} hit(s), {r.cache.get('misses', 0)} miss(es)")
    if r.baseline:
        lines.append(f"baseline: {r.baseline.get('status')} (expected {r.baseline.get('expected')})")
    if r.bisect:
        lines.append(f"bisect: {r.bisect.get('summary')}")
    if r.localization:
        lines.append(f"localized: {r.localization.get('summary')}")
    lines += [f"note: {n}" for n in r.notes]
    lines += [f"judgement: {step}" for step in r.judgement]
    lines += [f"[[ATTACHMENT|{path}]]" for path in r.artifacts]
    if r.captured:
        lines += ["", "captured output:", r.captured]
    return "\n".join(lines)


def _fix_suite(element: ET.Element, members: list) -> None:
    element.attrib.pop("disabled", None)
    element.set("time", f"{sum(r.duration for r in members):.3f}")
    for testcase, r in zip(element.iter("testcase"), members):
        testcase.set("time", f"{r.duration:.3f}")  # junit-xml omits a zero time and writes floats with %f


def _properties(meta: dict) -> dict:
    keys = ("torch", "python", "cuda_version", "gpu", "device", "verify_compile", "shard")
    return {f"verify-compile.{k}": clean(str(meta[k])) for k in keys if meta.get(k) is not None}


def _relative(path: str, base_dir: Optional[str]) -> str:
    try:
        return os.path.relpath(path, base_dir or os.getcwd())
    except ValueError:
        return path
