"""``tunestudio data validate``."""

from tunestudio.cli.data.app import app  # noqa: F401
