"""A dialect: one wire protocol's routes, the paths it owns, and its error envelope.

Dialects translate; they do not inherit from each other (DESIGN seam 3). Each one is a value
of :class:`Dialect` that ``server/app.py`` lists. Errors are rendered by the dialect that owns
the request's path, including errors raised before any route runs (413, 404, auth), so every
client sees its own protocol's envelope.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fastapi import APIRouter
from starlette.responses import Response

from tunestudio.server.errors import ApiError


@dataclass(frozen=True)
class Dialect:
    """One protocol the server speaks.

    ``prefixes`` are the path prefixes it owns (``/v1/chat/completions``, ``/v1/openai/``);
    ``render_error(error, request_id)`` is its error envelope.
    """

    name: str
    router: APIRouter
    prefixes: tuple[str, ...]
    render_error: Callable[[ApiError, str], Response]

    def owns(self, path: str) -> bool:
        return path.startswith(self.prefixes)


def dialect_for(path: str, dialects: Sequence[Dialect]) -> Dialect:
    """The dialect owning ``path``: the longest matching prefix wins; else the first one."""
    best, length = dialects[0], -1
    for dialect in dialects:
        for prefix in dialect.prefixes:
            if path.startswith(prefix) and len(prefix) > length:
                best, length = dialect, len(prefix)
    return best
