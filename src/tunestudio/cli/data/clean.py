"""``tunestudio data clean``."""

from tunestudio.cli.data.app import app  # noqa: F401
