"""``tunestudio data``: each command lives in its own module and registers itself on ``app``."""

from tunestudio.cli.data import (  # noqa: F401  (each import registers its command)
    clean,
    convert,
    generate,
    split,
    stats,
    validate,
)
from tunestudio.cli.data.app import app

__all__ = ["app"]
