"""What `app.run` and `app.merge` are asked to do: frozen requests, and how the command line spells them.

The CLI builds a request from argv (`from_args`); the GitHub Action builds one from its inputs and applies its
`args` input, which is command-line text, with the same option definitions (`options_parser`). Values are kept
as given (paths, strings): `app` checks them, so every mistake is one ConfigError, whoever made the request.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Optional, Union

from verify_compile import results as R
from verify_compile.spec import OUTCOMES_FOR_FAIL_ON
from verify_compile.version import __version__


@dataclass(frozen=True)
class Reports:
    """The report files to write; None: not asked for."""

    junit: Optional[str] = None
    junit_file_line: bool = True  # testcase file/line; False for strict consumers (Jenkins xunit's schema)
    json: Optional[str] = None
    markdown: Optional[str] = None
    html: Optional[str] = None


@dataclass(frozen=True)
class Judging:
    """How the run is judged beyond the config: the baseline and `--fail-on`."""

    fail_on: str = ",".join(R.DEFAULT_FAIL_ON)
    baseline: Optional[str] = None
    update_baseline: bool = False


@dataclass(frozen=True)
class RunRequest:
    configs: tuple[str, ...]
    reports: Reports = field(default_factory=Reports)
    judging: Judging = field(default_factory=Judging)
    device: Optional[str] = None
    backends: Optional[str] = None  # comma separated
    only: tuple[str, ...] = ()
    shard: Optional[str] = None  # "I/N"
    workers: Optional[int] = None
    timeout: Optional[float] = None
    memory_limit: Optional[str] = None  # e.g. "8G"
    cache_dir: Optional[str] = None
    journal: Optional[str] = None
    resume: Optional[str] = None
    repro_dir: Optional[str] = None
    bisect: bool = False
    localize: bool = False


@dataclass(frozen=True)
class MergeRequest:
    inputs: tuple[str, ...]
    reports: Reports = field(default_factory=Reports)
    judging: Judging = field(default_factory=Judging)
    allow_partial: bool = False  # merge the shards there are, even when some of the matrix are missing


Request = Union[RunRequest, MergeRequest]
# The options whose value is a path the run writes or reads beside the configs: the action's docker mode mounts
# the folder of each (a test keeps action.yml's list equal to this one).
FILE_OPTIONS = ("--junit", "--json", "--markdown", "--html", "--journal", "--resume", "--baseline")
FOLDER_OPTIONS = ("--repro-dir", "--cache-dir")


def build_parser() -> argparse.ArgumentParser:
    """`verify-compile run|merge|action`. Abbreviated options are refused: an abbreviation would escape every
    list of options (the action's mounts among them) and change meaning when an option is added."""
    parser = argparse.ArgumentParser(prog="verify-compile", allow_abbrev=False,
                                     description="CI gate that proves torch.compile gives the same answers as eager")
    parser.add_argument("--version", action="version", version=f"verify-compile {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{run,merge,action}")
    run = sub.add_parser("run", allow_abbrev=False, help="verify the models of one or more configs")
    run.add_argument("configs", nargs="+", metavar="CONFIG", help="YAML config file(s)")
    add_run_options(run)
    merge = sub.add_parser("merge", allow_abbrev=False,
                           help="combine the --json results of several shards into one report")
    merge.add_argument("inputs", nargs="+", metavar="RESULTS.json", help="the --json results of each shard")
    add_merge_options(merge)
    sub.add_parser("action", help="run as the GitHub Action: inputs from INPUT_* variables (see action.yml)")
    return parser


def options_parser(command: str) -> argparse.ArgumentParser:
    """The options of `run` or `merge` alone (extra positionals are more configs or results files): what the
    action's `args` input may hold."""
    parser = _Raising(prog=f"verify-compile {command} (action input 'args')", allow_abbrev=False, add_help=False)
    parser.add_argument("extra_paths", nargs="*", metavar="PATH")
    (add_run_options if command == "run" else add_merge_options)(parser)
    return parser


class _Raising(argparse.ArgumentParser):
    """A parser whose mistakes are exceptions (argparse.ArgumentError) rather than a usage text and an exit."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise argparse.ArgumentError(None, message)


def add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", help="override every model's device: auto, cpu, cuda, cuda:N")
    p.add_argument("--backends", help="override every model's backends, comma separated (e.g. inductor,aot_eager)")
    p.add_argument("--only", action="append", default=[], metavar="GLOB",
                   help="run only cases whose id 'model[backend]' or model name matches (repeatable)")
    p.add_argument("--shard", metavar="I/N", help="run the I-th of N cost-balanced shares of the cases")
    p.add_argument("--workers", type=int, metavar="N",
                   help="worker processes side by side (default: one per visible GPU on CUDA, else 1)")
    p.add_argument("--timeout", type=float, metavar="SECONDS", help="override every model's timeout")
    p.add_argument("--memory-limit", metavar="SIZE", help="kill a worker whose resident memory passes SIZE (e.g. 8G)")
    p.add_argument("--cache-dir", metavar="DIR", help="persistent compile cache (also config key cache_dir)")
    p.add_argument("--journal", metavar="PATH", help="where to journal results as they finish")
    p.add_argument("--resume", metavar="JOURNAL", help="skip cases this journal has already finished")
    p.add_argument("--repro-dir", metavar="DIR", help="write a standalone repro bundle for each mismatch here")
    p.add_argument("--bisect", action="store_true",
                   help="on an inductor mismatch, find the first bad compiler stage/pass (CompilerBisector)")
    p.add_argument("--localize", action="store_true",
                   help="on a mismatch, name the submodule and source line where it starts, write a minimal repro "
                        "(with --repro-dir) and a re-checked workaround")
    add_report_options(p)


def add_merge_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--allow-partial", action="store_true",
                   help="merge the shards given even when others of the same matrix are missing (else exit 1)")
    add_report_options(p)


def add_report_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--junit", metavar="PATH", help="write a JUnit XML report")
    p.add_argument("--junit-strict", action="store_true",
                   help="leave out testcase file/line (the model's line in its config), which the strict Jenkins "
                        "xunit schema rejects; by default they are there, for reporters that annotate with them")
    p.add_argument("--junit-file-line", action="store_true", help=argparse.SUPPRESS)  # the default since 1.1
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


def from_args(args: argparse.Namespace, command: str, paths: tuple = ()) -> Request:
    """The request a parsed command line means; `paths`: configs or results files given elsewhere (the
    action's inputs), before those of the command line."""
    reports = Reports(junit=args.junit, junit_file_line=not args.junit_strict, json=args.json,
                      markdown=args.markdown, html=args.html)
    judging = Judging(fail_on=args.fail_on, baseline=args.baseline, update_baseline=args.update_baseline)
    given = tuple(paths) + tuple(getattr(args, "configs", None) or getattr(args, "inputs", None)
                                 or getattr(args, "extra_paths", None) or ())
    if command == "merge":
        return MergeRequest(inputs=given, reports=reports, judging=judging, allow_partial=args.allow_partial)
    return RunRequest(configs=given, reports=reports, judging=judging, device=args.device, backends=args.backends,
                      only=tuple(args.only), shard=args.shard, workers=args.workers, timeout=args.timeout,
                      memory_limit=args.memory_limit, cache_dir=args.cache_dir, journal=args.journal,
                      resume=args.resume, repro_dir=args.repro_dir, bisect=args.bisect,
                      localize=args.localize)
