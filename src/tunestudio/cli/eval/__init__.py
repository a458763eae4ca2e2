"""``tunestudio eval``: each command lives in its own module and registers itself on ``app``."""

from tunestudio.cli.eval import (
    compare,  # noqa: F401  (registers `eval compare`)
    judge,  # noqa: F401  (registers `eval judge` and `eval pair`)
    score,  # noqa: F401  (registers `eval score`)
)
from tunestudio.cli.eval.app import app

__all__ = ["app"]
