"""CLOVA Studio's chat wire format (v1 and v3), and its translation to and from core types.

Field names mirror the CLOVA Studio API guide (camelCase); defaults and ranges are its own
(clova-studio-api.md §4.2 for v1, §5.2 for v3), and a value out of range is answered 40001
naming the field. Unknown fields (``stream``, which LangChain sends; ``includeAiFilters``;
``thinking``) are accepted and ignored. Known fields that would change the answer's shape and
that this server cannot honour (``tools``, ``responseFormat``, image parts) are refused with
40002. Two translations:

* v1's ``repeatPenalty`` is on a 0–10 scale (default 5.0), not the Hugging Face one the core
  uses; it is mapped as ``1 + repeatPenalty / 50``, so v1's default equals v3's default 1.1.
* ``seed`` 0 (or none) means "pick one": the server draws a seed, uses it and reports it.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tunestudio.server.clova.envelope import TextEmpty
from tunestudio.server.errors import InvalidRequest, UnsupportedParameter
from tunestudio.types import ChatResult, GenParams, Message, Role

MAX_SEED = 4_294_967_295
V1_DEFAULT_MAX_TOKENS = 100
ROLES: tuple[Role, ...] = ("system", "user", "assistant")


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ContentPart(_Wire):
    """A v3 content part; only ``{"type": "text", "text": …}`` is understood."""

    type: str
    text: str | None = None


class ChatMessage(_Wire):
    """A message as a client sends it (v1: string content; v3: string or parts)."""

    role: str
    content: str | list[ContentPart] | None = None


class V1Request(_Wire):
    """``POST /v1/chat-completions/{model}`` and ``/v1|v2/tasks/{taskId}/chat-completions``."""

    messages: list[ChatMessage] = Field(min_length=1)
    temperature: float = Field(0.5, gt=0, le=1)
    topK: int = Field(0, ge=0, le=128)
    topP: float = Field(0.8, gt=0, le=1)
    repeatPenalty: float = Field(5.0, gt=0, le=10)
    stopBefore: list[str] = Field(default_factory=list)
    maxTokens: int | None = Field(None, gt=0, le=4096)
    includeAiFilters: bool = Field(False, description="Accepted; no AI filter runs here.")
    seed: int = Field(0, ge=0, le=MAX_SEED)

    def to_core(self) -> CoreChat:
        """The request as core messages and parameters."""
        seed = self.seed or random.randint(1, MAX_SEED)
        params = GenParams(
            max_tokens=self.maxTokens or V1_DEFAULT_MAX_TOKENS,
            temperature=self.temperature,
            top_p=self.topP,
            top_k=self.topK,
            repetition_penalty=1 + self.repeatPenalty / 50,
            stop=tuple(self.stopBefore),
            seed=seed,
        )
        return CoreChat(to_messages(self.messages, "v1"), params, self.maxTokens is None, seed)


class V3Request(_Wire):
    """``POST /v3/chat-completions/{model}`` and ``/v3/tasks/{taskId}/chat-completions``."""

    messages: list[ChatMessage] = Field(min_length=1)
    topP: float = Field(0.8, gt=0, le=1)
    topK: int = Field(0, ge=0, le=128)
    maxTokens: int | None = Field(None, ge=1, le=4096)
    maxCompletionTokens: int | None = Field(None, ge=1, le=32768)
    temperature: float = Field(0.5, ge=0, le=1)
    repetitionPenalty: float = Field(1.1, gt=0, le=2)
    stop: list[str] | None = None
    stopBefore: list[str] | None = Field(None, description="v1's name for stop, accepted too.")
    seed: int = Field(0, ge=0, le=MAX_SEED)
    includeAiFilters: bool = Field(False, description="Accepted; no AI filter runs here.")
    tools: list[dict[str, Any]] | None = None
    responseFormat: dict[str, Any] | None = None

    def to_core(self, default_max_tokens: int) -> CoreChat:
        """The request as core messages and parameters; refuses what it cannot honour."""
        self._refuse_unsupported()
        seed = self.seed or random.randint(1, MAX_SEED)
        max_tokens = self.maxTokens or self.maxCompletionTokens
        params = GenParams(
            max_tokens=max_tokens or default_max_tokens,
            temperature=self.temperature,
            top_p=self.topP,
            top_k=self.topK,
            repetition_penalty=self.repetitionPenalty,
            stop=tuple(self.stop if self.stop is not None else self.stopBefore or ()),
            seed=seed,
        )
        return CoreChat(to_messages(self.messages, "v3"), params, max_tokens is None, seed)

    def _refuse_unsupported(self) -> None:
        if self.maxTokens is not None and self.maxCompletionTokens is not None:
            raise InvalidRequest(
                "maxTokens and maxCompletionTokens cannot be sent together",
                param="maxTokens",
                hint="send one of them",
            )
        for field in ("tools", "responseFormat"):
            if getattr(self, field):
                raise UnsupportedParameter(
                    f"{field} is not supported by this server",
                    param=field,
                    hint=f"leave out {field}",
                )


@dataclass(frozen=True)
class CoreChat:
    """A chat request in the core's words; ``fit`` when the client set no token budget."""

    messages: list[Message]
    params: GenParams
    fit: bool
    seed: int


def to_messages(messages: list[ChatMessage], version: str) -> list[Message]:
    """Core messages; at most one system message, and text in every non-assistant one."""
    out = [_message(f"messages.{i}", m, version) for i, m in enumerate(messages)]
    if sum(m.role == "system" for m in out) > 1:
        raise InvalidRequest(
            "at most one system message is allowed",
            param="messages",
            hint="merge the system messages into one",
        )
    return out


def _message(where: str, message: ChatMessage, version: str) -> Message:
    if message.role not in ROLES:
        raise InvalidRequest(
            f"{where}.role: unknown role {message.role!r}",
            param=f"{where}.role",
            hint=f"chat {version} takes the roles {', '.join(ROLES)}",
        )
    text = _text(where, message.content)
    if not text.strip() and message.role != "assistant":
        raise TextEmpty(
            f"{where}.content: the {message.role} message has no text",
            param=f"{where}.content",
            hint="give every system and user message some text, or leave the message out",
        )
    return Message(message.role, text)


def _text(where: str, content: str | list[ContentPart] | None) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    texts = []
    for j, part in enumerate(content):
        if part.type != "text" or part.text is None:
            raise UnsupportedParameter(
                f"{where}.content.{j}: parts of type {part.type!r} are not supported (only text)",
                param=f"{where}.content.{j}",
                hint="send the message as text",
            )
        texts.append(part.text)
    return "".join(texts)


# -- responses ------------------------------------------------------------------------------


class AssistantMessage(_Wire):
    role: Literal["assistant"] = "assistant"
    content: str


class V3Usage(_Wire):
    promptTokens: int
    completionTokens: int
    totalTokens: int


class V3Result(_Wire):
    """v3's ``result``; ``created`` is Unix seconds, as CLOVA's captured examples show."""

    message: AssistantMessage
    finishReason: str
    created: int
    seed: int
    usage: V3Usage

    @classmethod
    def from_core(cls, result: ChatResult, *, seed: int, created: int | None = None) -> V3Result:
        usage = result.usage
        return cls(
            message=AssistantMessage(content=result.content),
            finishReason=v3_finish_reason(result.finish_reason),
            created=int(time.time()) if created is None else created,
            seed=seed,
            usage=V3Usage(
                promptTokens=usage.input_tokens,
                completionTokens=usage.output_tokens,
                totalTokens=usage.total_tokens,
            ),
        )


class V1Result(_Wire):
    """v1's ``result``: ``stopReason`` is ``length`` or ``stop_before`` (lowercase)."""

    message: AssistantMessage
    stopReason: str
    inputLength: int
    outputLength: int
    seed: int

    @classmethod
    def from_core(cls, result: ChatResult, *, seed: int) -> V1Result:
        return cls(
            message=AssistantMessage(content=result.content),
            stopReason="length" if result.finish_reason == "length" else "stop_before",
            inputLength=result.usage.input_tokens,
            outputLength=result.usage.output_tokens,
            seed=seed,
        )


def v3_finish_reason(reason: str) -> str:
    """The core's finish reason in v3's words: ``length`` or ``stop``."""
    return "length" if reason == "length" else "stop"
