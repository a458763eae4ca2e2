"""API keys, client credentials and access tokens, kept in the store as SHA-256 digests.

A key (``ts-…``), a client secret and an access token (``tst-…``) are each 32 random bytes
from :mod:`secrets`. Such tokens cannot be guessed or brute-forced from their digest, so a fast
SHA-256 is enough: a slow password hash (scrypt, argon2) protects low-entropy human passwords
and would only add tens of milliseconds to every request. The digest is also the lookup key
(a unique index), as GitHub and others do for their tokens; the plain value is shown once at
creation and never stored or logged.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import IntegrityError

from tunestudio.errors import ConfigError, TuneStudioError
from tunestudio.store import get_engine, session_scope
from tunestudio.store.schema import AccessTokenRow, ApiKeyRow, utcnow

KEY_PREFIX, TOKEN_PREFIX, CLIENT_PREFIX = "ts-", "tst-", "tsc-"
ID_ALPHABET = string.ascii_lowercase + string.digits
HINT_CHARS = 4  # random characters kept after the prefix so a person can tell keys apart


class Scope(StrEnum):
    """What a key may do. ``admin`` includes the others."""

    CHAT = "chat"
    TUNE = "tune"
    ADMIN = "admin"


DEFAULT_SCOPES = (Scope.CHAT, Scope.TUNE)


class KeyNotFoundError(TuneStudioError):
    """No API key has this id."""


@dataclass(frozen=True)
class KeyInfo:
    """An API key as the store holds it: everything but the secrets."""

    id: str
    name: str
    hint: str
    client_id: str
    scopes: tuple[Scope, ...]
    rate_limit: int
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def allows(self, scope: Scope) -> bool:
        """Whether this key may use endpoints that need ``scope``."""
        return scope in self.scopes or Scope.ADMIN in self.scopes


@dataclass(frozen=True)
class NewKey:
    """A key just created, with the secrets that are shown this once."""

    info: KeyInfo
    key: str
    client_secret: str


def digest(secret: str) -> str:
    """The SHA-256 hex digest under which a secret is stored."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def parse_scopes(values: Iterable[str]) -> tuple[Scope, ...]:
    """Scope names (``chat``, ``tune``, ``admin``) as Scopes; unknown names raise ConfigError."""
    scopes: list[Scope] = []
    for raw in values:
        name = raw.strip().lower()
        if not name:
            continue
        try:
            scope = Scope(name)
        except ValueError:
            accepted = ", ".join(s.value for s in Scope)
            raise ConfigError(
                f"unknown scope {raw!r}", where="--scope", hint=f"use some of: {accepted}"
            ) from None
        if scope not in scopes:
            scopes.append(scope)
    if not scopes:
        raise ConfigError("a key needs at least one scope", where="--scope", hint="e.g. chat")
    return tuple(scopes)


class KeyStore:
    """API keys and access tokens in the store (one engine; safe to share across threads)."""

    def __init__(self, engine: Engine | None = None) -> None:
        self.engine = engine or get_engine()
        self._table = ApiKeyRow.__table__

    @property
    def local(self) -> bool:
        """True when the store is a local SQLite file (reads take well under a millisecond)."""
        return self.engine.dialect.name == "sqlite"

    def create(
        self, name: str, scopes: Iterable[Scope] = DEFAULT_SCOPES, rate_limit: int = 0
    ) -> NewKey:
        """Create a key; its secret and client secret are returned here and nowhere else."""
        if rate_limit < 0:
            raise ConfigError(
                f"rate limit {rate_limit} is negative", where="--rate-limit", hint="0 = no limit"
            )
        for _ in range(5):
            key = KEY_PREFIX + secrets.token_urlsafe(32)
            client_secret = secrets.token_urlsafe(32)
            row = ApiKeyRow(
                id="".join(secrets.choice(ID_ALPHABET) for _ in range(8)),
                name=name,
                key_hash=digest(key),
                key_hint=key[: len(KEY_PREFIX) + HINT_CHARS],
                client_id=CLIENT_PREFIX + secrets.token_hex(12),
                client_secret_hash=digest(client_secret),
                scopes=[scope.value for scope in scopes],
                rate_limit=rate_limit,
            )
            try:
                with session_scope(self.engine) as session:
                    session.add(row)
            except IntegrityError:  # an id collision (36**8): draw again
                continue
            return NewKey(self.get(row.id), key, client_secret)
        raise TuneStudioError("could not draw a free key id", hint="try again")

    def get(self, key_id: str) -> KeyInfo:
        """The key with this id, or KeyNotFoundError."""
        found = self._one(self._table.c.id == key_id)
        if found is None:
            raise KeyNotFoundError(
                f"no API key with id {key_id!r}", hint="`tunestudio keys list` shows every key"
            )
        return found

    def list_keys(self) -> list[KeyInfo]:
        """Every key, oldest first (revoked ones included)."""
        query = select(self._table).order_by(self._table.c.created_at, self._table.c.id)
        with self.engine.connect() as conn:
            return [key_info(row) for row in conn.execute(query).mappings()]

    def revoke(self, key_id: str) -> KeyInfo:
        """Revoke a key, and with it its access tokens; revoking twice changes nothing."""
        key = self.get(key_id)
        if key.active:
            with session_scope(self.engine) as session:
                session.execute(
                    update(ApiKeyRow).where(ApiKeyRow.id == key_id).values(revoked_at=utcnow())
                )
        return self.get(key_id)

    def any_keys(self) -> bool:
        """Whether a key was ever created (revoked ones count: revoking every key must not
        open the server again)."""
        with self.engine.connect() as conn:
            return conn.execute(select(self._table.c.id).limit(1)).first() is not None

    def has_active_keys(self) -> bool:
        """Whether any key is in force."""
        query = select(self._table.c.id).where(self._table.c.revoked_at.is_(None)).limit(1)
        with self.engine.connect() as conn:
            return conn.execute(query).first() is not None

    def find_key(self, key: str) -> KeyInfo | None:
        """The key whose secret is ``key`` (revoked or not), or None."""
        return self._one(self._table.c.key_hash == digest(key))

    def find_client(self, client_id: str, client_secret: str) -> KeyInfo | None:
        """The key of this client id when the secret matches, else None."""
        row = self._row(self._table.c.client_id == client_id)
        if row is None or not hmac.compare_digest(row["client_secret_hash"], digest(client_secret)):
            return None
        return key_info(row)

    def issue_token(self, key_id: str, ttl: float) -> tuple[str, datetime]:
        """A new access token for ``key_id``, valid for ``ttl`` seconds; expired tokens go."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = utcnow()
        expires_at = now + timedelta(seconds=ttl)
        with session_scope(self.engine) as session:
            session.execute(delete(AccessTokenRow).where(AccessTokenRow.expires_at <= now))
            session.add(
                AccessTokenRow(token_hash=digest(token), key_id=key_id, expires_at=expires_at)
            )
        return token, expires_at

    def find_token(self, token: str) -> tuple[KeyInfo, datetime] | None:
        """The key an access token belongs to and the token's expiry, or None."""
        tokens = AccessTokenRow.__table__
        query = (
            select(self._table, tokens.c.expires_at.label("token_expires_at"))
            .join(tokens, tokens.c.key_id == self._table.c.id)
            .where(tokens.c.token_hash == digest(token))
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else (key_info(row), row["token_expires_at"])

    def _one(self, condition: Any) -> KeyInfo | None:
        row = self._row(condition)
        return None if row is None else key_info(row)

    def _row(self, condition: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(select(self._table).where(condition)).mappings().first()


def key_info(row: Any) -> KeyInfo:
    """The KeyInfo of an ``api_keys`` row (a mapping; a joined query may add columns)."""
    return KeyInfo(
        id=row["id"],
        name=row["name"],
        hint=row["key_hint"],
        client_id=row["client_id"],
        scopes=tuple(Scope(s) for s in row["scopes"] or ()),
        rate_limit=int(row["rate_limit"] or 0),
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )
