"""NCP IAM access keys and the API Gateway signature (V2) that CLOVA's older tuning client sends.

The client signs every request with its secret key and sends three headers
(clova-studio-api.md §2.4)::

    X-NCP-APIGW-TIMESTAMP:    epoch milliseconds
    X-NCP-IAM-ACCESS-KEY:     the access key
    X-NCP-APIGW-SIGNATURE-V2: base64(HMAC-SHA256(secret key,
                                  METHOD + " " + URI + "\\n" + TIMESTAMP + "\\n" + ACCESS_KEY))

URI is the path and query exactly as sent (no scheme or host), so the server signs the raw
bytes of the request line, never a re-encoded path. A request made more than five minutes from
the server's clock is refused, as NCP's gateway does, which bounds how long a captured request
can be replayed. An access key belongs to one API key: it has that key's scopes and rate limit
and is revoked with it. Its secret is kept encrypted (:mod:`.secretbox`), since checking an
HMAC needs it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError

from tunestudio.config import Settings
from tunestudio.errors import TuneStudioError
from tunestudio.server.errors import InvalidSignature
from tunestudio.server.keystore import (
    DEFAULT_SCOPES,
    KeyInfo,
    KeyStore,
    NewKey,
    Scope,
    key_info,
)
from tunestudio.server.secretbox import SecretBox
from tunestudio.store import session_scope
from tunestudio.store.schema import ApiKeyRow, IamKeyRow

ACCESS_KEY_HEADER = "X-NCP-IAM-ACCESS-KEY"
TIMESTAMP_HEADER = "X-NCP-APIGW-TIMESTAMP"
SIGNATURE_HEADER = "X-NCP-APIGW-SIGNATURE-V2"
MAX_SKEW_SECONDS = 300
# 20 characters of A-Z0-9, the shape of an NCP access key id; "TS" tells ours apart
ACCESS_KEY_PREFIX, ACCESS_KEY_LENGTH = "TS", 20
ACCESS_KEY_ALPHABET = string.ascii_uppercase + string.digits
IAM_HINT = "`tunestudio keys create --iam` prints an access key and its secret key once"


@dataclass(frozen=True)
class NewIamKey:
    """An API key just created with its IAM pair; the secrets are shown this once."""

    key: NewKey
    access_key: str
    secret_key: str


@dataclass(frozen=True)
class SignedRequest:
    """The three signature headers of one request."""

    access_key: str
    timestamp: str
    signature: str


def string_to_sign(method: str, uri: bytes | str, timestamp: str, access_key: str) -> bytes:
    """What the signature covers: ``METHOD URI\\nTIMESTAMP\\nACCESS_KEY`` as bytes."""
    raw_uri = uri.encode("utf-8") if isinstance(uri, str) else uri
    return b"%s %s\n%s\n%s" % (method.encode(), raw_uri, timestamp.encode(), access_key.encode())


def sign(secret_key: str, method: str, uri: bytes | str, timestamp: str, access_key: str) -> str:
    """The ``X-NCP-APIGW-SIGNATURE-V2`` value for a request, as NCP's clients compute it."""
    message = string_to_sign(method, uri, timestamp, access_key)
    digest = hmac.new(secret_key.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def request_uri(scope: Mapping[str, Any]) -> bytes:
    """The path and query of an ASGI request exactly as the client sent them."""
    path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
    query: bytes = scope.get("query_string") or b""
    return path + b"?" + query if query else path


def signed_request(headers: Mapping[str, str]) -> SignedRequest | None:
    """The signature headers, or None when no access key was sent; a partial set raises."""
    access_key = _header(headers, ACCESS_KEY_HEADER)
    if not access_key:
        return None
    parts = {name: _header(headers, name) for name in (TIMESTAMP_HEADER, SIGNATURE_HEADER)}
    missing = [name for name, value in parts.items() if not value]
    if missing:
        raise InvalidSignature(
            f"{ACCESS_KEY_HEADER} was sent without {' and '.join(missing)}",
            hint="send all three headers: the timestamp, the access key and the signature",
        )
    return SignedRequest(access_key, parts[TIMESTAMP_HEADER], parts[SIGNATURE_HEADER])


def _header(headers: Mapping[str, str], name: str) -> str:
    """A header's value, stripped; by its lower-case name too (plain dicts are not
    case-insensitive as Starlette's headers are)."""
    return (headers.get(name.lower()) or headers.get(name) or "").strip()


def check_timestamp(timestamp: str, now: float) -> None:
    """Refuse a timestamp that is not epoch milliseconds within five minutes of ``now`` (s)."""
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 16:
        raise InvalidSignature(
            f"{timestamp!r} is not a time in epoch milliseconds",
            where=TIMESTAMP_HEADER,
            hint="send str(int(time.time() * 1000)), e.g. 1700000000000",
        )
    skew = int(timestamp) / 1000 - now
    if abs(skew) > MAX_SKEW_SECONDS:
        seconds = len(timestamp) <= 10  # ten digits: seconds, not milliseconds
        raise InvalidSignature(
            f"the request was signed {abs(skew):.0f} s {'before' if skew < 0 else 'after'} "
            f"the server's time; a signed request must be sent within "
            f"{MAX_SKEW_SECONDS // 60} minutes of its timestamp",
            where=TIMESTAMP_HEADER,
            hint="the timestamp is in milliseconds, not seconds"
            if seconds
            else "sign each request just before sending it, and check this machine's clock",
        )


def check_signature(signed: SignedRequest, secret_key: str, method: str, uri: bytes) -> None:
    """Refuse a signature that is not the HMAC of this request under ``secret_key``."""
    expected = sign(secret_key, method, uri, signed.timestamp, signed.access_key)
    # bytes on both sides: compare_digest refuses non-ASCII str, and a header may hold any
    if not hmac.compare_digest(expected.encode(), signed.signature.encode("utf-8")):
        signed_text = string_to_sign(method, uri, signed.timestamp, signed.access_key)
        raise InvalidSignature(
            "the signature does not match this request",
            where=SIGNATURE_HEADER,
            hint="sign base64(HMAC-SHA256(secret key, "
            f"{signed_text.decode('utf-8', 'replace')!r})): the method, the path and query "
            "exactly as sent, the timestamp and the access key",
        )


# Built once: this runs on every signed request, and building the statement each time would
# cost more than the indexed read itself. One read, as a Bearer key costs.
_FIND = (
    select(ApiKeyRow.__table__, IamKeyRow.__table__.c.secret_encrypted)
    .join(IamKeyRow.__table__, IamKeyRow.__table__.c.key_id == ApiKeyRow.__table__.c.id)
    .where(IamKeyRow.__table__.c.access_key == bindparam("access_key"))
)


class IamKeyStore:
    """IAM access keys in the store, each tied to one API key of :class:`KeyStore`."""

    def __init__(self, keys: KeyStore, settings: Settings | None = None) -> None:
        self.keys = keys
        self.settings = settings

    @cached_property
    def box(self) -> SecretBox:
        """The master key's box, read (or made) on first use only."""
        return SecretBox.from_settings(self.settings)

    def create(
        self, name: str, scopes: Iterable[Scope] = DEFAULT_SCOPES, rate_limit: int = 0
    ) -> NewIamKey:
        """Create an API key with an IAM pair; the secrets are returned here and nowhere else."""
        box = self.box  # an unusable master key fails here, before any key is made
        new = self.keys.create(name, scopes, rate_limit)
        secret_key = secrets.token_urlsafe(30)  # 40 characters, as NCP's secret keys
        encrypted = box.encrypt(secret_key)
        for _ in range(5):
            access_key = ACCESS_KEY_PREFIX + "".join(
                secrets.choice(ACCESS_KEY_ALPHABET)
                for _ in range(ACCESS_KEY_LENGTH - len(ACCESS_KEY_PREFIX))
            )
            row = IamKeyRow(access_key=access_key, key_id=new.info.id, secret_encrypted=encrypted)
            try:
                with session_scope(self.keys.engine) as session:
                    session.add(row)
            except IntegrityError:  # an access key collision (36**18): draw again
                continue
            return NewIamKey(new, access_key, secret_key)
        raise TuneStudioError("could not draw a free access key", hint="try again")

    def find(self, access_key: str) -> tuple[KeyInfo, str] | None:
        """The API key behind ``access_key`` (revoked or not) and its secret key, or None."""
        with self.keys.engine.connect() as conn:
            row = conn.execute(_FIND, {"access_key": access_key}).mappings().first()
        if row is None:
            return None
        what = f"the secret key of {access_key}"
        return key_info(row), self.box.decrypt(row["secret_encrypted"], what=what)

    def access_keys(self) -> dict[str, str]:
        """The access key of every API key that has one, by API key id."""
        table = IamKeyRow.__table__
        with self.keys.engine.connect() as conn:
            rows = conn.execute(select(table.c.key_id, table.c.access_key))
            return {key_id: access_key for key_id, access_key in rows}
