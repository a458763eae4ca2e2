"""Server-sent events, read from a byte stream.

CLOVA Studio streams ``id:``/``event:``/``data:`` events; OpenAI-compatible servers stream bare
``data:`` lines ending with ``data: [DONE]``. Both are plain SSE (WHATWG HTML, "server-sent
events"), so one parser serves both. The stream is decoded as UTF-8 whatever the response's
charset says, as the SSE standard requires; a Hangul syllable split across two network chunks is
put back together by the incremental decoder.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

_EOL = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class SSEEvent:
    """One dispatched event. ``event`` is ``"message"`` when the server named none."""

    data: str
    event: str = "message"
    id: str | None = None

    def json(self) -> Any:
        """The data parsed as JSON."""
        return json.loads(self.data)


def iter_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Split a byte stream into lines at CRLF, LF or CR, decoding UTF-8 incrementally.

    Only these three end a line (``str.splitlines`` would also split at U+2028, which JSON
    allows unescaped inside a string).
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = ""
    for chunk in chunks:
        pending += decoder.decode(chunk)
        start = 0
        for match in _EOL.finditer(pending):
            if match.group() == "\r" and match.end() == len(pending):
                break  # maybe the first half of a CRLF that the next chunk completes
            yield pending[start : match.start()]
            start = match.end()
        pending = pending[start:]
    pending += decoder.decode(b"", final=True)
    lines = _EOL.split(pending)
    if lines[-1] == "":
        lines.pop()
    yield from lines


def iter_sse(chunks: Iterable[bytes]) -> Iterator[SSEEvent]:
    """Parse SSE events from raw bytes.

    Comments (``:`` lines) and ``retry:`` are ignored. One space after the colon is dropped, so
    ``data:{...}`` and ``data: {...}`` mean the same. An event still pending when the stream ends
    is dispatched too (the standard drops it, but some servers omit the last blank line).
    """
    data: list[str] = []
    event, event_id = "", None
    for line in iter_lines(chunks):
        if not line:
            if data:
                yield SSEEvent("\n".join(data), event or "message", event_id)
            data, event = [], ""
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
        elif name == "id":
            event_id = value
    if data:
        yield SSEEvent("\n".join(data), event or "message", event_id)
