"""The three ways CLOVA Studio accepts credentials, as ``httpx.Auth`` flows.

1. ``Authorization: Bearer nv-…`` — API keys issued since 2025-01 (the current scheme).
2. The legacy header pair ``X-NCP-CLOVASTUDIO-API-KEY`` + ``X-NCP-APIGW-API-KEY`` (older keys;
   still accepted).
3. The api-hyperclova access-token flow: ``GET <token_url>?existingToken=true`` with HTTP Basic
   ``client_id:client_secret`` returns ``result.accessToken``, sent as a Bearer token. When the
   API answers ``40103`` (access token expired) the flow fetches a new token and sends the
   request once more, as the apps built on that API do.

Which one is used follows from the credentials found (see :mod:`tunestudio.models.keys`):
a Bearer key first, then the legacy pair, then the client id and secret.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Generator
from typing import Any

import httpx
from pydantic import SecretStr

from tunestudio.errors import ModelAuthError, ModelUnavailableError
from tunestudio.models.http import BearerAuth, error_for_status
from tunestudio.models.keys import CLOVA_ENV, ClovaKeys

log = logging.getLogger(__name__)

DEFAULT_TOKEN_URL = "https://api-hyperclova.navercorp.com/v1/auth/token"
TOKEN_EXPIRED = "40103"

KEY_HINT = (
    "check CLOVASTUDIO_API_KEY; keys issued after 2025-01 are Bearer keys starting with nv- "
    "(CLOVA Studio console → API 키); older keys need the pair CLOVASTUDIO_LEGACY_API_KEY + "
    "CLOVASTUDIO_APIGW_API_KEY"
)


class LegacyKeyAuth(httpx.Auth):
    """The pre-2025 pair: the CLOVA Studio app key and the API Gateway key."""

    def __init__(self, api_key: SecretStr, apigw_key: SecretStr):
        self._api_key = api_key
        self._apigw_key = apigw_key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["X-NCP-CLOVASTUDIO-API-KEY"] = self._api_key.get_secret_value()
        request.headers["X-NCP-APIGW-API-KEY"] = self._apigw_key.get_secret_value()
        yield request


class AccessTokenAuth(httpx.Auth):
    """Bearer access tokens from the token endpoint, refreshed once when one has expired.

    One token is shared by every thread using the backend; when several threads see it expire
    at once, only the first fetches a new one.
    """

    def __init__(
        self,
        client_id: SecretStr,
        client_secret: SecretStr,
        *,
        token_url: str,
        where: str,
        timeout: float,
    ):
        self._basic = httpx.BasicAuth(
            client_id.get_secret_value(), client_secret.get_secret_value()
        )
        self._token_url = token_url
        self._where = where
        self._client = httpx.Client(timeout=timeout)
        self._lock = threading.Lock()
        self._token: SecretStr | None = None

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._current(stale=None)
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if _token_expired(response):
            log.info("%s: the access token expired; fetching a new one", self._where)
            request.headers["Authorization"] = f"Bearer {self._current(stale=token)}"
            yield request

    def close(self) -> None:
        """Close the token endpoint's connection pool."""
        self._client.close()

    def _current(self, stale: str | None) -> str:
        """The token to use; a new one when there is none yet or ``stale`` is the current one."""
        with self._lock:
            if self._token is None or self._token.get_secret_value() == stale:
                self._token = SecretStr(self._fetch())
            return self._token.get_secret_value()

    def _fetch(self) -> str:
        """A token from the token endpoint (an existing valid one when it has one)."""
        hint = "check CLOVASTUDIO_CLIENT_ID and CLOVASTUDIO_CLIENT_SECRET, and the token URL"
        try:
            response = self._client.get(
                self._token_url, params={"existingToken": "true"}, auth=self._basic
            )
        except httpx.TransportError as exc:
            raise ModelUnavailableError(
                f"could not reach the token endpoint {self._token_url}: {exc}",
                where=self._where,
                hint=hint,
            ) from None
        code, result = _envelope(response)
        token = result.get("accessToken")
        if response.is_success and code in ("", "20000") and isinstance(token, str) and token:
            return token
        said = f"HTTP {response.status_code}" + (f", code {code}" if code else "")
        raise error_for_status(
            401 if response.is_success else response.status_code,
            f"the token endpoint did not issue an access token ({said})",
            where=self._where,
            hints={"auth": hint, "request": hint, "unavailable": hint, "rate": hint},
        )


def _envelope(response: httpx.Response) -> tuple[str, dict[str, Any]]:
    """``status.code`` and ``result`` of a CLOVA answer ("" and {} where missing)."""
    try:
        body = response.json()
    except ValueError:
        return "", {}
    if not isinstance(body, dict):
        return "", {}
    status, result = body.get("status"), body.get("result")
    code = str(status.get("code", "")) if isinstance(status, dict) else ""
    return code, result if isinstance(result, dict) else {}


def _token_expired(response: httpx.Response) -> bool:
    """True when the API said 40103 (access token expired)."""
    if response.status_code != 401:
        return False
    response.read()
    return _envelope(response)[0] == TOKEN_EXPIRED


def describe(keys: ClovaKeys, field: str) -> str:
    """Where a credential came from, for hints (never its value)."""
    if keys.source == "environment":
        return CLOVA_ENV[field]
    if keys.source == "option":
        return f"the {field} option"
    return f"clova.{field} in {keys.source}"


def build_auth(
    keys: ClovaKeys, *, token_url: str, where: str, timeout: float
) -> tuple[httpx.Auth, str]:
    """The auth flow for these credentials, and a description of it for error hints."""
    if keys.api_key:
        return BearerAuth(keys.api_key), f"a Bearer key from {describe(keys, 'api_key')}"
    if keys.legacy_api_key or keys.apigw_api_key:
        if not (keys.legacy_api_key and keys.apigw_api_key):
            missing = "apigw_api_key" if keys.legacy_api_key else "legacy_api_key"
            raise _incomplete("the legacy key pair", CLOVA_ENV[missing], where)
        pair = f"the legacy key pair from {describe(keys, 'legacy_api_key')}"
        return LegacyKeyAuth(keys.legacy_api_key, keys.apigw_api_key), pair
    if keys.client_id or keys.client_secret:
        if not (keys.client_id and keys.client_secret):
            missing = "client_secret" if keys.client_id else "client_id"
            raise _incomplete("the access-token flow", CLOVA_ENV[missing], where)
        auth = AccessTokenAuth(
            keys.client_id, keys.client_secret, token_url=token_url, where=where, timeout=timeout
        )
        return auth, f"access tokens for the client id from {describe(keys, 'client_id')}"
    raise ModelAuthError(
        "no CLOVA Studio credentials found",
        where=where,
        hint="set CLOVASTUDIO_API_KEY=nv-… (CLOVA Studio console → API 키), or the legacy pair "
        "CLOVASTUDIO_LEGACY_API_KEY + CLOVASTUDIO_APIGW_API_KEY, or put them under `clova:` in "
        "the keys file (~/.tunestudio/keys.yaml or $TUNESTUDIO_KEYS_FILE)",
    )


def _incomplete(scheme: str, missing_var: str, where: str) -> ModelAuthError:
    return ModelAuthError(
        f"{scheme} is only half configured: {missing_var} is missing",
        where=where,
        hint=f"set {missing_var} as well (or the matching field in the keys file)",
    )
