"""verify-compile: prove that torch.compile gives the same answers as eager PyTorch.

From Python: `verify_compile.verify(model, args, backend=...)` returns the judged result, and
`verify_compile.assert_verified(...)` raises AssertionError with the located diff when it fails (see api.py).
Importing the package imports neither torch nor the engine: the first call does.
"""

from typing import TYPE_CHECKING, Any

from verify_compile.version import __version__

if TYPE_CHECKING:  # for type checkers and IDEs; at run time they load on first use
    from verify_compile.api import assert_verified, verify

__all__ = ["__version__", "assert_verified", "verify"]


def __getattr__(name: str) -> Any:
    if name in ("verify", "assert_verified"):
        from verify_compile import api

        return getattr(api, name)
    raise AttributeError(f"module 'verify_compile' has no attribute {name!r}")
