"""Who is calling: API keys, CLOVA's legacy header, and access tokens of the token flow.

Accepted credentials, in this order:

* an NCP IAM signature (``X-NCP-IAM-ACCESS-KEY``, ``X-NCP-APIGW-TIMESTAMP``,
  ``X-NCP-APIGW-SIGNATURE-V2``; :mod:`.iam`), as CLOVA's older tuning client signs its calls.
  CLOVA took it on the tuning API only; here it is good on every path, since it proves the key
  at least as well as a Bearer key does. When the access key header is there, the signature
  is checked and must hold, whatever else was sent;
* ``Authorization: Bearer <key>`` — a key from ``tunestudio keys create`` (``ts-…``), or an
  access token (``tst-…``) issued by :meth:`Authenticator.issue_access_token`;
* ``X-NCP-CLOVASTUDIO-API-KEY: <key>`` — CLOVA Studio's legacy pair; its partner
  ``X-NCP-APIGW-API-KEY`` is accepted and ignored.

While no key was ever created, a server bound to loopback runs open (anyone on this machine
may call it); bound to any other interface it refuses every call until a key exists. Once a
key exists, every call needs a valid one, even after every key is revoked. Failures are
typed (:mod:`tunestudio.server.errors`) and each dialect renders them in its own envelope.
"""

from __future__ import annotations

import base64
import binascii
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from tunestudio.ops.ledger import set_labels
from tunestudio.server.errors import (
    InvalidCredentials,
    MissingCredentials,
    RateLimited,
    ScopeForbidden,
    TokenExpired,
)
from tunestudio.server.iam import (
    IAM_HINT,
    IamKeyStore,
    SignedRequest,
    check_signature,
    check_timestamp,
    request_uri,
    signed_request,
)
from tunestudio.server.keystore import TOKEN_PREFIX, KeyInfo, KeyStore, Scope
from tunestudio.server.ratelimit import TokenBuckets
from tunestudio.store.schema import utcnow

LEGACY_KEY_HEADER = "x-ncp-clovastudio-api-key"
CREATE_HINT = (
    "create a key with `tunestudio keys create` and send it as `Authorization: Bearer <key>`"
)


@dataclass(frozen=True)
class Principal:
    """The caller of one request. ``key_id`` is None when the server runs open."""

    key_id: str | None
    name: str
    scopes: tuple[Scope, ...]
    via: str  # "bearer", "legacy_header", "access_token", "iam_signature" or "open"


OPEN = Principal(None, "open", tuple(Scope), "open")


class Authenticator:
    """Checks credentials against the key store and spends each key's rate limit."""

    def __init__(
        self,
        keys: KeyStore,
        *,
        allow_open: bool,
        token_ttl: float = 3600,
        buckets: TokenBuckets | None = None,
        iam: IamKeyStore | None = None,
    ) -> None:
        self.keys = keys
        self.iam = iam or IamKeyStore(keys)
        self.allow_open = allow_open
        self.token_ttl = token_ttl
        self.buckets = buckets or TokenBuckets()
        self._keys_exist = False  # sticky: keys are revoked, never deleted

    def authenticate(
        self, headers: Mapping[str, str], scope: Scope, target: tuple[str, bytes] | None = None
    ) -> Principal:
        """The caller these headers prove, allowed ``scope`` and within its rate limit.

        ``target`` is the request's method and raw URI (:func:`.iam.request_uri`), which an IAM
        signature covers; without it signature headers are not looked at. Raises
        MissingCredentials, InvalidCredentials, InvalidSignature, TokenExpired, ScopeForbidden
        or RateLimited. It reads the store; :func:`require` decides whether on the event loop.
        """
        if target is not None and (signed := signed_request(headers)) is not None:
            signer = self._signed_key(signed, *target)
            if signer is None:
                return self._without_key(True, "the IAM access key is not valid", IAM_HINT)
            return self._admit(signer, scope, "iam_signature")
        secret, via = credentials(headers)
        key = self._key(secret) if secret else None
        if key is None:
            return self._without_key(secret is not None)
        if secret and secret.startswith(TOKEN_PREFIX):
            via = "access_token"
        return self._admit(key, scope, via)

    def _admit(self, key: KeyInfo, scope: Scope, via: str) -> Principal:
        """The principal of an active ``key``, once its scopes and rate limit allow the call."""
        if not key.allows(scope):
            raise ScopeForbidden(
                f"this key may not use {scope.value} endpoints (its scopes: "
                f"{', '.join(s.value for s in key.scopes)})",
                hint=f"create a key with `tunestudio keys create --scope {scope.value}`",
            )
        if (wait := self.buckets.take(key.id, key.rate_limit)) is not None:
            raise RateLimited(
                f"this key's limit of {key.rate_limit} requests per minute is used up",
                retry_after=math.ceil(wait),
                hint=f"retry after {math.ceil(wait)} s, or create a key with a higher --rate-limit",
            )
        return Principal(key.id, key.name, key.scopes, via)

    def issue_access_token(self, client_id: str, client_secret: str) -> tuple[str, datetime]:
        """A new access token for a key's client id and secret, and when it expires."""
        key = self.keys.find_client(client_id, client_secret)
        if key is None or not key.active:
            raise InvalidCredentials(
                "the client id or client secret is not valid",
                hint="`tunestudio keys create` prints a key's client id and secret once",
            )
        return self.keys.issue_token(key.id, self.token_ttl)

    def _key(self, secret: str) -> KeyInfo | None:
        """The active key behind ``secret``; None when the store knows nothing of it."""
        key: KeyInfo | None
        if secret.startswith(TOKEN_PREFIX):
            found = self.keys.find_token(secret)
            if found is None:
                return None
            key, expires_at = found
            if expires_at <= utcnow():
                raise TokenExpired(
                    f"the access token expired at {expires_at.isoformat()}",
                    hint="get a new one from the token endpoint with the client id and secret",
                )
        else:
            key = self.keys.find_key(secret)
        if key is not None and not key.active:
            raise InvalidCredentials("this API key was revoked", hint=CREATE_HINT)
        return key

    def _signed_key(self, signed: SignedRequest, method: str, uri: bytes) -> KeyInfo | None:
        """The active key whose IAM pair signed this request; None when the access key is
        unknown. A stale timestamp is refused before the store is read."""
        check_timestamp(signed.timestamp, time.time())
        found = self.iam.find(signed.access_key)
        if found is None:
            return None
        key, secret_key = found
        check_signature(signed, secret_key, method, uri)
        if not key.active:  # said only to whoever holds the secret
            raise InvalidCredentials("this API key was revoked", hint=IAM_HINT)
        return key

    def _without_key(
        self,
        sent_something: bool,
        rejection: str = "the API key is not valid",
        hint: str = CREATE_HINT,
    ) -> Principal:
        """No known key: open on loopback while the store has none, refused otherwise."""
        self._keys_exist = self._keys_exist or self.keys.any_keys()
        if not self._keys_exist:
            if self.allow_open:
                return OPEN
            raise InvalidCredentials(
                "this server is reachable from other machines and has no API keys yet",
                hint=CREATE_HINT,
            )
        if sent_something:
            raise InvalidCredentials(rejection, hint=hint)
        raise MissingCredentials("no API key was sent", hint=CREATE_HINT)


def credentials(headers: Mapping[str, str]) -> tuple[str | None, str]:
    """The secret the headers carry and how: a Bearer value, or CLOVA's legacy header."""
    authorization = headers.get("authorization") or headers.get("Authorization") or ""
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), "bearer"
    legacy = headers.get(LEGACY_KEY_HEADER) or headers.get("X-NCP-CLOVASTUDIO-API-KEY")
    if legacy and legacy.strip():
        return legacy.strip(), "legacy_header"
    return None, "none"


def basic_credentials(headers: Mapping[str, str]) -> tuple[str, str]:
    """``Authorization: Basic base64(client_id:client_secret)`` as (client_id, secret)."""
    authorization = headers.get("authorization") or headers.get("Authorization") or ""
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        raise MissingCredentials(
            "send the client id and secret as `Authorization: Basic base64(id:secret)`",
            hint="`tunestudio keys create` prints a key's client id and secret once",
        )
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidCredentials("the Basic credentials are not valid base64") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep or not client_id or not secret:
        raise InvalidCredentials("the Basic credentials must be base64 of `client_id:secret`")
    return client_id, secret


def require(scope: Scope) -> Callable[[Request], Awaitable[Principal]]:
    """A FastAPI dependency: authenticate the request for ``scope`` (kept in request.state).

    On SQLite the lookup runs on the event loop: it is a local indexed read of about 0.1 ms
    that WAL mode never blocks behind writers, cheaper than the hop to a worker thread (which
    on a busy machine costs milliseconds). On a networked store (PostgreSQL) it runs in a
    worker thread so a slow database cannot stall the loop.
    """

    async def dependency(request: Request) -> Principal:
        auth: Authenticator = request.app.state.server.auth
        target = (request.method, request_uri(request.scope))
        if auth.keys.local:
            principal = auth.authenticate(request.headers, scope, target)
        else:
            principal = await run_in_threadpool(auth.authenticate, request.headers, scope, target)
        request.state.principal = principal
        # the cost ledger sums calls per key: label the calls this request makes
        set_labels(key=principal.key_id)
        return principal

    return dependency
