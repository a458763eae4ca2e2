"""Credential loading: options, environment, keys file; masked everywhere."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from tunestudio.errors import ConfigError
from tunestudio.models.keys import (
    CLOVA_ENV,
    clova_keys,
    keys_file_path,
    openai_keys,
    read_keys_file,
)

SECRET = "nv-keys-test-secret-0123456789"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in [*CLOVA_ENV.values(), "OPENAI_API_KEY", "TUNESTUDIO_KEYS_FILE"]:
        monkeypatch.delenv(var, raising=False)


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def test_the_keys_file_lives_in_the_home_unless_named(monkeypatch: pytest.MonkeyPatch) -> None:
    assert keys_file_path() == Path(os.environ["TUNESTUDIO_HOME"]) / "keys.yaml"
    monkeypatch.setenv("TUNESTUDIO_KEYS_FILE", "~/elsewhere.yaml")
    assert keys_file_path() == Path("~/elsewhere.yaml").expanduser()


def test_a_missing_file_means_no_keys() -> None:
    keys = read_keys_file()
    assert keys.clova.api_key is None and keys.openai.api_key is None


def test_keys_come_from_the_home_file() -> None:
    home = Path(os.environ["TUNESTUDIO_HOME"])
    write(home / "keys.yaml", f"clova:\n  api_key: {SECRET}\nopenai:\n  api_key: sk-x\n")
    keys = clova_keys({})
    assert keys.api_key is not None and keys.api_key.get_secret_value() == SECRET
    assert keys.source == str(home / "keys.yaml")
    assert openai_keys({}).api_key is not None


def test_a_file_others_can_read_gets_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path / "keys.yaml", f"clova:\n  api_key: {SECRET}\n", mode=0o644)
    read_keys_file(path)
    assert "readable by every user" in caplog.text and "chmod 600" in caplog.text
    caplog.clear()
    path.chmod(0o600)
    read_keys_file(path)
    assert caplog.records == []
    assert SECRET not in caplog.text


def test_a_misspelt_field_is_a_config_error_naming_file_and_field(tmp_path: Path) -> None:
    path = write(tmp_path / "keys.yaml", f"clova:\n  apikey: {SECRET}\n")
    with pytest.raises(ConfigError) as caught:
        read_keys_file(path)
    assert str(path) in str(caught.value) and "clova.apikey" in str(caught.value)
    assert SECRET not in str(caught.value)


def test_sources_are_not_mixed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "k.yaml", "clova:\n  apigw_api_key: from-file\n")
    monkeypatch.setenv("TUNESTUDIO_KEYS_FILE", str(path))
    monkeypatch.setenv("CLOVASTUDIO_LEGACY_API_KEY", "from-env")
    keys = clova_keys({})
    assert keys.source == "environment" and keys.apigw_api_key is None
    assert clova_keys({"api_key": "x"}).source == "option"


def test_reprs_mask_every_secret() -> None:
    keys = clova_keys({"api_key": SECRET, "client_id": "id-1234567", "client_secret": "s3cr3t99"})
    for text in (repr(keys), str(keys), repr(read_keys_file())):
        assert SECRET not in text and "s3cr3t99" not in text and "id-1234567" not in text
    assert "**********" in repr(keys)


def test_warning_goes_through_logging(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="tunestudio.models.keys")
    read_keys_file(write(tmp_path / "k.yaml", "openai: {}\n", mode=0o604))
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
