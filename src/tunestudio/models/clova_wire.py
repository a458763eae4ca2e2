"""CLOVA Studio chat wire formats: GenParams and messages in, ChatResult out (v1 and v3).

v1 (HCX-003, HCX-DASH-001, tuned tasks on /v1 and /v2) and v3 (HCX-005, HCX-DASH-002,
HCX-007, /v3 tasks) name and bound the sampling fields differently; this module is the only
place that knows how. Values outside CLOVA's documented ranges are refused here, before a
request is sent, with the field and the range in the message. Two deliberate translations:

* ``temperature=0`` (greedy) on v1, which only accepts ``0 < temperature ≤ 1``, is sent as the
  smallest temperature, 0.01, with ``topK=1``: sampling from the single most likely token is
  greedy decoding.
* ``repetition_penalty`` is on the Hugging Face scale (1.0 = no penalty). v3's
  ``repetitionPenalty`` uses that scale and is always sent; v1's ``repeatPenalty`` uses another
  (0–10, default 5.0), so it is sent only when the caller set a value other than 1.0, and then
  as given; otherwise CLOVA's default applies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tunestudio.errors import ModelRequestError
from tunestudio.types import ChatResult, GenParams, Message, Usage

# model -> tokens of input + output (clova-studio-api.md §4.2, §5.1)
V1_MODELS = {"HCX-003": 8192, "HCX-DASH-001": 4096, "HCX-002": 4096}
V3_MODELS = {"HCX-005": 128_000, "HCX-DASH-002": 32_000, "HCX-007": 128_000}
# Models that take maxCompletionTokens (reasoning and answer together) instead of maxTokens.
COMPLETION_TOKEN_MODELS = {"HCX-007"}
API_VERSIONS = ("v1", "v3")
V1_MIN_TEMPERATURE = 0.01
MAX_SEED = 4_294_967_295


@dataclass(frozen=True)
class _Range:
    """A documented range: ``low < x`` when ``low_open`` else ``low <= x``; ``x <= high``."""

    low: float
    high: float
    low_open: bool = False

    def text(self, field: str) -> str:
        return f"{self.low:g} {'<' if self.low_open else '≤'} {field} ≤ {self.high:g}"

    def holds(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        return above and value <= self.high


def api_version_for(model: str, override: str | None = None) -> str:
    """v1 for HCX-003/HCX-DASH-001 (and HCX-002), v3 for everything newer, unless overridden."""
    if override:
        return override
    return "v1" if model.upper() in V1_MODELS else "v3"


def context_length(model: str) -> int | None:
    """Input + output tokens the model takes, when documented."""
    return V1_MODELS.get(model.upper()) or V3_MODELS.get(model.upper())


def request_body(
    version: str,
    messages: Sequence[Message],
    params: GenParams,
    *,
    model: str,
    where: str,
    thinking_effort: str | None = None,
) -> dict[str, Any]:
    """The JSON body of a chat call (without the stream choice: that is the Accept header).

    Raises :class:`ModelRequestError` naming the field and CLOVA's range when a value is out
    of range, before anything is sent.
    """
    check = _Checker(where)
    body: dict[str, Any] = {"messages": [_message(m, version, where) for m in messages]}
    for name, wire, value, bounds in _sampling_fields(version, model, params):
        body[wire] = check(name, value, bounds, wire)
    body["stopBefore" if version == "v1" else "stop"] = list(params.stop)
    if thinking_effort is not None:
        body["thinking"] = {"effort": thinking_effort}
    _check_thinking(body, model, where, thinking_effort)
    return body


def _sampling_fields(
    version: str, model: str, params: GenParams
) -> list[tuple[str, str, float, _Range]]:
    """(our name, CLOVA's name, value, CLOVA's range) of each sampling field to send."""
    v1 = version == "v1"
    temperature, top_k = params.temperature, params.top_k
    if v1 and temperature <= 0:
        temperature, top_k = V1_MIN_TEMPERATURE, 1  # greedy, in the form v1 accepts
    fields = [
        ("temperature", "temperature", temperature, _Range(0, 1, low_open=v1)),
        ("top_p", "topP", params.top_p, _Range(0, 1, low_open=True)),
        ("top_k", "topK", top_k, _Range(0, 128)),
    ]
    if model.upper() in COMPLETION_TOKEN_MODELS:
        fields.append(("max_tokens", "maxCompletionTokens", params.max_tokens, _Range(1, 32768)))
    else:  # v1 documents 0 < maxTokens, v3 1 ≤ maxTokens: the same integers
        bounds = _Range(0, 4096, low_open=True) if v1 else _Range(1, 4096)
        fields.append(("max_tokens", "maxTokens", params.max_tokens, bounds))
    penalty = params.repetition_penalty
    if not v1:
        fields.append(("repetition_penalty", "repetitionPenalty", penalty, _Range(0, 2, True)))
    elif penalty != 1.0:  # v1's scale is not the HF one; see the module docs
        fields.append(("repetition_penalty", "repeatPenalty", penalty, _Range(0, 10, True)))
    if params.seed is not None:
        fields.append(("seed", "seed", params.seed, _Range(1, MAX_SEED)))
    return fields


def _check_thinking(body: dict[str, Any], model: str, where: str, effort: str | None) -> None:
    # HCX-007 thinks by default (effort "low") and then refuses stop strings (§5.8).
    if model.upper() in COMPLETION_TOKEN_MODELS and body.get("stop") and effort != "none":
        raise ModelRequestError(
            f"{model} does not take stop strings while it is thinking",
            where=where,
            hint="drop the stop strings, or load the model with thinking_effort='none'",
        )


class _Checker:
    """Refuses a parameter outside CLOVA's range, naming both our name and CLOVA's."""

    def __init__(self, where: str):
        self.where = where

    def __call__(self, name: str, value: Any, bounds: _Range, wire: str | None = None) -> Any:
        if bounds.holds(value):
            return value
        wire_name = wire or name
        raise ModelRequestError(
            f"{name}={value!r} is outside the range CLOVA Studio accepts: {bounds.text(wire_name)}",
            where=self.where,
            hint=f"choose {name} within {bounds.text(name)}",
        )


def _message(message: Message, version: str, where: str) -> dict[str, str]:
    allowed = (
        ("system", "user", "assistant")
        if version == "v1"
        else ("system", "user", "assistant", "tool")
    )
    if message.role not in allowed:
        raise ModelRequestError(
            f"chat {version} does not take {message.role!r} messages",
            where=where,
            hint=f"use the roles {', '.join(allowed)}",
        )
    return {"role": message.role, "content": message.content}


def finish_reason(raw: object) -> str:
    """CLOVA's stop reason in our words: ``length``, ``stop`` or what the API said (lowercase).

    v1 says ``stop_before`` (a stop string or the model's own end) or ``end_token``, and the
    documentation shows both lower and upper case; v3 says ``stop``/``length``/``tool_calls``.
    """
    value = str(raw or "").lower()
    return "stop" if value in ("", "stop", "stop_before", "end_token") else value


def usage_of(version: str, data: dict[str, Any]) -> Usage:
    """Token counts of a result (v1: inputLength/outputLength; v3: usage.promptTokens...)."""
    if version == "v1":
        return Usage(int(data.get("inputLength") or 0), int(data.get("outputLength") or 0))
    usage = data.get("usage") or {}
    return Usage(int(usage.get("promptTokens") or 0), int(usage.get("completionTokens") or 0))


def content_of(data: dict[str, Any]) -> str:
    """The text of ``message.content`` (v3 may send a list of text parts)."""
    content = (data.get("message") or {}).get("content") or ""
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


def chat_result(version: str, result: dict[str, Any], model: str) -> ChatResult:
    """A ChatResult from the ``result`` of a chat answer (or a stream's result event).

    ``model`` is what the result is attributed to: the backend's spec string.
    """
    reason = result.get("stopReason") if version == "v1" else result.get("finishReason")
    return ChatResult(
        content=content_of(result),
        usage=usage_of(version, result),
        finish_reason=finish_reason(reason),
        model=model,
    )


def count_from_tokenize(result: dict[str, Any]) -> int:
    """Sum the per-message (v1) or per-part (v3) counts of a chat-tokenize answer."""
    total = 0
    for message in result.get("messages") or []:
        content = message.get("content")
        if isinstance(content, list):
            total += sum(int(part.get("count") or 0) for part in content if isinstance(part, dict))
        elif isinstance(content, dict):  # one doc example returns a single part object
            total += int(content.get("count") or 0)
        total += int(message.get("count") or 0)
    return total
