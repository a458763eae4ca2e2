"""OpenAI's stream framing: ``data: <chunk JSON>`` events, ending with ``data: [DONE]``.

The encoder turns the core's typed stream events (:class:`StreamChunk`, and an ApiError for a
failure after the answer started) into bytes: a first chunk with the assistant role, one chunk
per text delta, a chunk with the finish reason, then (when the client asked with
``stream_options.include_usage``) a chunk with no choices and the usage. With include_usage,
every other chunk carries ``"usage": null``, as OpenAI sends it.
"""

from __future__ import annotations

import json
import time
from typing import Any

from tunestudio.models.base import StreamChunk
from tunestudio.server.errors import ApiError
from tunestudio.server.openai.protocol import UsageBody, finish_reason, new_id

DONE = b"data: [DONE]\n\n"


class ChunkEncoder:
    """Encodes one streamed answer; all its chunks share one id and creation time."""

    def __init__(self, model: str, *, include_usage: bool) -> None:
        self.include_usage = include_usage
        self._head = {
            "id": new_id(),
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
        }

    def start(self) -> bytes:
        """The opening chunk: the assistant role and empty content."""
        return self._event([_choice({"role": "assistant", "content": ""})])

    def piece(self, chunk: StreamChunk) -> bytes:
        """A text delta, and when the chunk ends the answer, the finish (and usage) chunks."""
        out = b""
        if chunk.delta:
            out += self._event([_choice({"content": chunk.delta})])
        if chunk.finish_reason is not None:
            out += self._event([_choice({}, finish_reason(chunk.finish_reason))])
            if self.include_usage and chunk.usage is not None:
                out += self._event([], UsageBody.from_core(chunk.usage).model_dump())
        return out

    def error(self, error: ApiError) -> bytes:
        """A failure after the answer started, as vLLM reports it (the SDK raises APIError)."""
        body = {"message": error.text, "type": error.kind.value, "code": error.status}
        return _data({"error": body})

    def _event(self, choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> bytes:
        event = {**self._head, "choices": choices}
        if self.include_usage:
            event["usage"] = usage
        return _data(event)


def _choice(delta: dict[str, str], finish: str | None = None) -> dict[str, Any]:
    return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}


def _data(payload: dict[str, Any]) -> bytes:
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return b"data: " + text.encode("utf-8") + b"\n\n"
