"""``tunestudio chat``."""

from tunestudio.cli.app import app  # noqa: F401
