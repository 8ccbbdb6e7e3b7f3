"""The command line: `verify-compile run CONFIG...` and `verify-compile merge RESULTS.json...`.

Thin by design: it parses arguments, calls the engine, and hands results to the reports.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Optional, Sequence

from verify_compile import __version__, app
from verify_compile import results as R
from verify_compile.errors import USAGE_EXIT, ConfigError, ConfigErrors
from verify_compile.orchestration.pool import WorkerStartError
from verify_compile.orchestration.signals import StopSignals
from verify_compile.reports import sanitize
from verify_compile.reports.terminal import summary_table
from verify_compile.spec import OUTCOMES_FOR_FAIL_ON


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


def main(argv: Optional[Sequence[str]] = None) -> int:
    """`verify-compile run|merge ...`; returns the exit code."""
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    return execute(args)[0]


def execute(args: argparse.Namespace, signals: Optional[StopSignals] = None) -> tuple:
    """Run or merge as the parsed command line says, print the outcome, and return (exit code, RunResult or None
    when nothing ran, the configuration problems that stopped it). From start to end, SIGINT/SIGTERM only stop
    the cases (`signals`, else handlers of its own): every report is still written, then the exit code is
    128 + the signal."""
    if signals is None:
        with StopSignals() as own:
            return execute(args, own)
    try:
        run = app.run(args, signals) if args.command == "run" else app.merge(args)
    except ConfigErrors as e:  # a problem names files and quotes configs: outside text, made safe to show
        problems = [sanitize.problem(p) for p in e.errors]
        print(f"verify-compile: {len(problems)} problem(s) in the configuration, nothing was run:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return USAGE_EXIT, None, problems
    except ConfigError as e:
        problem = sanitize.problem(e)
        print(f"verify-compile: {problem}", file=sys.stderr)
        return USAGE_EXIT, None, [problem]
    except WorkerStartError as e:
        print(f"verify-compile: cannot start a worker, nothing was run: {sanitize.text(e)}", file=sys.stderr)
        return USAGE_EXIT, None, []
    if signals.signum and not run.interrupted:  # it came after the cases, while the reports were written
        run.interrupted = signals.signum
    print(summary_table(run.results))
    print(f"verify-compile: {run.conclusion}", file=sys.stderr)
    if run.interrupted and run.journal and os.path.exists(run.journal):
        print(f"verify-compile: interrupted; finished results are in the reports and in {run.journal}; "
              f"continue with --resume {run.journal}", file=sys.stderr)
    elif run.interrupted:
        print("verify-compile: interrupted after every case had finished; the reports are complete", file=sys.stderr)
    elif run.failed:
        print(f"verify-compile: {len(run.failed)} case(s) failed "
              f"({', '.join(sorted({r.outcome for r in run.failed}))})", file=sys.stderr)
    return app.exit_code(run), run, []
