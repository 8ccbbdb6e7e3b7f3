"""Making one call and recording everything it did lives in portable.py, which repro bundles carry too; these
names stay importable from here for the engine modules that use them."""

from verify_compile.engine.portable import (  # noqa: F401
    NoGradientError,
    call_once,
    overwritten,
    same_tensor,
    scalar_loss,
    state_of,
)
