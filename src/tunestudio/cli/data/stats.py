"""``tunestudio data stats``."""

from tunestudio.cli.data.app import app  # noqa: F401
