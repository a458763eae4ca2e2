"""OpenAI's Chat Completions wire format, and its translation to and from the core types.

Field names mirror OpenAI's API reference (snake_case). Unknown fields are ignored, as vLLM
does, so clients that send newer or vendor fields keep working. Known fields the server cannot
honour are refused when set to a value that would change the answer (``n`` > 1, ``tools``,
``logprobs``, non-zero ``presence_penalty``/``frequency_penalty``, a JSON ``response_format``),
and accepted when left at their neutral value. Extras read as vLLM and CLOVA Studio read them:
``top_k``, ``repetition_penalty`` (and CLOVA's v1 name ``repeat_penalty``).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tunestudio.server.errors import InvalidRequest, UnsupportedParameter
from tunestudio.types import ChatResult, GenParams, Message, Role, Usage

ROLES: dict[str, Role] = {
    "system": "system",
    "developer": "system",  # OpenAI's newer name for system instructions
    "user": "user",
    "assistant": "assistant",
}
FINISH_REASONS = ("stop", "length", "content_filter", "tool_calls")
PENALTY_HINT = "send repetition_penalty (e.g. 1.1) instead; with the openai SDK use extra_body"


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ContentPart(_Wire):
    """One part of a message's content; only ``text`` parts are understood."""

    type: str
    text: str | None = None


class ChatMessage(_Wire):
    """A message as a client sends it."""

    role: str
    content: str | list[ContentPart] | None = None
    name: str | None = Field(default=None, description="Accepted and ignored.")
    tool_calls: list[dict[str, Any]] | None = None


class StreamOptions(_Wire):
    include_usage: bool = False


class ChatCompletionRequest(_Wire):
    """``POST /v1/chat/completions``."""

    model: str = Field(min_length=1)
    messages: list[ChatMessage] = Field(min_length=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    n: int | None = Field(default=None, ge=1)
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    logprobs: bool | None = None
    top_logprobs: int | None = None
    logit_bias: dict[str, float] | None = None
    tools: list[dict[str, Any]] | None = None
    functions: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    top_k: int | None = Field(default=None, ge=-1, description="vLLM/CLOVA extra; 0 or -1 = off.")
    repetition_penalty: float | None = Field(default=None, gt=0, description="vLLM/CLOVA extra.")
    repeat_penalty: float | None = Field(default=None, gt=0, description="CLOVA v1's name.")

    def to_core(self, default_max_tokens: int) -> CoreChat:
        """The request as core messages and parameters; refuses what it cannot honour."""
        self._refuse_unsupported()
        messages = [_message(i, m) for i, m in enumerate(self.messages)]
        max_tokens = self.max_completion_tokens or self.max_tokens
        stop = self.stop or ()
        penalty = self.repetition_penalty or self.repeat_penalty or 1.0
        params = GenParams(
            max_tokens=max_tokens or default_max_tokens,
            temperature=1.0 if self.temperature is None else self.temperature,
            top_p=1.0 if self.top_p is None else self.top_p,
            top_k=max(0, self.top_k or 0),
            repetition_penalty=penalty,
            stop=(stop,) if isinstance(stop, str) else tuple(stop),
            seed=self.seed,
        )
        usage = bool(self.stream_options and self.stream_options.include_usage)
        return CoreChat(messages, params, max_tokens is None, bool(self.stream), usage)

    def _refuse_unsupported(self) -> None:
        if self.n is not None and self.n > 1:
            raise UnsupportedParameter(
                f"n={self.n} is not supported: this server returns one choice per request",
                param="n",
                hint="send n=1 (or leave it out) and make several requests",
            )
        if self.tools or self.functions or _wants_tools(self.tool_choice):
            field = "tools" if self.tools else "functions" if self.functions else "tool_choice"
            raise UnsupportedParameter(
                "tools (function calling) are not supported by this server yet",
                param=field,
                hint="leave out tools, functions and tool_choice",
            )
        if self.logprobs or self.top_logprobs:
            raise UnsupportedParameter(
                "logprobs are not supported", param="logprobs", hint="leave out logprobs"
            )
        if self.logit_bias:
            raise UnsupportedParameter(
                "logit_bias is not supported", param="logit_bias", hint="leave out logit_bias"
            )
        for field in ("presence_penalty", "frequency_penalty"):
            if getattr(self, field):
                raise UnsupportedParameter(
                    f"{field} is not supported", param=field, hint=PENALTY_HINT
                )
        kind = (self.response_format or {}).get("type", "text")
        if kind != "text":
            raise UnsupportedParameter(
                f"response_format type {kind!r} is not supported (only 'text')",
                param="response_format",
                hint="ask for JSON in the prompt and leave out response_format",
            )


@dataclass(frozen=True)
class CoreChat:
    """A chat request in the core's words; ``fit`` when the client set no max_tokens."""

    messages: list[Message]
    params: GenParams
    fit: bool
    stream: bool
    include_usage: bool


def _wants_tools(choice: str | dict[str, Any] | None) -> bool:
    return isinstance(choice, dict) or choice == "required"


def _message(index: int, message: ChatMessage) -> Message:
    where = f"messages.{index}"
    role = ROLES.get(message.role)
    if role is None:
        if message.role in ("tool", "function"):
            raise UnsupportedParameter(
                f"{message.role!r} messages are not supported (tools are not supported yet)",
                param=f"{where}.role",
            )
        raise InvalidRequest(
            f"unknown role {message.role!r}",
            param=f"{where}.role",
            hint=f"use one of: {', '.join(ROLES)}",
        )
    if message.tool_calls:
        raise UnsupportedParameter(
            "assistant tool_calls are not supported (tools are not supported yet)",
            param=f"{where}.tool_calls",
        )
    return Message(role, _text(where, role, message.content))


def _text(where: str, role: Role, content: str | list[ContentPart] | None) -> str:
    """A message's text; text parts are joined with newlines, as vLLM does."""
    if content is None:
        if role == "assistant":
            return ""  # an assistant turn with no text (LangChain sends null for it)
        raise InvalidRequest(f"{role} message has no content", param=f"{where}.content")
    if isinstance(content, str):
        return content
    texts = []
    for j, part in enumerate(content):
        if part.type != "text" or part.text is None:
            raise UnsupportedParameter(
                f"content parts of type {part.type!r} are not supported (only text)",
                param=f"{where}.content.{j}",
            )
        texts.append(part.text)
    return "\n".join(texts)


# -- responses ------------------------------------------------------------------------------


class UsageBody(_Wire):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int

    @classmethod
    def from_core(cls, usage: Usage) -> UsageBody:
        return cls(
            prompt_tokens=usage.input_tokens,
            completion_tokens=usage.output_tokens,
            total_tokens=usage.total_tokens,
        )


class AssistantMessage(_Wire):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(_Wire):
    index: int = 0
    message: AssistantMessage
    finish_reason: str
    logprobs: None = None


class ChatCompletion(_Wire):
    """The non-streamed answer."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: UsageBody

    @classmethod
    def from_core(cls, result: ChatResult, *, model: str) -> ChatCompletion:
        return cls(
            id=new_id(),
            created=int(time.time()),
            model=model,
            choices=[
                Choice(
                    message=AssistantMessage(content=result.content),
                    finish_reason=finish_reason(result.finish_reason),
                )
            ],
            usage=UsageBody.from_core(result.usage),
        )


class ModelObject(_Wire):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(_Wire):
    object: Literal["list"] = "list"
    data: list[ModelObject]


class ErrorBody(_Wire):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(_Wire):
    """The error envelope (see ``openai/envelope.py``), for the API's schema."""

    error: ErrorBody


def finish_reason(reason: str) -> str:
    """The core's finish reason in OpenAI's vocabulary (anything else reads as ``stop``)."""
    return reason if reason in FINISH_REASONS else "stop"


def new_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"
