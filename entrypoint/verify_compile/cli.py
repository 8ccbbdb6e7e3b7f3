"""The command line: `verify-compile run CONFIG...` and `verify-compile merge RESULTS.json...`.

Thin by design: argv becomes a request (verify_compile.requests), `app.execute` does the rest.
"""

from __future__ import annotations

import sys
from typing import Optional, Sequence

from verify_compile import app
from verify_compile.requests import build_parser, from_args


def main(argv: Optional[Sequence[str]] = None) -> int:
    """`verify-compile run|merge ...`; returns the exit code."""
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    return app.execute(from_args(args, args.command)).exit_code
