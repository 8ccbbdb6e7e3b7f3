"""`--resume` keeps only what is still true: a changed config entry, source file, torch or device re-runs the case;
a journal of other configs is refused; two runs never share a journal; the default journal is cleaned up."""

from __future__ import annotations

import fcntl
import json
import shutil

from helpers import ConfigDir, results_by_id, run_cli, write

GOOD = "def b(gm, example_inputs):\n    return gm.forward\n"
WRONG = "def b(gm, example_inputs):\n    return lambda *a: [2 * t for t in gm.forward(*a)]\n"


def _setup(d) -> None:
    folder = ConfigDir(d, ("models.py",))
    folder.add("mybackend.py", GOOD)
    folder("version: 1\ndefaults: {device: cpu, benchmark: false}\nmodels:\n"
           "  - {name: a, function: models.py:relu_model, inputs: [{args: [{shape: [4]}]}],"
           " backends: [aot_eager, mybackend.py:b]}\n"
           "  - {name: c, function: models.py:relu_model, inputs: [{args: [{shape: [4]}]}], backends: [eager]}\n")


def test_resume_reruns_every_case_whose_config_sources_or_torch_changed(tmp_path):
    _setup(tmp_path)
    first = run_cli("run", "cfg.yaml", "--journal", "j.jsonl", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    write(tmp_path / "mybackend.py", WRONG)  # same case id, different backend
    text = (tmp_path / "cfg.yaml").read_text().replace("backends: [eager]}", "backends: [eager], seed: 7}")
    write(tmp_path / "cfg.yaml", text)  # same case id, different config entry
    resumed = run_cli("run", "cfg.yaml", "--resume", "j.jsonl", "--json", "r.json", cwd=tmp_path)
    assert resumed.returncode == 1, "the changed backend is wrong now: no stale pass"
    assert "1 finished case(s) kept, 2 re-run because their config, sources, torch or device changed" \
        in resumed.stderr, resumed.stderr
    results = results_by_id(tmp_path / "r.json")
    assert results["a[b]"]["outcome"] == "mismatch"
    assert json.loads((tmp_path / "r.json").read_text())["meta"]["resumed"] == 1

    # A journal written under another torch or device is not trusted either.
    lines = (tmp_path / "j.jsonl").read_text().splitlines()
    forged = [lines[0]] + [json.dumps({**json.loads(line), "runtime": "torch 0.1 on cpu"}) for line in lines[1:]]
    write(tmp_path / "j.jsonl", "\n".join(forged) + "\n")
    again = run_cli("run", "cfg.yaml", "--resume", "j.jsonl", cwd=tmp_path)
    assert "0 finished case(s) kept, 3 re-run" in again.stderr, again.stderr


def test_a_journal_of_other_configs_is_refused(tmp_path):
    _setup(tmp_path)
    assert run_cli("run", "cfg.yaml", "--journal", "j.jsonl", cwd=tmp_path).returncode == 0
    shutil.copy(tmp_path / "cfg.yaml", tmp_path / "other.yaml")
    proc = run_cli("run", "other.yaml", "--resume", "j.jsonl", cwd=tmp_path)
    assert proc.returncode == 2 and "j.jsonl:1: the journal is of other configs" in proc.stderr, proc.stderr


def test_a_second_run_on_a_locked_journal_is_refused(tmp_path):
    _setup(tmp_path)
    with open(tmp_path / "j.jsonl", "w") as held:  # as a running verify-compile holds it
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        proc = run_cli("run", "cfg.yaml", "--journal", "j.jsonl", cwd=tmp_path)
        assert proc.returncode == 2 and "j.jsonl is in use by another run" in proc.stderr, proc.stderr
        held.write("untouched")
    assert (tmp_path / "j.jsonl").read_text() == "untouched", "the refused run wrote nothing"


def test_the_default_journal_is_removed_after_a_finished_run(tmp_path):
    _setup(tmp_path)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = run_cli("run", "cfg.yaml", cwd=tmp_path, env={"TMPDIR": str(tmp)})
    assert proc.returncode == 0, proc.stderr
    assert [p.name for p in tmp.iterdir() if "journal" in p.name] == []


def test_a_journal_that_cannot_be_written_costs_only_itself(tmp_path):
    """A full disk (here: a file-size limit, so writes fail with EFBIG) once raised out of the run and lost every
    report; now the first failure is a warning and the run goes on without a journal."""
    import subprocess
    import sys

    from helpers import REPO

    script = (
        "import resource, sys\n"
        "from verify_compile.orchestration.journal import Journal\n"
        "from verify_compile.results import Observation\n"
        "j = Journal(sys.argv[1], ['/c.yaml'], ['m[b]'])\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (300, resource.RLIM_INFINITY))\n"
        "r = Observation(case_id='m[b]', index=0, model='m', backend='b', config='c', line=1, outcome='pass',\n"
        "                details='x' * 4000)\n"
        "for _ in range(3):\n"
        "    j.record(r, 'fingerprint', 'runtime')\n"
        "j.close()\n"
        "print('the run went on')\n")
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path / "j.jsonl")], capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO / "entrypoint")}, timeout=60)
    assert proc.returncode == 0 and "the run went on" in proc.stdout, proc.stderr
    assert proc.stderr.count("cannot write the journal") == 1, proc.stderr


def test_a_changed_input_file_reruns_its_case_and_no_report_may_replace_it(tmp_path):
    """The data of a `{file:}` argument decides the verdict like the model's source does: a journal result from
    other data is stale. And as an input of the run, no report may be written over it."""
    import torch

    _setup(tmp_path)
    torch.save(torch.ones(4), tmp_path / "x.pt")
    write(tmp_path / "cfg.yaml", "version: 1\ndefaults: {device: cpu, benchmark: false}\nmodels:\n"
          "  - {name: f, function: models.py:relu_model, inputs: [{args: [{file: x.pt}]}], backends: [eager]}\n"
          "  - {name: c, function: models.py:relu_model, inputs: [{args: [{shape: [4]}]}], backends: [eager]}\n")
    assert run_cli("run", "cfg.yaml", "--journal", "j.jsonl", cwd=tmp_path).returncode == 0
    torch.save(-torch.ones(4), tmp_path / "x.pt")
    resumed = run_cli("run", "cfg.yaml", "--resume", "j.jsonl", cwd=tmp_path)
    assert "1 finished case(s) kept, 1 re-run" in resumed.stderr, resumed.stderr
    before = (tmp_path / "x.pt").read_bytes()
    refused = run_cli("run", "cfg.yaml", "--json", "x.pt", cwd=tmp_path)
    assert refused.returncode == 2 and "--json x.pt: is an input of this run" in refused.stderr, refused.stderr
    assert (tmp_path / "x.pt").read_bytes() == before
