"""The command line: `verify-compile run CONFIG...` and `verify-compile merge RESULTS.json...`.

Thin by design: it parses arguments, calls the engine, and hands results to the reports.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from pathlib import Path
from typing import Callable, Optional, Sequence

from verify_compile import __version__
from verify_compile import results as R
from verify_compile.config.loader import DEVICE_RE, backends_from_cli, load_config
from verify_compile.config.spec import OUTCOMES_FOR_FAIL_ON, RunSettings
from verify_compile.errors import USAGE_EXIT, ConfigError, ConfigErrors
from verify_compile.judgement.baseline import apply_baseline, load_baseline, save_baseline
from verify_compile.orchestration.cases import expand, parse_shard, select, shard
from verify_compile.orchestration.pool import WorkerStartError
from verify_compile.orchestration.session import Listener, RunOptions, execute
from verify_compile.reports.files import check_writable, write_reports
from verify_compile.reports.terminal import Progress, summary_table
from verify_compile.results import load_json_results


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="verify-compile", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"verify-compile {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{run,merge,action}")
    run = sub.add_parser("run", help="verify the models of one or more configs")
    run.add_argument("configs", nargs="+", metavar="CONFIG", help="YAML config file(s)")
    run.add_argument("--device", help="override every model's device: auto, cpu, cuda, cuda:N")
    run.add_argument("--backends", help="override every model's backends, comma separated (e.g. inductor,aot_eager)")
    run.add_argument("--only", action="append", default=[], metavar="GLOB",
                     help="run only cases whose id 'model[backend]' or model name matches (repeatable)")
    run.add_argument("--shard", metavar="I/N", help="run the I-th of N cost-balanced shares of the cases")
    run.add_argument("--workers", type=int, metavar="N",
                     help="worker processes side by side (default: one per visible GPU on CUDA, else 1)")
    run.add_argument("--timeout", type=float, metavar="SECONDS", help="override every model's timeout")
    run.add_argument("--memory-limit", metavar="SIZE", help="kill a worker whose resident memory passes SIZE (e.g. 8G)")
    run.add_argument("--cache-dir", metavar="DIR", help="persistent compile cache (also config key cache_dir)")
    run.add_argument("--journal", metavar="PATH", help="where to journal results as they finish")
    run.add_argument("--resume", metavar="JOURNAL", help="skip cases this journal has already finished")
    run.add_argument("--repro-dir", metavar="DIR", help="write a standalone repro bundle for each mismatch here")
    run.add_argument("--bisect", action="store_true",
                     help="on an inductor mismatch, find the first bad compiler stage/pass (CompilerBisector)")
    _add_report_args(run)
    merge = sub.add_parser("merge", help="combine the --json results of several shards into one report")
    merge.add_argument("inputs", nargs="+", metavar="RESULTS.json", help="the --json results of each shard")
    _add_report_args(merge)
    sub.add_parser("action", help="run as the GitHub Action: inputs from INPUT_* variables (see action.yml)")
    return parser


def _add_report_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--junit", metavar="PATH", help="write a JUnit XML report")
    p.add_argument("--junit-file-line", action="store_true",
                   help="add testcase file/line (the model's line in its config) for consumers that annotate "
                        "with them; the strict Jenkins xunit schema rejects them")
    p.add_argument("--json", metavar="PATH", help="write every case's full record as JSON")
    p.add_argument("--markdown", metavar="PATH", help="write a Markdown summary")
    p.add_argument("--html", metavar="PATH", help="write a self-contained HTML report")
    p.add_argument("--baseline", metavar="FILE",
                   help="expected outcome per case (YAML or CSV): known failures pass, regressions and "
                        "improvements fail")
    p.add_argument("--update-baseline", action="store_true", help="rewrite --baseline FILE from this run")
    p.add_argument("--fail-on", default=",".join(R.DEFAULT_FAIL_ON), metavar="OUTCOMES",
                   help=f"comma-separated outcomes that fail the run (default: %(default)s; "
                        f"choices: {', '.join(OUTCOMES_FOR_FAIL_ON)}; 'none': report only)")


def main(argv: Optional[Sequence[str]] = None,
         on_config_errors: Callable[[list], None] = lambda errors: None) -> int:
    """The command line. `on_config_errors` also receives the problems of a bad configuration (the GitHub glue
    annotates them)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["action"]:  # the GitHub Action's entrypoint: inputs come from INPUT_* variables
        from verify_compile.github.action import main as action_main

        return action_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        fail_on = parse_fail_on(args.fail_on)
        if args.command == "merge":
            return merge_command(args, fail_on)
        return run_command(args, fail_on)
    except ConfigErrors as e:
        on_config_errors(e.errors)
        print(f"verify-compile: {len(e.errors)} problem(s) in the configuration, nothing was run:", file=sys.stderr)
        for error in e.errors:
            print(f"  {error}", file=sys.stderr)
        return USAGE_EXIT
    except ConfigError as e:
        on_config_errors([e])
        print(f"verify-compile: {e}", file=sys.stderr)
        return USAGE_EXIT
    except WorkerStartError as e:
        print(f"verify-compile: cannot start a worker, nothing was run: {e}", file=sys.stderr)
        return USAGE_EXIT


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
    if not match:
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


def _check_run_arguments(args: argparse.Namespace) -> None:
    """Everything about the command line that can be wrong, found before anything runs."""
    for option, path in (("--journal", args.journal), ("--baseline", args.baseline if args.update_baseline else None)):
        check_writable(option, path)
    check_writable("--cache-dir", args.cache_dir, folder=True)
    check_writable("--repro-dir", args.repro_dir, folder=True)
    if args.resume and not Path(args.resume).is_file():
        raise ConfigError(f"--resume {args.resume}: no such journal file",
                          hint="give the journal a run wrote (its path is printed when a run is interrupted)")
    if args.device and not DEVICE_RE.match(args.device):
        raise ConfigError(f"--device: unknown device '{args.device}'", hint="use auto, cpu, cuda or cuda:N")
    if args.timeout is not None and args.timeout <= 0:
        raise ConfigError("--timeout must be positive")
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


def run_command(args: argparse.Namespace, fail_on: tuple) -> int:
    _check_report_arguments(args)
    _check_run_arguments(args)
    baseline = _baseline(args)
    errors, configs = [], []
    seen: set = set()
    for path in args.configs:
        if Path(path).resolve() in seen:  # the same file twice is one config, not a name clash
            continue
        seen.add(Path(path).resolve())
        try:
            configs.append(load_config(path))
        except ConfigErrors as e:
            errors += e.errors
    if errors:
        raise ConfigErrors(errors)
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
        if not cases:  # more shards than cases: an empty share is a green job, not a broken config
            print(f"verify-compile: shard {args.shard} has no cases", file=sys.stderr)
            return finish([], meta, args, fail_on, baseline)
    cache_dir = args.cache_dir or next((c.cache_dir for c in configs if c.cache_dir), None)
    settings = RunSettings(repro_dir=str(Path(args.repro_dir).resolve()) if args.repro_dir else None,
                           bisect=args.bisect)
    options = RunOptions(workers=args.workers, cache_dir=cache_dir, journal=args.journal, resume=args.resume,
                         settings=settings,
                         memory_limit=parse_size(args.memory_limit) if args.memory_limit else None,
                         extra_meta=meta)
    progress = Progress(total=len(cases), workers=args.workers or 1)
    listener = Listener(on_result=progress.result, on_phase=lambda case, phase: progress.phase(case.id, phase))
    try:
        report = execute(cases, options, listener)
    except ValueError as e:  # an unreadable --resume journal
        raise ConfigError(str(e)) from None
    finally:
        progress.close()
    return finish(report.results, report.meta, args, fail_on, baseline, report.interrupted, report.journal)


def _check_report_arguments(args: argparse.Namespace) -> None:
    for option in ("junit", "json", "markdown", "html"):
        check_writable(f"--{option}", getattr(args, option))


def merge_command(args: argparse.Namespace, fail_on: tuple) -> int:
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
        metas.append(file_meta)
        for r in results:
            if r.case_id in merged:
                raise ConfigError(f"case '{r.case_id}' appears in two results files", path,
                                  hint="merge each shard's results once")
            merged[r.case_id] = r
    return finish(sorted(merged.values(), key=lambda r: r.index), merged_meta(metas, len(merged)), args, fail_on,
                  baseline)


def merged_meta(metas: list, cases: int) -> dict:
    """One run's meta for several shards: first start, last finish, and a warning where they disagree."""
    meta = {k: v for k, v in (metas[0] if metas else {}).items() if k != "shard"}
    meta["cases"] = cases
    starts = [m["started"] for m in metas if m.get("started")]
    ends = [m["finished"] for m in metas if m.get("finished")]
    meta.update(started=min(starts, default=None), finished=max(ends, default=None), merged_files=len(metas))
    for key in ("torch", "device", "python"):
        seen = sorted({str(m[key]) for m in metas if m.get(key)})
        if len(seen) > 1:
            meta[key] = " / ".join(seen)
            print(f"verify-compile: warning: the merged results ran on different {key}: {', '.join(seen)}",
                  file=sys.stderr)
    return meta


def finish(results: list, meta: dict, args: argparse.Namespace, fail_on: tuple, baseline: Optional[dict] = None,
           interrupted: Optional[int] = None, journal: Optional[str] = None) -> int:
    if args.update_baseline and not interrupted:
        count = save_baseline(args.baseline, results)
        print(f"verify-compile: wrote the baseline of {count} case(s) to {args.baseline}", file=sys.stderr)
        baseline = load_baseline(args.baseline)
    if baseline is not None:
        results = apply_baseline(results, baseline)
    written = write_reports(results, meta, junit=args.junit, junit_file_line=args.junit_file_line,
                            json_path=args.json, markdown=args.markdown, html=args.html)
    print(summary_table(results))
    if interrupted:
        print(f"verify-compile: interrupted; finished results are in the reports and in {journal}; "
              f"continue with --resume {journal}", file=sys.stderr)
        return 128 + interrupted
    failed = R.failing(results, fail_on)
    if not written:
        return 1
    if failed:
        print(f"verify-compile: {len(failed)} case(s) failed ({', '.join(sorted({r.outcome for r in failed}))})",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
