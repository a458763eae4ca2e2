"""Keys over the wire and on disk: the keys CLI, Bearer and legacy headers, revocation, scopes,
rate limits, access tokens, and that no secret is ever stored in plain text."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import openai
import pytest

from tests.cli_runner import run_cli
from tests.server.live_app import MODEL, LiveApp, sdk
from tunestudio.config import Settings
from tunestudio.server.auth import Authenticator, basic_credentials
from tunestudio.server.errors import InvalidCredentials, MissingCredentials, TokenExpired
from tunestudio.server.keystore import KeyStore, Scope
from tunestudio.server.ratelimit import TokenBuckets

HELLO = [{"role": "user", "content": "안녕하세요"}]


def create_key(*args: str) -> dict[str, str]:
    result = run_cli("keys", "create", "--json", *args)
    assert result.exit_code == 0, result.stderr
    created: dict[str, str] = json.loads(result.stdout)
    return created


def chat(live: LiveApp, key: str) -> str:
    answer = sdk(live, api_key=key).chat.completions.create(
        model=MODEL, messages=HELLO, max_tokens=2, temperature=0
    )
    return answer.choices[0].message.content or ""


def test_keys_cli_create_list_revoke_and_the_server_obeys(live: LiveApp) -> None:
    created = create_key("--name", "my-app", "--scope", "chat", "--rate-limit", "0")
    key = created["apiKey"]
    assert key.startswith("ts-") and len(key) > 40
    assert created["scopes"] == ["chat"] and created["rateLimit"] == 0
    chat(live, key)

    listed = run_cli("keys", "list", "--json")
    assert listed.exit_code == 0
    (row,) = json.loads(listed.stdout)
    assert row["id"] == created["id"] and row["name"] == "my-app" and row["revokedAt"] is None
    assert key not in listed.stdout and created["clientSecret"] not in listed.stdout
    text = run_cli("keys", "list").stdout
    assert created["id"] in text and key[:7] in text and key not in text

    revoked = run_cli("keys", "revoke", created["id"])
    assert revoked.exit_code == 0 and "revoked key" in revoked.stdout
    with pytest.raises(openai.AuthenticationError, match="revoked"):
        chat(live, key)
    with pytest.raises(openai.AuthenticationError, match="not valid"):
        chat(live, "anything")  # revoking every key does not open the server again
    assert json.loads(run_cli("keys", "list", "--json").stdout)[0]["revokedAt"]


def test_keys_cli_errors() -> None:
    unknown = run_cli("keys", "revoke", "nosuchid")
    assert unknown.exit_code == 2
    assert "no API key with id 'nosuchid'" in unknown.stderr and "keys list" in unknown.stderr
    bad_scope = run_cli("keys", "create", "--scope", "chat,root")
    assert bad_scope.exit_code == 2 and "unknown scope 'root'" in bad_scope.stderr
    assert "chat, tune, admin" in bad_scope.stderr


def test_secrets_are_stored_only_as_sha256_digests() -> None:
    created = create_key("--name", "audit")
    db = Settings.from_env().home_dir / "tunestudio.db"
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT * FROM api_keys").fetchall()
        dump = "\n".join(conn.iterdump())
    assert len(rows) == 1
    for secret in (created["apiKey"], created["clientSecret"]):
        assert secret not in dump
        assert secret[7:] not in dump  # not even the random part after the hint
        assert hashlib.sha256(secret.encode()).hexdigest() in dump


def test_open_on_loopback_until_a_key_exists(live: LiveApp) -> None:
    assert chat(live, "anything-goes") is not None  # no keys: open, any key accepted
    key = create_key()["apiKey"]
    with pytest.raises(openai.AuthenticationError) as caught:
        chat(live, "ts-not-a-real-key")
    assert caught.value.body["code"] == "invalid_api_key"  # type: ignore[index]
    missing = httpx.get(f"{live.url}/v1/models")
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "missing_api_key"
    assert chat(live, key) is not None


def test_legacy_clova_header_pair_is_accepted(live: LiveApp) -> None:
    key = create_key()["apiKey"]
    headers = {"X-NCP-CLOVASTUDIO-API-KEY": key, "X-NCP-APIGW-API-KEY": "ignored"}
    assert httpx.get(f"{live.url}/v1/models", headers=headers).status_code == 200
    headers["X-NCP-CLOVASTUDIO-API-KEY"] = "ts-wrong"
    assert httpx.get(f"{live.url}/v1/models", headers=headers).status_code == 401


def test_rate_limit_is_429_with_retry_after(live: LiveApp) -> None:
    key = create_key("--rate-limit", "2")["apiKey"]
    client = sdk(live, api_key=key)
    client.models.list()
    client.models.list()
    with pytest.raises(openai.RateLimitError) as caught:
        client.models.list()
    assert caught.value.response.headers["retry-after"] == "30"  # 2/min: one every 30 s
    assert caught.value.body["code"] == "rate_limit_exceeded"  # type: ignore[index]


def test_scope_is_enforced(live: LiveApp) -> None:
    tune_only = create_key("--scope", "tune")["apiKey"]
    with pytest.raises(openai.PermissionDeniedError, match="may not use chat"):
        chat(live, tune_only)
    admin = create_key("--scope", "admin")["apiKey"]
    assert chat(live, admin) is not None


def test_access_token_flow(start: Callable[..., LiveApp]) -> None:
    live = start()
    auth: Authenticator = live.app.state.server.auth
    created = create_key("--name", "legacy")
    token, expires_at = auth.issue_access_token(created["clientId"], created["clientSecret"])
    assert token.startswith("tst-")
    assert expires_at > datetime.fromisoformat(created["createdAt"]) + timedelta(minutes=59)
    assert chat(live, token) is not None
    with pytest.raises(InvalidCredentials):
        auth.issue_access_token(created["clientId"], "wrong-secret")

    stale, _ = auth.keys.issue_token(created["id"], ttl=-1)
    with pytest.raises(openai.AuthenticationError) as caught:
        chat(live, stale)
    assert caught.value.body["code"] == "token_expired"  # type: ignore[index]
    with pytest.raises(TokenExpired):
        auth.authenticate({"Authorization": f"Bearer {stale}"}, Scope.CHAT)

    run_cli("keys", "revoke", created["id"])
    with pytest.raises(openai.AuthenticationError):
        chat(live, token)  # a revoked key's tokens die with it
    with pytest.raises(InvalidCredentials):
        auth.issue_access_token(created["clientId"], created["clientSecret"])


def test_a_server_beyond_loopback_without_keys_refuses_everyone(tmp_path: Path) -> None:
    from tunestudio.store.db import get_engine

    keys = KeyStore(get_engine(f"sqlite:///{tmp_path / 'store.db'}"))
    exposed = Authenticator(keys, allow_open=False)
    with pytest.raises(InvalidCredentials, match="no API keys yet"):
        exposed.authenticate({}, Scope.CHAT)
    assert Authenticator(keys, allow_open=True).authenticate({}, Scope.CHAT).via == "open"


def test_basic_credentials() -> None:
    import base64

    value = base64.b64encode(b"tsc-abc:s3cr:et").decode()
    assert basic_credentials({"authorization": f"Basic {value}"}) == ("tsc-abc", "s3cr:et")
    with pytest.raises(MissingCredentials):
        basic_credentials({"authorization": "Bearer x"})
    with pytest.raises(InvalidCredentials):
        basic_credentials({"authorization": "Basic !!!"})
    with pytest.raises(InvalidCredentials):
        basic_credentials({"authorization": "Basic " + base64.b64encode(b"no-colon").decode()})


def test_token_buckets_refill_at_the_per_minute_rate() -> None:
    now = [0.0]
    buckets = TokenBuckets(clock=lambda: now[0])
    assert [buckets.take("k", 3) for _ in range(3)] == [None, None, None]
    assert buckets.take("k", 3) == pytest.approx(20.0)  # 3/min: a token every 20 s
    now[0] = 10.0
    assert buckets.take("k", 3) == pytest.approx(10.0)
    now[0] = 20.0
    assert buckets.take("k", 3) is None
    assert buckets.take("other", 3) is None  # keys do not share a bucket
    assert all(buckets.take("free", 0) is None for _ in range(100))
