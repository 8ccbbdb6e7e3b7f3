"""`run` and `merge`: the two things verify-compile does, shared by the CLI and the GitHub Action.

Each takes a frozen request (verify_compile.requests) and returns the run's one judgement (`RunResult`: results,
meta, conclusion, reports written). Every case is judged once, as its observation arrives; progress, the
baseline update and every report read that verdict. Problems with the input raise ConfigError/ConfigErrors
before anything runs; `execute` turns them into messages and exit code 2.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from verify_compile import results as R
from verify_compile.config.loader import backends_from_cli, load_config
from verify_compile.config.torchcheck import check_against_torch
from verify_compile.errors import USAGE_EXIT, ConfigError, ConfigErrors
from verify_compile.judgement.baseline import Baseline, load_baseline, save_baseline
from verify_compile.judgement.judge import conclude, judge_case
from verify_compile.orchestration.cases import expand, parse_shard, select, shard
from verify_compile.orchestration.journal import source_files
from verify_compile.orchestration.pool import WorkerStartError
from verify_compile.orchestration.session import Listener, RunOptions, Session
from verify_compile.orchestration.signals import StopSignals
from verify_compile.preflight import check_reports, check_run, parse_fail_on, parse_size
from verify_compile.records import load_json_results
from verify_compile.reports import sanitize
from verify_compile.reports.files import write_reports
from verify_compile.reports.terminal import Progress, summary_table
from verify_compile.requests import Judging, MergeRequest, Request, RunRequest
from verify_compile.results import CaseResult, Observation, RunResult
from verify_compile.spec import Case, Expectation, RunSettings


@dataclass
class Completed:
    """How a request ended: the exit code, the judgement (None when nothing ran) and the configuration problems
    that stopped it."""

    exit_code: int
    run: Optional[RunResult] = None
    problems: list = field(default_factory=list)


def execute(request: Request, signals: Optional[StopSignals] = None) -> Completed:
    """Run or merge, print the outcome (a table on stdout, the conclusion on stderr). From start to end,
    SIGINT/SIGTERM only stop the cases (`signals`, else handlers of its own): every report is still written,
    then the exit code is 128 + the signal."""
    if signals is None:
        with StopSignals() as own:
            return execute(request, own)
    try:
        run_ = run(request, signals) if isinstance(request, RunRequest) else merge(request)
    except ConfigErrors as e:  # a problem names files and quotes configs: outside text, made safe to show
        problems = [sanitize.problem(p) for p in e.errors]
        print(f"verify-compile: {len(problems)} problem(s) in the configuration, nothing was run:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return Completed(USAGE_EXIT, None, problems)
    except ConfigError as e:
        problem = sanitize.problem(e)
        print(f"verify-compile: {problem}", file=sys.stderr)
        return Completed(USAGE_EXIT, None, [problem])
    except WorkerStartError as e:
        print(f"verify-compile: cannot start a worker, nothing was run: {sanitize.text(e)}", file=sys.stderr)
        return Completed(USAGE_EXIT)
    if signals.signum and not run_.interrupted:  # it came after the cases, while the reports were written
        run_.interrupted = signals.signum
    _print_outcome(run_)
    return Completed(exit_code(run_), run_)


def _print_outcome(run_: RunResult) -> None:
    print(summary_table(run_.results))
    print(f"verify-compile: {run_.conclusion}", file=sys.stderr)
    if run_.interrupted and run_.journal and Path(run_.journal).exists():
        print(f"verify-compile: interrupted; finished results are in the reports and in {run_.journal}; "
              f"continue with --resume {run_.journal}", file=sys.stderr)
    elif run_.interrupted:
        print("verify-compile: interrupted after every case had finished; the reports are complete", file=sys.stderr)
    elif run_.failed:
        print(f"verify-compile: {len(run_.failed)} case(s) failed "
              f"({', '.join(sorted({r.outcome for r in run_.failed}))})", file=sys.stderr)


def run(request: RunRequest, signals: StopSignals) -> RunResult:
    """Verify the configs' cases (`verify-compile run`); `signals` stop them (see orchestration/signals.py)."""
    fail_on = parse_fail_on(request.judging.fail_on)
    check_reports(request)
    check_run(request)
    baseline = _baseline(request.judging)
    configs = load_configs(request.configs)
    cases, meta = _cases(configs, request)
    check_reports(request, source_files(cases))
    if not cases:  # more shards than cases: an empty share is a green job, not a broken config
        print(f"verify-compile: shard {request.shard} has no cases", file=sys.stderr)
        return _finish([], meta, request, fail_on)
    options = RunOptions(workers=request.workers, journal=request.journal, resume=request.resume, extra_meta=meta,
                         cache_dir=request.cache_dir or next((c.cache_dir for c in configs if c.cache_dir), None),
                         memory_limit=parse_size(request.memory_limit) if request.memory_limit else None,
                         settings=RunSettings(repro_dir=str(Path(request.repro_dir).resolve()) if request.repro_dir
                                              else None, bisect=request.bisect,
                                              localize=request.localize))
    by_index = {c.index: c for c in cases}
    judged: dict = {}
    progress = Progress(total=len(cases), workers=request.workers or 1)
    judge_one = _judge_with(baseline, fail_on)

    def on_result(observation: Observation) -> None:  # judged once, as it arrives; the live line shows it
        judged[observation.index] = judge_one(observation, by_index[observation.index].expectation)
        progress.result(judged[observation.index])

    listener = Listener(on_result=on_result, on_phase=lambda case, phase: progress.phase(case.id, phase))
    try:
        report = _session(cases, options, signals, listener)
    finally:
        progress.close()
    results = [judged.get(o.index) or judge_one(o, by_index[o.index].expectation)  # resumed: judged here
               for o in report.results]
    return _finish(results, report.meta, request, fail_on, report.interrupted, report.journal)


def _session(cases: list, options: RunOptions, signals: StopSignals, listener: Listener) -> object:
    """Start the workers, check the configs against their torch before any case runs, then run the cases."""
    try:
        with Session(cases, options, signals) as session:
            info = session.start()
            if info is not None:
                check_against_torch(cases, info)
            return session.run(listener)
    except ValueError as e:  # an unreadable --resume journal
        raise ConfigError(str(e)) from None


def merge(request: MergeRequest) -> RunResult:
    """Combine shards' `--json` results and judge them again (`verify-compile merge`)."""
    fail_on = parse_fail_on(request.judging.fail_on)
    check_reports(request)
    baseline = _baseline(request.judging)
    merged: dict = {}
    metas: list = []
    for path in request.inputs:
        try:
            file_meta, records = load_json_results(Path(path).read_text(encoding="utf-8"), path)
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"cannot read results: {getattr(e, 'strerror', None) or e}", path) from None
        except ValueError as e:
            raise ConfigError(str(e)) from None
        metas.append(sanitize.meta(file_meta))  # its values reach the terminal in merged_meta's warnings
        for observation, expectation in records:
            if observation.case_id in merged:
                raise ConfigError(f"case '{observation.case_id}' appears in two results files", path,
                                  hint="merge each shard's results once")
            merged[observation.case_id] = (observation, expectation)
    judge_one = _judge_with(baseline, fail_on)
    results = [judge_one(o, e) for o, e in merged.values()]
    meta = merged_meta(metas, len(merged))
    missing = missing_shards(metas)
    if missing:
        meta["missing_shards"] = missing
        print(f"verify-compile: warning: shard(s) {', '.join(missing)} of the matrix are not among the merged "
              "results" + ("" if request.allow_partial else "; the run fails (merge them, or pass --allow-partial)"),
              file=sys.stderr)
    return _finish(results, meta, request, fail_on, incomplete=bool(missing) and not request.allow_partial)


def exit_code(run_: RunResult) -> int:
    """128 + the signal for an interrupted run; 1 when a case failed or a report could not be written."""
    if run_.interrupted:
        return 128 + run_.interrupted
    return 1 if run_.conclusion == R.FAILED or run_.report_errors else 0


def _judge_with(baseline: Optional[Baseline], fail_on: tuple) -> Callable[[Observation, Expectation], CaseResult]:
    """The one judgement of a case. Every text from outside (names, paths, messages, output) crosses the
    sanitising boundary here, before anything judges or renders it."""
    def judge_one(observation: Observation, expectation: Expectation) -> CaseResult:
        return judge_case(sanitize.observation(observation), sanitize.expectation(expectation), baseline, fail_on)
    return judge_one


def _finish(results: list, meta: dict, request: Request, fail_on: tuple, interrupted: Optional[int] = None,
            journal: Optional[str] = None, incomplete: bool = False) -> RunResult:
    """Conclude the judged results, update the baseline if asked, and write every report."""
    run_ = conclude(results, sanitize.meta(meta), fail_on, interrupted, journal, incomplete)
    errors = []
    if request.judging.update_baseline:
        path = request.judging.baseline
        try:  # cases that finished are recorded, also in an interrupted run: what they saw is real
            count = save_baseline(path, run_.results)
        except OSError as e:  # a full disk costs the baseline, never the reports
            print(f"verify-compile: could not write the baseline {path}: {e.strerror or e}", file=sys.stderr)
            errors.append("baseline")
        else:
            print(f"verify-compile: wrote the baseline of {count} case(s) to {path}", file=sys.stderr)
    r = request.reports
    run_.reports, written_errors = write_reports(run_, junit=r.junit, junit_file_line=r.junit_file_line,
                                                 json_path=r.json, markdown=r.markdown, html=r.html)
    run_.report_errors = errors + written_errors
    return run_


def _baseline(judging: Judging) -> Optional[Baseline]:
    """The baseline to judge against, read before anything runs so a bad file costs nothing; under
    --update-baseline each case is judged against what this run records for it."""
    if judging.update_baseline:
        return Baseline({}, update=True)
    return Baseline(load_baseline(judging.baseline)) if judging.baseline else None


def load_configs(paths: tuple) -> list:
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


def _cases(configs: list, request: RunRequest) -> tuple:
    """The cases this run (or shard) runs, and the meta that describes the selection."""
    backends = backends_from_cli(request.backends) if request.backends else None
    cases: list[Case] = select(expand(configs, backends, request.device), request.only)
    if request.timeout is not None:
        cases = [dataclasses.replace(c, model=dataclasses.replace(c.model, timeout=request.timeout)) for c in cases]
    if not cases:
        raise ConfigError("no case to run" + (f": --only {' '.join(request.only)} matches nothing"
                                              if request.only else ""))
    meta: dict = {"cases_in_configs": len(cases)}
    if request.shard:
        index, total = parse_shard(request.shard)
        cases = shard(cases, index, total)
        meta["shard"] = request.shard
    return cases, meta


def missing_shards(metas: list) -> list:
    """The shards ("I/N") of a matrix that none of the merged results files holds; [] when the files are not
    shards, or when they disagree on N (then they are not one matrix, and each says only itself)."""
    parsed = []
    for meta in metas:
        try:
            parsed.append(parse_shard(str(meta["shard"])))
        except (KeyError, ConfigError):
            continue
    totals = {total for _, total in parsed}
    if len(totals) != 1:
        return []
    total = totals.pop()
    present = {index for index, _ in parsed}
    return [f"{i}/{total}" for i in range(1, total + 1) if i not in present]


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
