"""``tunestudio data generate``."""

from tunestudio.cli.data.app import app  # noqa: F401
