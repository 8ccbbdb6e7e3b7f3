"""The GitHub Action's entrypoint, driven exactly as the runner drives it: a workspace as the working directory,
inputs as INPUT_* variables, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, `verify-compile action` as a process.
The log is then read the way the runner reads it, workflow commands, `::stop-commands::` fences and all (the
runner's side: helpers.py; the workflow-command helpers alone: tests/unit/test_workflow_commands.py)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

from helpers import REPO, judged, live_commands, parse_command, read_outputs, run_action, write
from verify_compile.records import dump_json
from verify_compile.results import RunResult

BACKEND = '''\
import operator

import torch


def mul_to_add(gm, example_inputs):
    """Wrong on purpose: every multiplication in the graph becomes an addition."""
    for node in gm.graph.nodes:
        if node.op == "call_function" and node.target in (operator.mul, torch.mul):
            node.target = torch.add
    gm.recompile()
    return gm.forward
'''

MODELS = '''\
def scale(x):
    return x * 3.0


def hostile(x):
    print("::error file=evil.py,line=1::printed by the model")
    print("##[set-output name=total;]999")
    raise RuntimeError("::error::raised by the model\\n::set-output name=total::999\\n::add-mask::x")
'''

CONFIG = '''\
version: 1
defaults:
  device: cpu
models:
  - name: scale
    function: models.py:scale
    backends: [aot_eager, backends.py:mul_to_add]
    inputs:
      - args: [{shape: [4]}]
'''

HOSTILE = '''\
version: 1
models:
  - name: first
    function: models.py:scale
    inputs:
      - args: [{shape: [4]}]

  - name: hostile
    function: models.py:hostile
    inputs:
      - args: [{shape: [4]}]
'''


def make_workspace(tmp_path: Path, config: str) -> Path:
    workspace = tmp_path / "workspace"
    write(workspace / "models.py", MODELS)
    write(workspace / "backends.py", BACKEND)
    write(workspace / "ci" / "verify.yaml", config.replace("models.py", "../models.py")
          .replace("backends.py", "../backends.py"))
    return workspace


def test_pass_and_mismatch_reach_outputs_summary_annotations_and_merge(tmp_path):
    workspace = make_workspace(tmp_path, CONFIG)
    proc = run_action(workspace, {"config": "ci/verify.yaml", "junit_path": "reports/junit.xml",
                                  "json_path": "shards/shard-1.json"})
    assert proc.returncode == 1, proc.stdout  # the mismatch fails the step
    outputs = read_outputs(tmp_path / "output")
    timing = {key: outputs.pop(key) for key in ("time", "summary_path")}
    zero = dict.fromkeys(("errored", "skipped", "flaky", "xfailed", "xpassed", "gated", "interrupted"), "0")
    assert outputs == {"conclusion": "failed", "junit_path": "reports/junit.xml", "json_path": "shards/shard-1.json",
                       "markdown_path": "", "html_path": "", "total": "2", "passed": "1", "mismatched": "1",
                       **zero, "failed": "1"}
    assert 0 < float(timing["time"]) < 300

    summary = (tmp_path / "summary.md").read_text()
    assert Path(timing["summary_path"]).read_text() == summary  # the step summary's text, in a file of its own
    assert summary.startswith("## verify-compile: ❌ failed: 2 case(s): 1 pass, 1 mismatch")
    assert "| scale | ✅" in summary and "| ❌ " in summary
    assert "<details><summary>❌ scale[mul_to_add]: mismatch" in summary

    commands = [parse_command(c) for c in live_commands(proc.stdout) if not c.startswith("::stop-commands::")]
    errors = [c for c in commands if c[0] == "error"]
    assert len(errors) == 1
    _, props, message = errors[0]
    assert props["file"] == "ci/verify.yaml" and props["line"] == "5"  # `- name: scale`, relative to the workspace
    assert props["title"] == "verify-compile: scale[mul_to_add] mismatch"
    assert "differ" in message
    assert {c[0] for c in commands} == {"group", "endgroup", "error"}

    junit = ET.parse(workspace / "reports" / "junit.xml").getroot()
    cases = {c.get("name"): c for c in junit.iter("testcase")}
    assert set(cases) == {"scale[aot_eager]", "scale[mul_to_add]"}
    assert cases["scale[mul_to_add]"].find("failure") is not None
    assert (cases["scale[mul_to_add]"].get("file"), cases["scale[mul_to_add]"].get("line")) == ("ci/verify.yaml", "5")

    # The sharded-matrix recipe's last job: merge the shards' JSON into one report with the same totals.
    merged = run_action(workspace, {"merge": "shards/*.json", "junit_path": "reports/merged.xml"})
    assert merged.returncode == 1, merged.stdout
    merged_outputs = read_outputs(tmp_path / "output")
    assert Path(merged_outputs.pop("summary_path")).is_file() and float(merged_outputs.pop("time")) >= 0
    assert merged_outputs == {**outputs, "junit_path": "reports/merged.xml", "json_path": ""}
    assert (workspace / "reports" / "merged.xml").is_file()


def test_text_from_the_model_cannot_inject_workflow_commands(tmp_path):
    workspace = make_workspace(tmp_path, HOSTILE)
    # fail_on by its hyphenated spelling (INPUT_FAIL-ON, as the runner passes an input id `fail-on`): an error
    # then does not fail the step, and is annotated as a warning
    proc = run_action(workspace, {"config": "ci/*.yaml", "backends": "eager", "fail-on": "mismatch",
                                  "junit_strict": "true"})
    assert proc.returncode == 0, proc.stdout
    assert read_outputs(tmp_path / "output")["errored"] == "1"
    assert read_outputs(tmp_path / "output")["conclusion"] == "passed"  # an error, but fail_on is mismatch only

    # The hostile text is in the log (a user needs to see it), but only inside stop-commands fences.
    assert "::error file=evil.py,line=1::printed by the model" in proc.stdout
    assert "##[set-output name=total;]999" in proc.stdout
    live = live_commands(proc.stdout)
    commands = [parse_command(c) for c in live if not c.startswith("::stop-commands::")]
    assert {c[0] for c in commands} == {"group", "endgroup", "warning"}, live
    (_, props, message), = [c for c in commands if c[0] == "warning"]
    assert props == {"file": "ci/verify.yaml", "line": "8", "title": "verify-compile: hostile[eager] error in eager"}
    assert message.startswith("eager: RuntimeError: ::error::raised by the model")  # as data, escaped
    assert not any("evil.py" in c or "999" in c for c in live if not c.startswith("::warning"))

    junit = ET.parse(workspace / "verify-compile-junit.xml").getroot()  # the default junit_path
    assert all(c.get("file") is None and c.get("line") is None for c in junit.iter("testcase"))  # strict


def test_missing_config_is_a_usage_error(tmp_path):
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    proc = run_action(workspace, {"device": "cpu"})
    assert proc.returncode == 2
    assert [parse_command(c)[0] for c in live_commands(proc.stdout)] == ["error"]
    assert "input 'config' is required" in proc.stdout


def test_config_text_in_error_messages_is_fenced(tmp_path):
    # The CLI's own messages quote the config: here a path with newlines, so a line of the log starts with it.
    workspace = tmp_path / "workspace"
    write(workspace / "broken.yaml", 'version: 1\nmodels:\n  - name: a\n'
                                     '    function: "no.py\\n::error file=evil.py::from the config\\n.py:f"\n')
    proc = run_action(workspace, {"config": "broken.yaml"})
    assert proc.returncode == 2, proc.stdout
    assert "\n::error file=evil.py::from the config\n" in proc.stdout
    live = [c for c in live_commands(proc.stdout) if not c.startswith("::stop-commands::")]
    # one annotation, on the config's own line, with the quoted text escaped inside its message
    assert [parse_command(c)[0] for c in live] == ["error"]
    assert "file=broken.yaml,line=4," in live[0] and "%0A::error file=evil.py" in live[0]
    assert "nothing was run" in (tmp_path / "summary.md").read_text()
    outputs = read_outputs(tmp_path / "output")
    assert (outputs["total"], outputs["junit_path"], outputs["conclusion"]) == ("0", "", "failed")
    assert "nothing was run" in Path(outputs["summary_path"]).read_text()


def test_summary_and_annotations_switch_off_and_globs_recurse(tmp_path):
    """summary: false and annotations: false leave the step summary empty and the log without annotations (the
    details stay in their log groups, the summary in its file); `**` in config finds a config two folders down."""
    workspace = make_workspace(tmp_path, CONFIG)
    deep = (workspace / "ci" / "verify.yaml").read_text().replace("../", "../../../")
    write(workspace / "ci" / "a" / "b" / "deep.yaml", deep.replace("name: scale", "name: deep"))
    proc = run_action(workspace, {"config": "ci/**/*.yaml", "summary": "false", "annotations": "false"})
    assert proc.returncode == 1, proc.stdout
    outputs = read_outputs(tmp_path / "output")
    assert (outputs["total"], outputs["mismatched"], outputs["conclusion"]) == ("4", "2", "failed")
    assert (tmp_path / "summary.md").read_text() == ""
    assert "deep[mul_to_add]: mismatch" in Path(outputs["summary_path"]).read_text()
    commands = {parse_command(c)[0] for c in live_commands(proc.stdout) if not c.startswith("::stop-commands::")}
    assert commands == {"group", "endgroup"}

    bad = run_action(workspace, {"config": "ci/verify.yaml", "annotations": "no"})
    assert bad.returncode == 2 and "input 'annotations' must be true or false" in bad.stdout


def run_action_yml(workspace: Path, inputs: dict, path: str, github: dict | None = None,
                   env_extra: dict | None = None) -> subprocess.CompletedProcess:
    """action.yml's own step script, as the runner runs a composite step: its `env:` with `${{ inputs.x }}` and
    `${{ github.x }}` filled in (defaults, then `inputs`; `github` as for `uses: ./` unless given),
    GITHUB_ACTION_PATH at this repository, RUNNER_TEMP beside the workspace, the workspace as cwd."""
    action = yaml.safe_load((REPO / "action.yml").read_text())
    values = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()} | inputs
    contexts = {"inputs": values, "github": {"action_repository": "", "action_ref": "", **(github or {})}}
    (step,) = action["runs"]["steps"]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("INPUT_", "GITHUB_", "PYTHON", "RUNNER_", "ACTIONS_", "VIRTUAL_ENV"))}
    env.update({k: re.sub(r"\$\{\{ (inputs|github)\.(\w+) \}\}", lambda m: contexts[m.group(1)][m.group(2)], str(v))
                for k, v in step["env"].items()})
    runner_temp = workspace.parent / "runner-temp"
    runner_temp.mkdir(exist_ok=True)
    env.update(PATH=f"{path}:{env['PATH']}", GITHUB_ACTION_PATH=str(REPO), GITHUB_WORKSPACE=str(workspace),
               GITHUB_OUTPUT=str(workspace.parent / "output"), GITHUB_STEP_SUMMARY=str(workspace.parent / "summary.md"),
               RUNNER_TEMP=str(runner_temp))
    env.update(env_extra or {})
    for name in ("output", "summary.md"):
        (workspace.parent / name).write_text("")
    return subprocess.run([shutil.which("bash") or "bash", "-c", step["run"]], cwd=workspace, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)


def job_python(tmp_path: Path) -> Path:
    """A job whose `python` is this interpreter, virtual environment or not: a wrapper, not a symlink, since
    Python finds its venv from the path it was started by."""
    bin_dir = tmp_path / "job-bin"
    write(bin_dir / "python", f'#!/bin/sh\nexec "{sys.executable}" "$@"\n').chmod(0o755)
    return bin_dir


def pip_freeze() -> str:
    return subprocess.run([sys.executable, "-m", "pip", "freeze", "--all"], capture_output=True, text=True,
                          check=True).stdout


def test_action_yml_python_mode_keeps_the_jobs_torch(tmp_path):
    """mode python verifies the job's torch from a virtual environment of its own: the job's packages are the
    same before and after, the tool is in that environment (without a torch of its own), and a merge job installs
    no torch at all."""
    import torch

    before = pip_freeze()
    workspace = make_workspace(tmp_path, CONFIG)
    proc = run_action_yml(workspace, {"mode": "python", "config": "ci/verify.yaml", "json_path": "shard-1.json"},
                          str(job_python(tmp_path)))
    assert proc.returncode == 1, proc.stdout  # the mismatch
    assert f"Requirement already satisfied: torch=={torch.__version__}" in proc.stdout
    assert read_outputs(tmp_path / "output")["mismatched"] == "1"
    assert [parse_command(c)[0] for c in live_commands(proc.stdout) if c.startswith("::error")] == ["error"]
    (lib,) = (tmp_path / "runner-temp").glob("verify-compile-*/venv/lib/python3.*/site-packages")
    assert (lib / "verify_compile").is_dir() and not (lib / "torch").exists()
    assert pip_freeze() == before, "mode python changed the job's own packages"

    merged = run_action_yml(workspace, {"mode": "python", "merge": "shard-*.json"}, str(job_python(tmp_path)))
    assert merged.returncode == 1, merged.stdout
    install_log = merged.stdout.split("::endgroup::")[0]
    assert "Processing" in install_log and "torch" not in install_log
    assert read_outputs(tmp_path / "output")["total"] == "2"


def test_action_yml_python_mode_without_a_python_says_so(tmp_path):
    """No Python 3.10+ on PATH (here: only a `python3` that is too old): exit 2 with an error, before anything."""
    workspace = make_workspace(tmp_path, CONFIG)
    bin_dir = tmp_path / "bare-bin"
    write(bin_dir / "python3", "#!/bin/sh\nexit 1\n").chmod(0o755)  # what a Python 3.9 answers the version test
    (bin_dir / "mktemp").symlink_to(shutil.which("mktemp"))
    proc = run_action_yml(workspace, {"mode": "python", "config": "ci/verify.yaml"}, str(bin_dir),
                          env_extra={"PATH": str(bin_dir)})
    assert proc.returncode == 2, proc.stdout
    assert [parse_command(c)[0] for c in live_commands(proc.stdout)] == ["error"]
    assert "mode python needs Python 3.10 or newer on PATH" in proc.stdout
    assert read_outputs(tmp_path / "output")["conclusion"] == "failed", "a refusal still gives the conclusion"


STANDIN_DOCKER = """\
#!/bin/sh
# A stand-in `docker`: records each call (one JSON list a line), answers `pull` with $STANDIN_PULL_RC and
# `buildx inspect` with $STANDIN_BUILDX_DRIVER (the docker driver by default), and everything else with success.
"$STANDIN_PYTHON" -c 'import json, sys; print(json.dumps(sys.argv[1:]))' "$@" >>"$STANDIN_LOG"
case "$1 $2" in
  "pull "*) exit "${STANDIN_PULL_RC:-0}" ;;
  "buildx inspect") printf 'Name:   default\nDriver: %s\n' "${STANDIN_BUILDX_DRIVER:-docker}" ;;
esac
exit 0
"""
RELEASE = {"action_repository": "Verify-Compile/verify-compile-action", "action_ref": "v1"}
PREBUILT = "ghcr.io/verify-compile/verify-compile-action:1.0.0-torch2.13.0-cpu"
BUILT = "verify-compile-action:1.0.0-torch2.13.0-cpu"


def docker_calls(tmp_path: Path, inputs: dict, github: dict | None = None, pull_rc: int = 0,
                 env_extra: dict | None = None) -> tuple:
    """action.yml in docker mode with the stand-in `docker` (and an `nvidia-smi` that finds no GPU) first on
    PATH: (the process, the docker calls it made)."""
    bin_dir, log = tmp_path / "standin-bin", tmp_path / "docker-calls.jsonl"
    write(bin_dir / "docker", STANDIN_DOCKER).chmod(0o755)
    write(bin_dir / "nvidia-smi", "#!/bin/sh\nexit 9\n").chmod(0o755)
    log.write_text("")
    workspace = tmp_path / "workspace"
    workspace.mkdir(exist_ok=True)
    proc = run_action_yml(workspace, {"config": "c.yaml", **inputs}, str(bin_dir), github,
                          {"STANDIN_LOG": str(log), "STANDIN_PYTHON": sys.executable,
                           "STANDIN_PULL_RC": str(pull_rc), **(env_extra or {})})
    return proc, [json.loads(line) for line in log.read_text().splitlines()]


def image_run(calls: list) -> list:
    (run,) = [c for c in calls if c[0] == "run"]
    assert run[-1] == "action", run
    return run


def test_docker_mode_runs_the_release_image_when_it_pulls(tmp_path):
    proc, calls = docker_calls(tmp_path, {}, RELEASE)
    assert proc.returncode == 0, proc.stdout
    assert [c[0] for c in calls] == ["pull", "run"], calls
    assert calls[0] == ["pull", PREBUILT]  # owner lower-cased: registries take no capitals
    assert image_run(calls)[-2] == PREBUILT


def test_docker_mode_builds_when_the_release_image_does_not_pull(tmp_path):
    proc, calls = docker_calls(tmp_path, {}, RELEASE, pull_rc=1,
                               env_extra={"STANDIN_BUILDX_DRIVER": "docker-container"})
    assert proc.returncode == 0, proc.stdout
    assert "No prebuilt image " + PREBUILT in proc.stdout
    assert [c[0] for c in calls] == ["pull", "build", "run"], calls  # no cache service exposed: a plain build
    (build,) = [c for c in calls if c[0] == "build"]
    assert build == ["build", "--tag", BUILT, "--build-arg", "TORCH_VERSION=2.13.0", "--build-arg",
                     "TORCH_VARIANT=cpu", str(REPO)]
    assert image_run(calls)[-2] == BUILT


def test_docker_mode_builds_with_the_torch_index_and_the_gha_cache(tmp_path):
    """A torch index is a torch the release image does not hold: no pull, a build that takes the index; with the
    job's cache service exposed and buildx present, the build keeps its layers in GitHub's cache."""
    index = "https://download.pytorch.org/whl/cu126"
    cache = {"ACTIONS_RUNTIME_TOKEN": "t", "ACTIONS_RESULTS_URL": "https://results/",
             "STANDIN_BUILDX_DRIVER": "docker-container"}
    proc, calls = docker_calls(tmp_path, {"torch_index_url": index, "torch_variant": "cuda"}, RELEASE,
                               env_extra=cache)
    assert proc.returncode == 0, proc.stdout
    assert [c[:2] for c in calls] == [["buildx", "inspect"], ["buildx", "build"], ["run", "--rm"]]
    scope = "scope=verify-compile-torch2.13.0-cuda"
    assert calls[1] == ["buildx", "build", "--load", "--cache-from", f"type=gha,{scope}", "--cache-to",
                        f"type=gha,mode=max,{scope}", "--tag", "verify-compile-action:1.0.0-torch2.13.0-cuda",
                        "--build-arg", "TORCH_VERSION=2.13.0", "--build-arg", "TORCH_VARIANT=cuda",
                        "--build-arg", f"TORCH_INDEX_URL={index}", str(REPO)]


def test_docker_mode_builds_for_a_local_or_branch_action_and_runs_a_given_image(tmp_path):
    """`uses: ./` or `@main` may be ahead of the release image: built, never pulled. `image:` is run as given."""
    for github in ({}, {**RELEASE, "action_ref": "main"}):
        # the cache service exposed, but buildx's default builder is the plain docker driver: a plain build
        proc, calls = docker_calls(tmp_path, {}, github, env_extra={"ACTIONS_RUNTIME_TOKEN": "t",
                                                                    "ACTIONS_CACHE_URL": "https://cache/"})
        assert proc.returncode == 0, proc.stdout
        assert [c[0] for c in calls] == ["buildx", "build", "run"] and calls[0][:2] == ["buildx", "inspect"], calls
    proc, calls = docker_calls(tmp_path, {"image": "mine:1"}, RELEASE)
    assert [c[0] for c in calls] == ["run"] and image_run(calls)[-2] == "mine:1"


def test_docker_mode_mounts_every_output_path_or_refuses(tmp_path):
    out = tmp_path / "out dir"
    args = (f"--html '{out}/h/r.html' \"--markdown={out}/m.md\" --journal j/run.jsonl --repro-dir '{out}/repro' "
            f"--baseline {str(out).replace(' ', chr(92) + ' ')}/base/b.json --update-baseline")  # quoted 3 ways
    inputs = {"junit_path": str(out / "junit" / "r.xml"), "json_path": "../elsewhere/r.json", "args": args}
    proc, calls = docker_calls(tmp_path, inputs, RELEASE)
    assert proc.returncode == 0, proc.stdout
    run = image_run(calls)
    mounts = {run[i + 1] for i, a in enumerate(run) if a == "-v"}
    for folder in ("junit", "h", "repro", "base"):
        assert f"{out / folder}:{out / folder}" in mounts, (folder, mounts)
        assert (out / folder).is_dir()  # made by the runner's user, not by docker as root
    assert f"{out}:{out}" in mounts  # --markdown=... beside them
    assert f"{tmp_path / 'elsewhere'}:{tmp_path / 'elsewhere'}" in mounts
    workspace = tmp_path / "workspace"
    assert f"{workspace}:{workspace}" in mounts and not any(m.startswith(f"{workspace}/j") for m in mounts)

    for args in ("--markdown /etc/verify-compile.md", "--junit /usr/r.xml", "--html 'unbalanced"):
        proc, calls = docker_calls(tmp_path, {"args": args}, RELEASE)
        assert proc.returncode == 2, proc.stdout
        assert calls == [], "refused before pulling, building or running anything"
        (error,) = [parse_command(c) for c in live_commands(proc.stdout)]
        assert error[0] == "error" and ("cannot keep" in error[2] or "cannot split" in error[2]), error


def test_merge_needs_no_torch(tmp_path):
    """The merge job of a sharded matrix installs no torch (mode python + merge): the tool must not import it."""
    workspace = tmp_path / "workspace"
    write(workspace / "ci" / "verify.yaml", CONFIG)
    for shard, outcome in ((1, "pass"), (2, "skip")):
        result = judged(outcome, case_id=f"m{shard}[inductor]", index=shard, model=f"m{shard}", backend="inductor",
                        config="ci/verify.yaml", line=4 + shard)
        write(workspace / f"shard-{shard}.json", dump_json(RunResult([result], {"shard": f"{shard}/2"})))
    no_torch = ("import sys; sys.modules['torch'] = None; from verify_compile.__main__ import main; "
                "sys.exit(main(['action']))")
    proc = run_action(workspace, {"merge": "shard-*.json"}, cmd=[sys.executable, "-c", no_torch])
    assert proc.returncode == 0, proc.stdout
    outputs = read_outputs(tmp_path / "output")
    assert (outputs["total"], outputs["passed"], outputs["skipped"]) == ("2", "1", "1")


def test_outputs_add_up_and_every_outcome_is_annotated(tmp_path):
    """A run with every outcome (the consumers' fixture: 1 pass, 2 mismatch, 2 error, 1 skip, 1 flaky, 1 xfail,
    1 xpass, 1 gate, 1 interrupted) once gave total=11 and skipped=1, and annotated only mismatch, error, xpass
    and gate. Merged here, so nothing compiles."""
    workspace = tmp_path / "workspace"
    shutil.copytree(REPO / "tests" / "consumers", workspace / "tests" / "consumers")
    proc = run_action(workspace, {"merge": "tests/consumers/results.json", "json_path": "all.json",
                                  "markdown_path": "s.md", "html_path": "r.html", "annotations_limit": "3"})
    assert proc.returncode == 1, proc.stdout  # the interrupted case fails it, like the other six
    outputs = read_outputs(tmp_path / "output")
    counts = {name: int(outputs[name]) for name in ("passed", "mismatched", "errored", "skipped", "flaky", "xfailed",
                                                     "xpassed", "gated", "interrupted")}
    assert counts == {"passed": 1, "mismatched": 2, "errored": 2, "skipped": 1, "flaky": 1, "xfailed": 1,
                      "xpassed": 1, "gated": 1, "interrupted": 1}
    assert sum(counts.values()) == int(outputs["total"]) == 11 and outputs["failed"] == "7"
    for name, path in (("json_path", "all.json"), ("markdown_path", "s.md"), ("html_path", "r.html")):
        assert outputs[name] == path and (workspace / path).is_file(), name
    shown = [parse_command(c) for c in live_commands(proc.stdout) if c.startswith(("::error", "::warning", "::notice"))]
    by_level: dict = {}
    for level, props, message in shown:
        by_level.setdefault(level, []).append((props.get("title", ""), message))
    assert len(by_level["error"]) == 3, "at most annotations_limit of a level"
    assert [t for t, _ in by_level["warning"]] == ["verify-compile: noisy[aot_eager] flaky"]
    notices = [t for t, _ in by_level["notice"]]
    assert notices[:2] == ["verify-compile: known[relu_accuracy_error_TESTING_ONLY] xfail",
                           "verify-compile: gpu_only[aot_eager] skip"]
    assert "4 more error(s) not annotated" in by_level["notice"][-1][1]
    assert all(message for _, message in by_level["warning"] + by_level["notice"][:2]), "each with its reason"


def test_a_refusal_of_the_shell_step_still_gives_a_conclusion(tmp_path):
    """`mode: python` without Python 3.10, a docker-mode path under /usr, a bad mode: exit 2 with every output
    (conclusion failed, counts 0) and a summary, as the tool's own refusals give."""
    workspace = make_workspace(tmp_path, CONFIG)
    proc = run_action_yml(workspace, {"mode": "podman", "config": "ci/verify.yaml"}, os.environ["PATH"])
    assert proc.returncode == 2, proc.stdout
    outputs = read_outputs(tmp_path / "output")
    assert outputs["conclusion"] == "failed" and outputs["total"] == "0" and outputs["interrupted"] == "0"
    summary = Path(outputs["summary_path"]).read_text()
    assert "nothing was run" in summary and "input mode must be docker or python" in summary
    assert "nothing was run" in (tmp_path / "summary.md").read_text()


def test_an_unwritable_github_output_is_a_message_and_the_reports_stay(tmp_path):
    """An unwritable $GITHUB_OUTPUT ended the action in a traceback (issue #19)."""
    workspace = make_workspace(tmp_path, CONFIG)
    (tmp_path / "a folder").mkdir()
    proc = run_action(workspace, {"config": "ci/verify.yaml", "backends": "aot_eager"},
                      env_extra={"GITHUB_OUTPUT": str(tmp_path / "a folder")})
    assert proc.returncode == 1, proc.stdout  # the case passed, but the step could not give its outputs
    assert "Traceback" not in proc.stdout and "cannot write $GITHUB_OUTPUT" in proc.stdout
    assert (workspace / "verify-compile-junit.xml").is_file() and (tmp_path / "summary.md").read_text()
