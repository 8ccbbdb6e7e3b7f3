"""Runs EnricoMi/publish-unit-test-result-action's own parsing and annotation code on one JUnit file and writes
what it produced as JSON. Usage, from the workspace folder, with a Python that has the action's requirements:

    python enricomi.py OUT.json SOURCES/publish-unit-test-result-action REPORT

The calls are publish_test_results.main()'s, with the action's defaults: parse_junit_xml_files, then
process_junit_xml_elems, get_test_results, get_stats, then the check run's case annotations
(get_case_annotations) and its skipped-tests list (get_skipped_tests_list).
"""

import json
import sys


def main(out: str, src: str, report: str) -> None:
    sys.path.insert(0, f"{src}/python")
    from publish import get_case_annotations, get_skipped_tests_list
    from publish.junit import parse_junit_xml_files, process_junit_xml_elems
    from publish.unittestresults import get_stats, get_test_results

    parsed = process_junit_xml_elems(parse_junit_xml_files([report], False, False)).with_commit("0" * 40)
    results = get_test_results(parsed, False)
    stats = get_stats(results)
    cases = [{"name": c.test_name, "class_name": c.class_name, "result": c.result, "message": c.message,
              "content": c.content, "test_file": c.test_file, "line": c.line} for c in parsed.cases]
    annotations = [a.to_dict() for a in get_case_annotations(results.case_results, False)]
    counts = {"tests": stats.tests, "succ": stats.tests_succ, "skip": stats.tests_skip, "fail": stats.tests_fail,
              "error": stats.tests_error}
    with open(out, "w") as f:
        json.dump({"counts": counts, "cases": cases, "annotations": annotations,
                   "skipped_list": get_skipped_tests_list(results.case_results),
                   "parse_errors": [e.message for e in parsed.errors]}, f, indent=1)


if __name__ == "__main__":
    main(*sys.argv[1:4])
