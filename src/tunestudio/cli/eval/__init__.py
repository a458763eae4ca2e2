"""``tunestudio eval``: each command lives in its own module and registers itself on ``app``."""

from tunestudio.cli.eval.app import app

__all__ = ["app"]
