"""A bad config exits 2 with `file:line: what is wrong` (and a hint), no traceback, nothing run: the CLI's promise,
end to end. Each mistake of the corpus (bad_configs.py) is also checked in-process in the fast tier
(tests/unit/test_config_errors_unit.py), as are the command line's own checks (tests/unit/test_refusals.py);
here the CLI prints a sample of them, and those that only the workers' torch can find."""

from __future__ import annotations

import pytest

from bad_configs import BAD, MODELS, TORCH_CHECKED

# One of each layer: the YAML reader, the checker (with a hint), and a tag that must not run.
PRINTED = ("yaml_syntax", "misspelt_key", "python_tag_not_executed")


@pytest.mark.parametrize("name", sorted(TORCH_CHECKED | set(PRINTED)))
def test_bad_config_exits_2_with_file_line_and_fix(config_dir, tmp_path, name):
    text, line, expected = BAD[name]
    config_dir.add("models.py", MODELS)
    config = config_dir(text)
    proc = config_dir.run("run", str(config), "--junit", str(tmp_path / "r.xml"))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"{config}:{line}:" in proc.stderr, proc.stderr
    assert expected in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "r.xml").exists(), "nothing runs, nothing is reported"
    assert not (tmp_path / "PWNED").exists(), "loading a config never executes it"
