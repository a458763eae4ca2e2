"""CLOVA Studio's stream framing: ``id:``/``event:``/``data:`` events (clova-studio-api.md §4.4,
§5.7).

A streamed answer is ``token`` events (each a text delta), one ``result`` event (the whole
answer again, with the finish reason and token counts, exactly as the non-stream ``result``),
then ``signal`` ``{"data": "[DONE]"}``. A failure after the answer started is an ``error``
event carrying the envelope's ``status``, and ends the stream. Every event has its own UUID.
v3 token events carry ``finishReason: null``, ``created``, ``seed`` and ``usage: null``, as
CLOVA sends them; v1 token events carry ``index`` and ``stopReason: null``.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from tunestudio.models.base import StreamChunk
from tunestudio.server.clova.envelope import status_of
from tunestudio.server.clova.protocol import V1Result, V3Result
from tunestudio.server.errors import ApiError
from tunestudio.types import ChatResult, Usage

MEDIA_TYPE = "text/event-stream; charset=utf-8"


class EventEncoder:
    """Encodes one streamed answer of chat ``version`` ("v1" or "v3")."""

    def __init__(self, version: str, *, seed: int) -> None:
        self.version = version
        self.seed = seed
        self.created = int(time.time())
        self.text = ""
        self.index = 0

    def piece(self, chunk: StreamChunk) -> bytes:
        """A ``token`` event for the delta; with the last chunk, ``result`` and ``signal``."""
        out = b""
        if chunk.delta:
            self.text += chunk.delta
            out += event("token", self._token(chunk.delta))
            self.index += 1
        if chunk.finish_reason is not None:
            out += self._finish(chunk.finish_reason, chunk.usage or Usage())
        return out

    def error(self, error: ApiError) -> bytes:
        """An ``error`` event: the status CLOVA's envelope would carry."""
        return event("error", {"status": status_of(error)[1]})

    def _token(self, delta: str) -> dict[str, Any]:
        data: dict[str, Any] = {"message": {"role": "assistant", "content": delta}}
        if self.version == "v1":
            return data | {"index": self.index, "stopReason": None}
        return data | {
            "finishReason": None,
            "created": self.created,
            "seed": self.seed,
            "usage": None,
        }

    def _finish(self, reason: str, usage: Usage) -> bytes:
        result = ChatResult(self.text, usage, reason)
        body: V1Result | V3Result
        if self.version == "v1":
            body = V1Result.from_core(result, seed=self.seed)
        else:
            body = V3Result.from_core(result, seed=self.seed, created=self.created)
        return event("result", body.model_dump()) + event("signal", {"data": "[DONE]"})


def event(name: str, data: dict[str, Any]) -> bytes:
    """One SSE event: ``id:<uuid>``, ``event:<name>``, ``data:<one-line JSON>``."""
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"id:{uuid.uuid4()}\nevent:{name}\ndata:{payload}\n\n".encode()
