"""Configuration checks that only the workers' torch can answer: run in the parent with what a worker reported
(its `hello`), before any case runs, so a typo is a config error (exit 2), not a column of red cases."""

from __future__ import annotations

from verify_compile.errors import ConfigError, ConfigErrors, did_you_mean


def check_against_torch(cases: list, info: dict) -> None:
    """What only the workers' torch can say: registered backend names, compile modes, inductor options and
    dynamo config names must exist there. A typo is a config error (exit 2), not a column of red cases."""
    errors: dict = {}

    def check(name: str, known: list, what: str, file: str, line: int, hint: str = "") -> None:
        if known and name not in known:
            errors.setdefault((file, line, name), ConfigError(
                f"unknown {what} '{name}'", file, line, did_you_mean(name, known) or hint or None))

    for case in cases:
        b, m = case.backend, case.model
        file, line = (m.config_file, b.line) if b.line else ("--backends", 0)  # line 0: from the command line
        if not b.is_custom and not b.is_shipping:  # export and aot_inductor are not dynamo backends
            check(b.backend, info.get("backends", []), "backend (not in torch._dynamo.list_backends())",
                  file, line, "custom backends are written 'file.py:function', and 'export' and 'aot_inductor' "
                  "verify what ships")
        if b.mode:
            check(b.mode, info.get("modes", []), "torch.compile mode", file, line,
                  "modes: " + ", ".join(info.get("modes", [])))
        for option in b.options or {}:  # inductor's options, and AOTInductor's (the same inductor config)
            check(option, info.get("inductor_options", []), "inductor option", file, line)
        for option in m.dynamo_config:
            check(option, info.get("dynamo_options", []), "torch._dynamo.config option", m.config_file,
                  m.key_lines.get("dynamo_config", m.line))
    if errors:
        raise ConfigErrors(list(errors.values()))
