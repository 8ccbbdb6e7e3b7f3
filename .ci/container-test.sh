#!/bin/bash
# The container test: builds the real Dockerfile with rootful podman (no Docker engine or registry here), runs the
# example config in the image as a non-root uid, checks the JUnit file that comes out, then runs action.yml's own
# docker-mode script against the image (with `docker` pointed at podman) and checks its outputs and summary.
# Prints its timings. Exit 77: podman cannot be set up on this machine (not root, or it cannot be installed).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
shared=${SHARED_DIR:-$repo/../shared}
standin="$shared/tools/podman-standin-base.sh"
image=localhost/verify-compile:test
py=${PYTHON:-python3}  # the Python with verify_compile installed (the test passes its own)
start=$SECONDS
last=$SECONDS
took() { echo "container-test: $1: $((SECONDS - last)) s"; last=$SECONDS; }

[ -f "$standin" ] || { echo "container-test: $standin is missing: no way to set podman up here" >&2; exit 77; }
[ "$(id -u)" = 0 ] || { echo "container-test: rootful podman needs root" >&2; exit 77; }
if ! bash "$standin"; then
  command -v podman >/dev/null || { echo "container-test: podman cannot be installed here" >&2; exit 77; }
  echo "container-test: podman is installed but the stand-in base image could not be made" >&2
  exit 1
fi
export CONTAINERS_CONF=${CONTAINERS_CONF_OUT:-/tmp/podman-standin.conf}
took "podman and base image ready"

# torch==X resolves to the CPU wheel in pip's find-links folder: mount it read-only into the build.
mounts=()
for dir in $(pip config get global.find-links 2>/dev/null || true); do
  [ -d "$dir" ] && mounts+=(-v "$dir:$dir:ro")
done
old=$(podman image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
podman build --pull=never --network=host "${mounts[@]}" -t "$image" "$repo"
new=$(podman image inspect --format '{{.Id}}' "$image")
if [ -n "$old" ] && [ "$old" != "$new" ]; then podman rmi "$old" >/dev/null 2>&1 || true; fi  # keep disk bounded
took "image built"

work=$(mktemp -d /tmp/container-test.XXXX)
trap 'rm -rf "$work"' EXIT
mkdir -m 777 "$work/out"
# As a uid with no passwd entry, like the action's --user: proves nothing relies on USER, HOME or root. The
# strict schema's form of the report (no testcase file/line); the action's run below writes the default form.
podman run --rm --network=host --user 1000:1000 -v "$repo:/work" -w /work -v "$work/out:/out" "$image" \
  run configs/example.yaml --junit /out/report.xml --junit-strict
took "example config run in the container"

"$py" - "$repo" "$work/out/report.xml" "$shared" <<'EOF'
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from verify_compile.orchestration.cases import expand
from verify_compile.config.loader import load_config

repo, report = Path(sys.argv[1]), sys.argv[2]
root = ET.parse(report).getroot()  # raises on invalid XML
expected = {case.id for case in expand([load_config(str(repo / "configs" / "example.yaml"))], None, None)}
cases = {c.get("name"): c for c in root.iter("testcase")}
assert set(cases) == expected, f"testcases {sorted(cases)} != expected {sorted(expected)}"
bad = [name for name, c in cases.items() if any(c.find(t) is not None for t in ("failure", "error", "skipped"))]
assert not bad, f"not passing: {bad}"
schema = Path(sys.argv[3]) / "schemas" / "junit-10.xsd"
if schema.is_file():
    import xmlschema

    xmlschema.XMLSchema(str(schema)).validate(report)
print(f"container-test: JUnit OK: {len(cases)} testcases, all pass" + (", strict schema valid" if schema.is_file() else ""))
EOF

# action.yml's docker-mode script, run as the runner runs it: its env with the inputs filled in, `docker` as
# podman (host network: no bridge here), the prebuilt image, a workspace with the example config, and reports
# outside the workspace (JSON, Markdown), which must land on this side too.
mkdir -p "$work/bin" "$work/ws" "$work/runner-temp"
cp -r "$repo/configs" "$work/ws/"
printf '#!/bin/sh\nif [ "$1" = run ]; then shift; exec podman run --network=host "$@"; fi\nexec podman "$@"\n' >"$work/bin/docker"
chmod +x "$work/bin/docker"
: >"$work/output"
: >"$work/summary.md"
(cd "$work/ws" && PATH="$work/bin:$PATH" GITHUB_ACTION_PATH="$repo" GITHUB_WORKSPACE="$work/ws" \
  GITHUB_OUTPUT="$work/output" GITHUB_STEP_SUMMARY="$work/summary.md" GITHUB_ACTIONS=true CI=true \
  RUNNER_TEMP="$work/runner-temp" "$py" - "$repo/action.yml" "$image" "$work" <<'EOF'
import os
import re
import sys

import yaml

action = yaml.safe_load(open(sys.argv[1]))
inputs = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
inputs.update(config="configs/example.yaml", backends="eager,aot_eager", image=sys.argv[2],
              junit_path="reports/junit.xml", json_path=f"{sys.argv[3]}/elsewhere/results.json",
              args=f"--markdown '{sys.argv[3]}/md dir/summary.md'")
contexts = {"inputs": inputs, "github": {"action_repository": "", "action_ref": ""}}  # as for `uses: ./`
(step,) = action["runs"]["steps"]
env = {k: re.sub(r"\$\{\{ (inputs|github)\.(\w+) \}\}", lambda m: contexts[m.group(1)][m.group(2)], str(v))
       for k, v in step["env"].items()}
os.execvpe("bash", ["bash", "-c", step["run"]], {**os.environ, **env})
EOF
) | tee "$work/action.log"
took "action.yml docker mode run"

grep -q '^total<<' "$work/output" || { echo "container-test: no outputs written" >&2; exit 1; }
"$py" - "$work/output" "$work/summary.md" "$work/ws/reports/junit.xml" "$work" <<'EOF'
import json
import sys
import xml.etree.ElementTree as ET

lines = open(sys.argv[1]).read().split("\n")
outputs = {line.split("<<")[0]: lines[i + 1] for i, line in enumerate(lines) if "<<" in line}
assert outputs["total"] == outputs["passed"] == "12" and outputs["mismatched"] == "0", outputs
assert outputs["junit_path"] == "reports/junit.xml" and outputs["conclusion"] == "passed", outputs
summary = open(sys.argv[2]).read()
assert summary.startswith("## verify-compile: ✅"), "summary"
assert open(outputs["summary_path"]).read() == summary, "summary_path is not the step summary"
# the default form: every testcase names its config file and line, for annotations
assert all(c.get("file") and c.get("line") for c in ET.parse(sys.argv[3]).getroot().iter("testcase")), "file/line"
# written inside the container, outside the workspace: on this side all the same
assert len(json.load(open(f"{sys.argv[4]}/elsewhere/results.json"))["results"]) == 12
assert open(f"{sys.argv[4]}/md dir/summary.md").read().startswith("## verify-compile: ✅")
print(f"container-test: action outputs OK: {outputs}")
EOF
echo "container-test: all passed in $((SECONDS - start)) s"
