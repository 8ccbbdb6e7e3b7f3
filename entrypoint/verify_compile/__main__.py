"""`python -m verify_compile` and the `verify-compile` command: the CLI, or the GitHub Action's entrypoint."""

from __future__ import annotations

import sys
from typing import Optional, Sequence


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["action"]:  # inputs come from INPUT_* variables (see action.yml)
        from verify_compile.github.action import main as action_main

        return action_main(argv[1:])
    from verify_compile.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
