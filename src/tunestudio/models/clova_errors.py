"""CLOVA Studio status codes → typed errors, each with a hint naming the fix.

CLOVA answers failures with the envelope ``{"status": {"code": "40003", "message": "..."}}``
(clova-studio-api.md §3.2); the code says more than the HTTP status, so it decides the error.
Codes not listed fall back to the HTTP status their first three digits spell.
"""

from __future__ import annotations

import json

import httpx

from tunestudio.errors import (
    ContextLengthError,
    ModelAuthError,
    ModelError,
    ModelRateLimitError,
    ModelRequestError,
    ModelUnavailableError,
)
from tunestudio.models.clova_auth import KEY_HINT
from tunestudio.models.http import error_for_status, parse_retry_after

RATE_HINT = (
    "CLOVA Studio limits requests and tokens per minute per model and account (e.g. HCX-005: "
    "60 requests, 60,000 tokens); send fewer at once (a lower --concurrency) or try later"
)
MODELS_HINT = (
    "CLOVA Studio chat models: HCX-003, HCX-DASH-001 (chat v1); HCX-005, HCX-DASH-002, "
    "HCX-007 (chat v3)"
)
AUTH = "auth"  # hints that also say which credentials were sent

# code -> (error class, hint); AUTH in place of a hint means "the key hint plus what we sent"
_CODES: dict[str, tuple[type[ModelError], str]] = {
    "40000": (ModelRequestError, "the request was malformed; check the messages"),
    "40001": (
        ModelRequestError,
        "a parameter is outside CLOVA Studio's range or cannot be combined with another one; "
        "the message names it",
    ),
    "40002": (ModelRequestError, "drop the parameter the message names; this API does not take it"),
    "40003": (
        ContextLengthError,
        "shorten the conversation or lower max_tokens; input + output may be at most 8,192 "
        "tokens for HCX-003 (input ≤ 7,600), 4,096 for HCX-DASH-001, 32,000 for HCX-DASH-002 "
        "and 128,000 for HCX-005/HCX-007",
    ),
    "40004": (ModelRequestError, "a message is empty; give every message some text"),
    "40080": (ModelRequestError, f"check the model name; {MODELS_HINT}"),
    "40082": (ModelRequestError, f"this model was retired; pick a current one: {MODELS_HINT}"),
    "40083": (ModelUnavailableError, "CLOVA Studio has no capacity for this model right now"),
    "40084": (
        ModelRequestError,
        "this model is not served on this API version: HCX-003/HCX-DASH-001 use chat v1, "
        "HCX-005/HCX-DASH-002/HCX-007 chat v3; set the api_version option",
    ),
    "40100": (ModelAuthError, AUTH),
    "40101": (ModelAuthError, AUTH),
    "40102": (ModelAuthError, AUTH),
    "40103": (
        ModelAuthError,
        "the access token expired; Bearer API keys (CLOVASTUDIO_API_KEY=nv-…) do not expire",
    ),
    "40104": (ModelAuthError, AUTH),
    "40170": (
        ModelAuthError,
        "this account has no subscription for the API; request one in the CLOVA Studio console",
    ),
    "40300": (ModelAuthError, "this key may not use this model or task; check its permissions"),
    "40301": (
        ModelAuthError,
        "the task belongs to another account; use a key of the account that tuned it",
    ),
    "40400": (
        ModelRequestError,
        "check the model name or task id (tuned task ids are shown in CLOVA Studio → 튜닝)",
    ),
    "40800": (ModelUnavailableError, "CLOVA Studio timed out; try again"),
    "41300": (ModelRequestError, "the request body is over 50 MB; send less"),
}


def _status_and_message(body: bytes) -> tuple[str, str]:
    """The envelope's code and message; an OpenAI-style error or plain text as a fallback."""
    try:
        data = json.loads(body)
    except ValueError:
        return "", body.decode("utf-8", errors="replace").strip()[:200]
    if isinstance(data, dict):
        for key in ("status", "error"):
            part = data.get(key)
            if isinstance(part, dict):
                return str(part.get("code") or ""), str(part.get("message") or "")
    return "", str(data)[:200]


def error_for_code(
    code: str,
    message: str,
    *,
    http_status: int,
    where: str,
    auth: str,
    retry_after: float | None = None,
) -> ModelError:
    """The typed error for a CLOVA status code (from a response or a stream's error event)."""
    text = f"CLOVA Studio answered {code} {message}".rstrip() if code else message
    if not text:
        text = f"CLOVA Studio answered HTTP {http_status}"
    key_hint = f"{KEY_HINT} (this call sent {auth})"
    if code in _CODES:
        cls, hint = _CODES[code]
        return cls(text, where=where, hint=key_hint if hint == AUTH else hint)
    if code.startswith("429"):
        return ModelRateLimitError(text, retry_after=retry_after, where=where, hint=RATE_HINT)
    status = int(code[:3]) if len(code) == 5 and code.isdigit() else http_status
    return error_for_status(
        status,
        text,
        where=where,
        retry_after=retry_after,
        hints={
            "auth": key_hint,
            "rate": RATE_HINT,
            "unavailable": "CLOVA Studio failed on its side; try again later",
            "not_found": "check the base URL, the model name or the task id",
            "request": "CLOVA Studio refused the request; its message says what to change",
        },
    )


def clova_error(response: httpx.Response, *, where: str, auth: str) -> ModelError:
    """The typed error for a failed CLOVA Studio response (its body already read)."""
    code, message = _status_and_message(response.content)
    return error_for_code(
        code,
        message,
        http_status=response.status_code,
        where=where,
        auth=auth,
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
    )
