"""`run` and `merge`: the two things verify-compile does, shared by the CLI and the GitHub Action.

Each takes the parsed command line and returns the run's one judgement (`RunResult`: results, meta, conclusion,
reports written). Problems with the input raise ConfigError/ConfigErrors before anything runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
from pathlib import Path
from typing import Optional, Sequence

from verify_compile import results as R
from verify_compile.config.loader import DEVICE_RE, backends_from_cli, load_config
from verify_compile.errors import ConfigError, ConfigErrors
from verify_compile.judgement.baseline import load_baseline, save_baseline
from verify_compile.judgement.judge import expect, judge_case, judge_run
from verify_compile.orchestration.cases import expand, parse_shard, select, shard
from verify_compile.orchestration.journal import source_files
from verify_compile.orchestration.session import Listener, RunOptions, execute
from verify_compile.orchestration.signals import StopSignals
from verify_compile.reports import sanitize
from verify_compile.reports.files import check_outputs, check_writable, write_reports
from verify_compile.reports.terminal import Progress
from verify_compile.results import RunResult, load_json_results
from verify_compile.spec import OUTCOMES_FOR_FAIL_ON, RunSettings


def run(args: argparse.Namespace, signals: Optional[StopSignals] = None) -> RunResult:
    """Verify the configs' cases (`verify-compile run`); `signals` stop them (see orchestration/signals.py)."""
    fail_on = parse_fail_on(args.fail_on)
    _check_report_arguments(args)
    _check_run_arguments(args)
    baseline = _baseline(args)
    configs = _load_configs(args.configs)
    cases, meta = _cases(configs, args)
    _check_report_arguments(args, source_files(cases))
    if not cases:  # more shards than cases: an empty share is a green job, not a broken config
        print(f"verify-compile: shard {args.shard} has no cases", file=sys.stderr)
        return _conclude([], meta, args, fail_on, baseline)
    options = RunOptions(workers=args.workers, journal=args.journal, resume=args.resume, extra_meta=meta,
                         signals=signals,
                         cache_dir=args.cache_dir or next((c.cache_dir for c in configs if c.cache_dir), None),
                         memory_limit=parse_size(args.memory_limit) if args.memory_limit else None,
                         settings=RunSettings(repro_dir=str(Path(args.repro_dir).resolve()) if args.repro_dir
                                              else None, bisect=args.bisect))
    by_index = {c.index: c for c in cases}
    progress = Progress(total=len(cases), workers=args.workers or 1)

    def on_result(result: R.CaseResult) -> None:  # the live line shows the judged outcome
        case = by_index[result.index]
        progress.result(judge_case(_expected(result, case), fail_on, baseline))

    listener = Listener(on_result=on_result, on_phase=lambda case, phase: progress.phase(case.id, phase))
    try:
        report = execute(cases, options, listener)
    except ValueError as e:  # an unreadable --resume journal
        raise ConfigError(str(e)) from None
    finally:
        progress.close()
    observed = [_expected(r, by_index[r.index]) for r in report.results]  # the current config's expectations
    return _conclude(observed, report.meta, args, fail_on, baseline, report.interrupted, report.journal)


def merge(args: argparse.Namespace) -> RunResult:
    """Combine shards' `--json` results and judge them again (`verify-compile merge`)."""
    fail_on = parse_fail_on(args.fail_on)
    _check_report_arguments(args)
    baseline = _baseline(args)
    merged: dict = {}
    metas: list = []
    for path in args.inputs:
        try:
            file_meta, results = load_json_results(Path(path).read_text(encoding="utf-8"), path)
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"cannot read results: {getattr(e, 'strerror', None) or e}", path) from None
        except ValueError as e:
            raise ConfigError(str(e)) from None
        metas.append(sanitize.meta(file_meta))  # its values reach the terminal in merged_meta's warnings
        for r in results:
            if r.case_id in merged:
                raise ConfigError(f"case '{r.case_id}' appears in two results files", path,
                                  hint="merge each shard's results once")
            merged[r.case_id] = r
    results = sorted(merged.values(), key=lambda r: r.index)
    return _conclude(results, merged_meta(metas, len(merged)), args, fail_on, baseline)


def exit_code(run: RunResult) -> int:
    """128 + the signal for an interrupted run; 1 when a case failed or a report could not be written."""
    if run.interrupted:
        return 128 + run.interrupted
    return 1 if run.conclusion == R.FAILED or run.report_errors else 0


def _conclude(observed: list, meta: dict, args: argparse.Namespace, fail_on: tuple, baseline: Optional[dict],
              interrupted: Optional[int] = None, journal: Optional[str] = None) -> RunResult:
    """Judge once, update the baseline if asked, and write every report from that one judgement. Every text
    from outside (names, paths, messages, output) crosses the sanitising boundary here, before any use."""
    observed, meta = sanitize.results(observed), sanitize.meta(meta)
    errors = []
    if args.update_baseline and not interrupted:
        try:
            count = save_baseline(args.baseline, judge_run(observed, meta, fail_on).results)
        except OSError as e:  # a full disk costs the baseline, never the reports
            print(f"verify-compile: could not write the baseline {args.baseline}: {e.strerror or e}",
                  file=sys.stderr)
            errors.append("baseline")
        else:
            print(f"verify-compile: wrote the baseline of {count} case(s) to {args.baseline}", file=sys.stderr)
            baseline = load_baseline(args.baseline)
    run = judge_run(observed, meta, fail_on, baseline, interrupted, journal)
    run.reports, written_errors = write_reports(run, junit=args.junit, junit_file_line=args.junit_file_line,
                                                json_path=args.json, markdown=args.markdown, html=args.html)
    run.report_errors = errors + written_errors
    return run


def _expected(result: R.CaseResult, case: object) -> R.CaseResult:
    spec = case.model
    return expect(result, case.xfail, {"max_graph_breaks": spec.max_graph_breaks,
                                       "max_recompiles": spec.max_recompiles, "min_speedup": spec.min_speedup})


def _load_configs(paths: list) -> list:
    errors, configs, seen = [], [], set()
    for path in paths:
        if Path(path).resolve() in seen:  # the same file twice is one config, not a name clash
            continue
        seen.add(Path(path).resolve())
        try:
            configs.append(load_config(path))
        except ConfigErrors as e:
            errors += e.errors
    if errors:
        raise ConfigErrors(errors)
    return configs


def _cases(configs: list, args: argparse.Namespace) -> tuple:
    """The cases this run (or shard) runs, and the meta that describes the selection."""
    backends = backends_from_cli(args.backends) if args.backends else None
    cases = select(expand(configs, backends, args.device), args.only)
    if args.timeout is not None:
        cases = [dataclasses.replace(c, model=dataclasses.replace(c.model, timeout=args.timeout)) for c in cases]
    if not cases:
        raise ConfigError("no case to run" + (f": --only {' '.join(args.only)} matches nothing" if args.only else ""))
    meta: dict = {"cases_in_configs": len(cases)}
    if args.shard:
        index, total = parse_shard(args.shard)
        cases = shard(cases, index, total)
        meta["shard"] = args.shard
    return cases, meta


def parse_fail_on(text: str) -> tuple:
    if text.strip() == "none":  # report only: no outcome fails the run
        return ()
    outcomes = tuple(o.strip() for o in text.split(",") if o.strip())
    if not outcomes:
        raise ConfigError("--fail-on names no outcome", hint="list outcomes, or write 'none' to fail on nothing")
    for outcome in outcomes:
        if outcome not in OUTCOMES_FOR_FAIL_ON:
            raise ConfigError(f"--fail-on: unknown outcome '{outcome}'",
                              hint=f"choose from {', '.join(OUTCOMES_FOR_FAIL_ON)}")
    return outcomes


def parse_size(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)i?[bB]?\s*", text)
    if not match or float(match.group(1)) <= 0 or len(match.group(1)) > 30:
        raise ConfigError(f"--memory-limit: cannot read size '{text}'", hint="write it like 512M or 8G")
    scale = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}[match.group(2).lower()]
    return int(float(match.group(1)) * scale)


def _baseline(args: argparse.Namespace) -> Optional[dict]:
    """The baseline to judge against, read before anything runs so a bad file costs nothing."""
    if args.update_baseline and not args.baseline:
        raise ConfigError("--update-baseline needs --baseline FILE")
    if not args.baseline or args.update_baseline:
        return None
    if not Path(args.baseline).is_file():
        raise ConfigError("baseline file not found", args.baseline, hint="create it with --update-baseline")
    return load_baseline(args.baseline)


def _check_report_arguments(args: argparse.Namespace, sources: Sequence[str] = ()) -> None:
    """Every output can be written, no two share a file, and none is an input of the run (`sources`: the model
    and backend files, known once the configs are read)."""
    outputs = [(f"--{option}", getattr(args, option)) for option in ("junit", "json", "markdown", "html")]
    inputs = list(getattr(args, "configs", None) or args.inputs) + list(sources)
    if args.update_baseline:
        outputs.append(("--baseline", args.baseline))
    else:
        inputs.append(args.baseline)
    journal, resume = getattr(args, "journal", None), getattr(args, "resume", None)
    if journal or resume:
        outputs.append(("--journal" if journal else "--resume", journal or resume))
    if journal and resume and os.path.realpath(journal) != os.path.realpath(resume):
        inputs.append(resume)  # read, not written: a report must not replace it
    for option, path in outputs:
        check_writable(option, path)
    check_outputs(outputs, inputs)


def _check_run_arguments(args: argparse.Namespace) -> None:
    """Everything about the command line that can be wrong, found before anything runs (the files it writes:
    `_check_report_arguments`)."""
    check_writable("--cache-dir", args.cache_dir, folder=True)
    check_writable("--repro-dir", args.repro_dir, folder=True)
    if args.resume and not Path(args.resume).is_file():
        raise ConfigError(f"--resume {args.resume}: no such journal file",
                          hint="give the journal a run wrote (its path is printed when a run is interrupted)")
    if args.device and not DEVICE_RE.match(args.device):
        raise ConfigError(f"--device: unknown device '{args.device}'", hint="use auto, cpu, cuda or cuda:N")
    if args.timeout is not None and not (0 < args.timeout < float("inf")):  # NaN fails both comparisons
        raise ConfigError(f"--timeout must be a positive number of seconds, not {args.timeout}")
    if args.workers is not None and args.workers < 1:
        raise ConfigError("--workers must be at least 1")
    if args.memory_limit and parse_size(args.memory_limit) < 2**26:
        raise ConfigError(f"--memory-limit {args.memory_limit} is too small for a worker", hint="e.g. 8G")
    _check_memory_limit_works(args.memory_limit)


def _check_memory_limit_works(memory_limit: Optional[str]) -> None:
    """The pool reads each worker's resident size from /proc/<pid>/status: without /proc a limit would do nothing."""
    if memory_limit and not Path("/proc/self/status").is_file():
        raise ConfigError("--memory-limit needs /proc (Linux) to read a worker's memory, and this system has none",
                          hint="drop --memory-limit here, or run on Linux (e.g. the action's docker mode)")


def merged_meta(metas: list, cases: int) -> dict:
    """One run's meta for several shards: first start, last finish, and a warning where they disagree."""
    meta = {k: v for k, v in (metas[0] if metas else {}).items() if k != "shard"}
    meta["cases"] = cases
    starts = [m["started"] for m in metas if m.get("started") and isinstance(m["started"], str)]  # ISO times
    ends = [m["finished"] for m in metas if m.get("finished") and isinstance(m["finished"], str)]
    meta.update(started=min(starts, default=None), finished=max(ends, default=None), merged_files=len(metas))
    for key in ("torch", "device", "python"):
        seen = sorted({str(m[key]) for m in metas if m.get(key)})
        if len(seen) > 1:
            meta[key] = " / ".join(seen)
            print(f"verify-compile: warning: the merged results ran on different {key}: {', '.join(seen)}",
                  file=sys.stderr)
    return meta
