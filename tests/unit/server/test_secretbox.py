"""The master key: made once with safe modes (even by racing processes), overridable by the
environment, refused when malformed or readable by others; secrets round-trip only under it."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography.fernet import Fernet

from tunestudio.server.secretbox import (
    MASTER_KEY_ENV,
    MasterKeyError,
    SecretBox,
    load_master_key,
    master_key_path,
)


def test_made_on_first_use_with_private_modes_and_then_reused() -> None:
    path = master_key_path()
    assert not path.exists()
    key = load_master_key()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_master_key() == key and path.read_bytes().strip() == key
    Fernet(key)  # a usable key


def test_racing_first_uses_agree_on_one_key() -> None:
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: load_master_key(), range(16)))
    assert len(keys) == 1
    assert [p.name for p in master_key_path().parent.iterdir()] == ["master.key"]  # no leftovers


def test_environment_overrides_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    key = Fernet.generate_key()
    monkeypatch.setenv(MASTER_KEY_ENV, key.decode() + "\n")
    assert load_master_key() == key
    assert not master_key_path().exists()


def test_malformed_environment_key_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MASTER_KEY_ENV, "not-a-key")
    with pytest.raises(MasterKeyError) as caught:
        load_master_key()
    assert caught.value.where == MASTER_KEY_ENV
    assert "Fernet.generate_key()" in (caught.value.hint or "")


def test_a_key_file_open_to_others_is_refused() -> None:
    path = master_key_path()
    load_master_key()
    path.chmod(0o644)
    with pytest.raises(MasterKeyError, match="open to other users") as caught:
        load_master_key()
    assert caught.value.hint == f"chmod 600 {path}"


def test_secrets_round_trip_only_under_their_master_key() -> None:
    box = SecretBox.from_settings()
    token = box.encrypt("비밀-secret")
    assert "비밀" not in token and box.decrypt(token, what="x") == "비밀-secret"
    with pytest.raises(MasterKeyError, match="the secret of TS1 cannot be decrypted"):
        SecretBox(Fernet.generate_key()).decrypt(token, what="the secret of TS1")
