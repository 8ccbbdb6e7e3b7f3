"""A bad config is every mistake as `file:line: what is wrong` (and a hint), found by `load_config` in-process: the
corpus of bad_configs.py and the other config errors. Fast tier; tests/test_config_errors.py shows the CLI
printing them (exit 2, no traceback), and the mistakes only the workers' torch can find."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bad_configs import BAD, GOOD_ENTRY, MODELS, TORCH_CHECKED
from helpers import write
from verify_compile.config.loader import load_config
from verify_compile.errors import ConfigError, ConfigErrors
from verify_compile.orchestration.cases import expand


def errors_of(path: Path) -> list[ConfigError]:
    """The mistakes `load_config` finds in the config at `path` (it must find some)."""
    with pytest.raises(ConfigErrors) as e:
        load_config(path)
    return e.value.errors


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with the corpus' models.py, as the working directory: a config that ran a command would leave
    its file here."""
    write(tmp_path / "models.py", MODELS)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("name", sorted(set(BAD) - TORCH_CHECKED))
def test_a_bad_config_is_a_located_error_with_the_fix(folder, name):
    text, line, expected = BAD[name]
    config = write(folder / "cfg.yaml", text)
    errors = errors_of(config)
    located = [e for e in errors if (e.file, e.line) == (str(config), line) and expected in str(e)]
    assert located, "\n".join(map(str, errors))
    assert str(located[0]).startswith(f"{config}:{line}: ")
    assert not (folder / "PWNED").exists(), "loading a config never executes it"


def test_every_mistake_is_reported_at_once(folder):
    config = write(folder / "cfg.yaml", textwrap.dedent("""\
        version: 1
        defaults:
          dtype: float31
        models:
          - name: a
            function: models.py:double
            timeout: -1
    """))
    assert {(e.file, e.line) for e in errors_of(config)} >= {(str(config), 3), (str(config), 7)}


def test_duplicate_model_names_across_configs(folder):
    a = write(folder / "a.yaml", "version: 1\nmodels:\n" + GOOD_ENTRY)
    b = write(folder / "b.yaml", "version: 1\nmodels:\n" + GOOD_ENTRY)
    with pytest.raises(ConfigErrors) as e:
        expand([load_config(a), load_config(b)])
    (error,) = e.value.errors
    assert (error.file, error.line) == (str(b), 3) and f"{a}:3" in error.message, str(error)


def test_missing_config_file(tmp_path):
    (error,) = errors_of(tmp_path / "absent.yaml")
    assert "config file not found" in error.message and error.file == str(tmp_path / "absent.yaml")


def test_min_speedup_needs_benchmark(folder):
    config = write(folder / "cfg.yaml", "version: 1\nmodels:\n" + GOOD_ENTRY
                   + "    min_speedup: 1.5\n    benchmark: false\n")
    assert any(e.line == 7 and "min_speedup" in e.message for e in errors_of(config))


def test_a_mistake_in_defaults_is_reported_once(folder):
    config = write(folder / "cfg.yaml", "version: 1\ndefaults:\n  timeout: 0\nmodels:\n" + GOOD_ENTRY
                   + GOOD_ENTRY.replace("name: ok", "name: ok2"))
    (error,) = [e for e in errors_of(config) if e.line == 3]
    assert "'timeout' must be > 0" in error.message


@pytest.mark.parametrize("entry, key", [
    ("{backend: export, mode: max-autotune}", "mode"),
    ("{backend: aot_inductor, dynamic: true}", "dynamic"),
    ("{backend: aot_inductor, fullgraph: true}", "fullgraph"),
    ("{backend: export, options: {max_autotune: true}}", "options"),
])
def test_torch_compile_settings_on_a_shipping_backend_are_an_error_on_their_line(config_dir, entry, key):
    config = config_dir(f"""\
version: 1
models:
  - name: f
    function: models.py:relu_model
    inputs: [{{args: [{{shape: [4]}}]}}]
    backends:
      - {entry}
""")
    text = "\n".join(map(str, errors_of(config)))
    assert f"cfg.yaml:7: '{key}' does not apply to backend" in text, text
