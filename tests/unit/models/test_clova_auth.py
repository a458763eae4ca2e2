"""Every CLOVA Studio auth scheme against a server that checks headers like the real one."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from tests.http_servers import ClovaServer, LiveServer
from tunestudio.errors import ModelAuthError, ModelError, ModelRateLimitError
from tunestudio.models import load_backend
from tunestudio.models.http import RetryPolicy
from tunestudio.models.keys import CLOVA_ENV, ClovaKeys, clova_keys
from tunestudio.types import GenParams, Message

BEARER = "nv-bearer-secret-0123456789abcdef"
LEGACY = ("legacy-app-secret-0123456789", "apigw-secret-0123456789")
CLIENT = ("client-id-secret-0123", "client-secret-value-0123456789")
SECRETS = (BEARER, *LEGACY, *CLIENT)
ASK = [Message("user", "환불은 언제 되나요?")]
SHORT = GenParams(max_tokens=6)
NO_WAIT = RetryPolicy(max_retries=1, sleep=lambda _: None)


@pytest.fixture(scope="module")
def live(random_llama: Path) -> Iterator[tuple[ClovaServer, str]]:
    hf = load_backend(f"hf:{random_llama}")
    server = ClovaServer(
        hf, bearer_keys=(BEARER,), legacy_pairs=(LEGACY,), clients={CLIENT[0]: CLIENT[1]}
    )
    with LiveServer(server.app) as running:
        yield server, running.url


@pytest.fixture(autouse=True)
def _no_real_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own CLOVA variables must not leak into these tests."""
    for var in [*CLOVA_ENV.values(), "CLOVASTUDIO_BASE_URL", "TUNESTUDIO_KEYS_FILE"]:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def server(live: tuple[ClovaServer, str]) -> ClovaServer:
    live[0].faults.clear()
    live[0].seen.clear()
    return live[0]


@pytest.fixture
def url(live: tuple[ClovaServer, str]) -> str:
    return live[1]


def load(url: str, **options: Any) -> Any:
    return load_backend("clova:HCX-005", base_url=url, retry=NO_WAIT, **options)


def test_bearer_key(server: ClovaServer, url: str) -> None:
    assert load(url, api_key=BEARER).chat(ASK, SHORT).content
    headers = server.seen.last.headers
    assert headers["authorization"] == f"Bearer {BEARER}"
    assert "x-ncp-apigw-api-key" not in headers


def test_legacy_header_pair(server: ClovaServer, url: str) -> None:
    backend = load(url, legacy_api_key=LEGACY[0], apigw_api_key=LEGACY[1])
    assert backend.chat(ASK, SHORT).content
    headers = server.seen.last.headers
    assert (headers["x-ncp-clovastudio-api-key"], headers["x-ncp-apigw-api-key"]) == LEGACY
    assert "authorization" not in headers


def test_access_token_flow_fetches_once_and_refreshes_on_40103(
    server: ClovaServer, url: str
) -> None:
    backend = load_backend(
        "clova:HCX-003",
        client_id=CLIENT[0],
        client_secret=CLIENT[1],
        token_url=f"{url}/v1/auth/token",  # the API host defaults to the token host
        retry=NO_WAIT,
    )
    issued = server.tokens.issued
    backend.chat(ASK, SHORT)
    backend.chat(ASK, SHORT)
    token_call = server.seen.requests[0]
    basic = base64.b64encode(f"{CLIENT[0]}:{CLIENT[1]}".encode()).decode()
    assert token_call.headers["authorization"] == f"Basic {basic}"
    assert server.seen.paths() == ["/v1/auth/token"] + ["/v1/chat-completions/HCX-003"] * 2
    assert server.tokens.issued in (issued, issued + 1)  # an existing token may be handed back

    server.seen.clear()
    server.tokens.expire_all()
    assert backend.chat(ASK, SHORT).content
    assert server.seen.paths() == [
        "/v1/chat-completions/HCX-003",  # answered 401 / 40103
        "/v1/auth/token",
        "/v1/chat-completions/HCX-003",  # the same request with the new token
    ]
    first, _, again = server.seen.requests
    assert first.headers["authorization"] != again.headers["authorization"]
    assert (
        first.headers["x-ncp-clovastudio-request-id"]
        == again.headers["x-ncp-clovastudio-request-id"]
    )

    server.tokens.expire_all()  # streams refresh too
    assert "".join(c.delta for c in backend.stream(ASK, SHORT)) == backend.chat(ASK, SHORT).content
    backend.close()
    backend.close()


def test_a_wrong_client_secret_names_the_variables(url: str) -> None:
    backend = load(
        url, client_id=CLIENT[0], client_secret="wrong", token_url=f"{url}/v1/auth/token"
    )
    with pytest.raises(ModelAuthError) as caught:
        backend.chat(ASK, SHORT)
    assert "CLOVASTUDIO_CLIENT_SECRET" in (caught.value.hint or "")


def test_a_wrong_key_is_refused_with_the_key_hint(url: str) -> None:
    with pytest.raises(ModelAuthError, match="40104") as caught:
        load(url, api_key="nv-wrong").chat(ASK, SHORT)
    hint = caught.value.hint or ""
    assert "CLOVASTUDIO_API_KEY" in hint and "nv-" in hint
    assert "a Bearer key from the api_key option" in hint


def test_keys_from_the_environment(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("CLOVASTUDIO_API_KEY", BEARER)
    assert load(url).chat(ASK, SHORT).content
    monkeypatch.setenv("CLOVASTUDIO_API_KEY", "nv-wrong")
    with pytest.raises(ModelAuthError) as caught:
        load(url).chat(ASK, SHORT)
    assert "from CLOVASTUDIO_API_KEY" in (caught.value.hint or "")


def test_the_legacy_pair_from_the_environment(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("CLOVASTUDIO_LEGACY_API_KEY", LEGACY[0])
    with pytest.raises(ModelAuthError, match="CLOVASTUDIO_APIGW_API_KEY is missing"):
        load(url)
    monkeypatch.setenv("CLOVASTUDIO_APIGW_API_KEY", LEGACY[1])
    assert load(url).chat(ASK, SHORT).content


def test_keys_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    keys = tmp_path / "keys.yaml"
    keys.write_text(f"clova:\n  api_key: {BEARER}\n", encoding="utf-8")
    keys.chmod(0o600)
    monkeypatch.setenv("TUNESTUDIO_KEYS_FILE", str(keys))
    assert load(url).chat(ASK, SHORT).content
    monkeypatch.setenv("CLOVASTUDIO_API_KEY", "nv-wrong")  # the environment wins over the file
    with pytest.raises(ModelAuthError):
        load(url).chat(ASK, SHORT)
    assert load(url, api_key=BEARER).chat(ASK, SHORT).content  # and options win over both


def test_no_credentials_at_all() -> None:
    with pytest.raises(ModelAuthError, match="no CLOVA Studio credentials") as caught:
        load_backend("clova:HCX-005")
    hint = caught.value.hint or ""
    assert "CLOVASTUDIO_API_KEY" in hint and "CLOVASTUDIO_LEGACY_API_KEY" in hint
    assert "keys.yaml" in hint


def test_secrets_never_reach_logs_reprs_or_errors(
    server: ClovaServer, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[ModelError] = []
    backends = [
        load(url, api_key=BEARER),
        load(url, legacy_api_key=LEGACY[0], apigw_api_key=LEGACY[1]),
        load(url, client_id=CLIENT[0], client_secret=CLIENT[1], token_url=f"{url}/v1/auth/token"),
    ]
    for backend in backends:
        server.faults.add(status=429, code="42901", retry_after="0", times=2)
        with pytest.raises(ModelRateLimitError) as caught:
            backend.chat(ASK, SHORT)
        errors.append(caught.value)
        server.tokens.expire_all()
        backend.chat(ASK, SHORT)
    for wrong in (
        {"api_key": BEARER[:-1]},
        {"legacy_api_key": LEGACY[0], "apigw_api_key": LEGACY[1][:-1]},
        {
            "client_id": CLIENT[0],
            "client_secret": CLIENT[1][:-1],
            "token_url": f"{url}/v1/auth/token",
        },
    ):
        with pytest.raises(ModelAuthError) as refused:
            load(url, **wrong).chat(ASK, SHORT)
        errors.append(refused.value)
    keys = clova_keys({"api_key": BEARER, "client_id": CLIENT[0], "client_secret": CLIENT[1]})
    shown = [caplog.text, *map(str, errors), *map(repr, errors), *map(repr, backends)]
    shown += [repr(keys), str(keys), repr(ClovaKeys(api_key=SecretStr(BEARER)))]
    assert "retry 1 of 1" in caplog.text  # the logs did record the calls
    for text in shown:
        for secret in SECRETS:
            assert secret not in text
            assert secret[:-1] not in text
