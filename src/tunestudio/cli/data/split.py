"""``tunestudio data split``."""

from tunestudio.cli.data.app import app  # noqa: F401
