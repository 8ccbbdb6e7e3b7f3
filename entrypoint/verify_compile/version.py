"""The one place of the version: the package, the action (it picks its release image by it) and the release
workflow read it."""

__version__ = "1.0.0"
