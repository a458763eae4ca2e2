"""IAM signatures without a server: the string to sign, raw URIs, the timestamp window, the
header set, the key store and the Authenticator's choice of credential."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest

from tunestudio.server.auth import Authenticator
from tunestudio.server.errors import InvalidCredentials, InvalidSignature, MissingCredentials
from tunestudio.server.iam import (
    IamKeyStore,
    SignedRequest,
    check_signature,
    check_timestamp,
    request_uri,
    sign,
    signed_request,
    string_to_sign,
)
from tunestudio.server.keystore import KeyStore, Scope

NOW = 1_700_000_000.0
LIST = b"/tuning/v2/tasks?page=0&size=20"


def ncp_signature(method: str, uri: str, ts: str, ak: str, sk: str) -> str:
    """The research note's reference client (clova-studio-api.md §2.4), verbatim."""
    msg = f"{method} {uri}\n{ts}\n{ak}".encode()
    return base64.b64encode(hmac.new(sk.encode(), msg, hashlib.sha256).digest()).decode()


def test_sign_matches_the_reference_client() -> None:
    assert string_to_sign("GET", LIST, "1700000000000", "ABCDEFACCESSKEY") == (
        b"GET /tuning/v2/tasks?page=0&size=20\n1700000000000\nABCDEFACCESSKEY"
    )
    for uri in (LIST.decode(), "/tuning/v2/tasks", "/v2/tasks/문의"):
        expected = ncp_signature("POST", uri, "1700000000000", "AK", "secret")
        assert sign("secret", "POST", uri, "1700000000000", "AK") == expected


def test_request_uri_is_the_raw_path_and_query() -> None:
    scope = {"path": "/v2/tasks/문 의", "raw_path": b"/v2/tasks/%EB%AC%B8%20%EC%9D%98"}
    assert request_uri(scope | {"query_string": b"a=%2F&b"}) == (
        b"/v2/tasks/%EB%AC%B8%20%EC%9D%98?a=%2F&b"
    )
    assert request_uri(scope | {"query_string": b""}) == scope["raw_path"]
    assert request_uri({"path": "/v2/tasks"}) == b"/v2/tasks"  # a server without raw_path


def test_timestamp_window() -> None:
    check_timestamp(str(int((NOW - 299) * 1000)), NOW)
    check_timestamp(str(int((NOW + 299) * 1000)), NOW)
    with pytest.raises(InvalidSignature, match="301 s before") as early:
        check_timestamp(str(int((NOW - 301) * 1000)), NOW)
    assert early.value.where == "X-NCP-APIGW-TIMESTAMP" and "clock" in (early.value.hint or "")
    with pytest.raises(InvalidSignature, match="s after"):
        check_timestamp(str(int((NOW + 400) * 1000)), NOW)
    with pytest.raises(InvalidSignature) as seconds:
        check_timestamp(str(int(NOW)), NOW)
    assert "milliseconds, not seconds" in (seconds.value.hint or "")
    for bad in ("17e11", "-1", "１２３", "9" * 40):
        with pytest.raises(InvalidSignature, match="not a time in epoch milliseconds"):
            check_timestamp(bad, NOW)


def test_header_set() -> None:
    assert signed_request({"authorization": "Bearer x"}) is None
    full = {
        "x-ncp-iam-access-key": "AK",
        "x-ncp-apigw-timestamp": "1",
        "X-NCP-APIGW-SIGNATURE-V2": "s",
    }
    assert signed_request(full) == SignedRequest("AK", "1", "s")
    with pytest.raises(InvalidSignature, match="without X-NCP-APIGW-TIMESTAMP and X-NCP-APIGW-SIG"):
        signed_request({"x-ncp-iam-access-key": "AK"})


def test_check_signature_shows_what_was_signed() -> None:
    good = SignedRequest("AK", "1700000000000", sign("sk", "GET", LIST, "1700000000000", "AK"))
    check_signature(good, "sk", "GET", LIST)
    for method, uri in (("POST", LIST), ("GET", LIST + b"0")):
        with pytest.raises(InvalidSignature) as caught:
            check_signature(good, "sk", method, uri)
        assert repr(string_to_sign(method, uri, "1700000000000", "AK").decode()) in (
            caught.value.hint or ""
        )
    with pytest.raises(InvalidSignature):  # non-ASCII junk is a mismatch, not a crash
        check_signature(SignedRequest("AK", "1", "서명"), "sk", "GET", LIST)


def test_store_and_authenticator() -> None:
    keys = KeyStore()
    iam = IamKeyStore(keys)
    pair = iam.create("signer", [Scope.TUNE], rate_limit=0)
    found = iam.find(pair.access_key)
    assert found is not None and found == (pair.key.info, pair.secret_key)
    assert iam.find("TS" + "0" * 18) is None
    assert iam.access_keys() == {pair.key.info.id: pair.access_key}

    auth = Authenticator(keys, allow_open=False, iam=iam)
    ts = str(int(time.time() * 1000))
    headers = {
        "x-ncp-iam-access-key": pair.access_key,
        "x-ncp-apigw-timestamp": ts,
        "x-ncp-apigw-signature-v2": sign(pair.secret_key, "GET", LIST, ts, pair.access_key),
    }
    principal = auth.authenticate(headers, Scope.TUNE, ("GET", LIST))
    assert (principal.key_id, principal.via) == (pair.key.info.id, "iam_signature")
    # a Bearer key beside a bad signature does not win: the signature must hold
    with pytest.raises(InvalidSignature):
        auth.authenticate(
            headers | {"authorization": f"Bearer {pair.key.key}"}, Scope.TUNE, ("GET", b"/x")
        )
    # without the request line (no URI to check) signature headers are not credentials
    with pytest.raises(MissingCredentials):
        auth.authenticate(headers, Scope.TUNE)
    keys.revoke(pair.key.info.id)
    with pytest.raises(InvalidCredentials, match="revoked"):
        auth.authenticate(headers, Scope.TUNE, ("GET", LIST))
