"""The pytest plugin (entry point `pytest11`, installed with the package): `pytest --verify-compile CONFIG`.

Every case of the configs is a test item named by its case id (`models.yaml::mlp[inductor]`), so `-k`, `--lf`,
`-x`, markers and `--junitxml` work as for any test. Items run one at a time through the same isolated worker
pool as `verify-compile run` (a crash or a hang costs its item), and each is judged by the one judgement:
a pass passes; an outcome in `--verify-compile-fail-on` fails with the located message; an `xfail` entry is
pytest's strict xfail (an expected failure is xfailed, a pass XPASS(strict) fails); anything else is skipped
with its reason. A mistake in a config is a pytest usage error naming its file and line. Without
`--verify-compile` the plugin does nothing.
"""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Any, Optional

import pytest

from verify_compile import results as R
from verify_compile.errors import ConfigError, ConfigErrors
from verify_compile.spec import Case, RunSettings

_CASES = pytest.StashKey[dict]()  # resolved config path -> its cases
_RUNNER = pytest.StashKey[Any]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("verify-compile")
    group.addoption("--verify-compile", action="append", default=[], metavar="CONFIG",
                    help="collect every case of this verify-compile config as a test (repeatable; globs allowed)")
    group.addoption("--verify-compile-fail-on", default=",".join(R.DEFAULT_FAIL_ON), metavar="OUTCOMES",
                    help="outcomes that fail their test, as verify-compile's --fail-on (others are skipped); "
                         "default: %(default)s")
    group.addoption("--verify-compile-cache-dir", metavar="DIR", help="persistent compile cache, as --cache-dir")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "verify_compile: a case of a verify-compile config (pytest --verify-compile)")
    paths = _configs(config.getoption("verify_compile"))
    if not paths:
        return
    from verify_compile.preflight import parse_fail_on

    try:
        parse_fail_on(config.getoption("verify_compile_fail_on"))
        config.stash[_CASES] = _load(paths)
    except (ConfigError, ConfigErrors) as e:
        raise pytest.UsageError(f"verify-compile: {e}") from None
    config.args.extend(str(p) for p in paths if str(p) not in config.args)  # collected as any test file


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> Optional[pytest.Collector]:
    cases = parent.config.stash.get(_CASES, {})
    if file_path.resolve() in cases:
        return ConfigFile.from_parent(parent, path=file_path)
    return None


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the workers and check the configs against their torch before any item runs (a typo in a backend
    name is a usage error, not a column of red items)."""
    items = [item for item in session.items if isinstance(item, CaseItem)]
    if not items or session.config.option.collectonly:
        return
    runner = _Runner(session.config)
    session.config.stash[_RUNNER] = runner
    try:
        runner.start([item.case for item in items])
    except (ConfigError, ConfigErrors) as e:
        runner.close()
        raise pytest.UsageError(f"verify-compile: {e}") from None


def pytest_unconfigure(config: pytest.Config) -> None:
    runner = config.stash.get(_RUNNER, None)
    if runner is not None:
        runner.close()


class ConfigFile(pytest.File):
    def collect(self) -> Any:
        for case in self.config.stash[_CASES][self.path.resolve()]:
            item = CaseItem.from_parent(self, name=case.id, case=case)
            item.add_marker(pytest.mark.verify_compile)
            xfail = case.expectation.xfail
            if xfail is not None:  # pytest's own xfail decides xfailed/XPASS(strict) from what runtest raises
                item.add_marker(pytest.mark.xfail(reason=xfail.reason, strict=True, raises=ExpectedFailure))
            yield item


class ExpectedFailure(Exception):
    """The case failed as its xfail entry expects."""


class VerdictFailure(Exception):
    """The case's verdict fails the run."""


class CaseItem(pytest.Item):
    def __init__(self, *, case: Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case

    def runtest(self) -> None:
        from verify_compile.api import failure_text

        result = self.config.stash[_RUNNER].run(self.case)
        self.user_properties.append(("verify_compile_outcome", str(result.outcome)))
        if result.details:
            self.add_report_section("call", "verify-compile", failure_text(result))
        if result.outcome == R.XFAIL:
            raise ExpectedFailure(result.message)
        if result.failed and result.outcome != R.XPASS:  # an xpass is pytest's own XPASS(strict)
            raise VerdictFailure(failure_text(result))
        if result.outcome not in (R.PASS, R.XPASS):
            pytest.skip(f"{result.outcome}: {result.message}")

    def repr_failure(self, excinfo: pytest.ExceptionInfo, style: Optional[str] = None) -> Any:
        if isinstance(excinfo.value, (VerdictFailure, ExpectedFailure)):
            return str(excinfo.value)  # the located message and details, without a Python traceback
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple:
        return self.path, self.case.model.line - 1 if self.case.model.line else None, self.case.id


class _Runner:
    """The worker pool, started once per session, running one case at a time."""

    def __init__(self, config: pytest.Config) -> None:
        from verify_compile.orchestration.pool import WorkerPool
        from verify_compile.orchestration.session import worker_env
        from verify_compile.preflight import parse_fail_on

        cache_dir = config.getoption("verify_compile_cache_dir")
        self.fail_on = parse_fail_on(config.getoption("verify_compile_fail_on"))
        self.pool = WorkerPool(1, env_for=lambda slot: worker_env(cache_dir, None), settings=RunSettings())

    def start(self, cases: list) -> None:
        from verify_compile.config.torchcheck import check_against_torch

        check_against_torch(cases, self.pool.start())

    def run(self, case: Case) -> R.CaseResult:
        from verify_compile.judgement.judge import judge_case

        seen: list = []
        self.pool.run([case], seen.append)
        return judge_case(seen[0], case.expectation, None, self.fail_on)

    def close(self) -> None:
        self.pool.close()


def _configs(patterns: list) -> list:
    """The configs the patterns name, globs expanded (`**` recursing); a pattern matching nothing is kept, so
    loading names it."""
    found = [Path(f) for pattern in patterns for f in (sorted(glob.glob(pattern, recursive=True)) or [pattern])]
    return list(dict.fromkeys(p.resolve() for p in found))


def _load(paths: list) -> dict:
    from verify_compile.app import load_configs
    from verify_compile.orchestration.cases import expand

    configs = load_configs(tuple(str(p) for p in paths))
    by_path: dict = {p: [] for p in paths}
    for case in expand(configs):
        by_path[Path(case.model.config_file).resolve()].append(case)
    return by_path
