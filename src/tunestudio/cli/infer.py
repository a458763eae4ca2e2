"""``tunestudio infer``."""

from tunestudio.cli.app import app  # noqa: F401
