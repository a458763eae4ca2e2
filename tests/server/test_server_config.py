"""ServerConfig from serve.yaml and flags, and the rule about binding beyond loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tunestudio.errors import ConfigError
from tunestudio.server import ModelEntry, ServerConfig, load_server_config
from tunestudio.server.app import check_bind
from tunestudio.server.config import is_loopback
from tunestudio.server.keystore import KeyStore


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "conf" / "serve.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_mapping_form_and_relative_paths_from_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "port: 9000\n"
        "ssl_certfile: tls/cert.pem\n"
        "ssl_keyfile: /abs/key.pem\n"
        "models:\n"
        "  HCX-005: tiny\n"
        "  local: hf:./models/base@../adapters/a\n"
        "  hub: hf:naver-hyperclovax/HyperCLOVAX-SEED-Text-Instruct-0.5B\n",
    )
    config = load_server_config(path)
    base = path.parent
    assert config.port == 9000 and config.host == "127.0.0.1"
    assert config.ssl_certfile == base / "tls/cert.pem"
    assert config.ssl_keyfile == Path("/abs/key.pem")
    specs = {entry.name: entry.spec for entry in config.models}
    assert specs == {
        "HCX-005": "tiny",
        "local": f"hf:{(base / 'models/base').resolve()}@{(base / '../adapters/a').resolve()}",
        "hub": "hf:naver-hyperclovax/HyperCLOVAX-SEED-Text-Instruct-0.5B",
    }
    assert config.base_url == "https://127.0.0.1:9000"


def test_list_form_with_options_and_flags_override(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "models:\n  - {name: a, spec: tiny, options: {max_batch_size: 4}}\n  - {name: b, spec: tiny}\n",
    )
    config = load_server_config(
        path, overrides={"port": 8123, "host": None, "worker": False}, models=["b=hf:/x", "c=tiny"]
    )
    assert config.port == 8123 and config.worker is False
    assert [(e.name, e.spec, e.options) for e in config.models] == [
        ("a", "tiny", {"max_batch_size": 4}),
        ("b", "hf:/x", {}),
        ("c", "tiny", {}),
    ]


def test_defaults_serve_tiny() -> None:
    config = load_server_config()
    assert config.models == []
    assert config.served_models() == [ModelEntry(name="tiny", spec="tiny")]
    assert config.worker is True and config.loopback
    assert config.base_url == "http://127.0.0.1:8000"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("models:\n  - {name: a, spec: tiny}\n  - {name: a, spec: tiny}\n", "repeated: a"),
        ("ssl_certfile: c.pem\n", "set both or neither"),
        ("models:\n  a: 'nope:x'\n", "models.0.spec"),
        ("pipeline: [cache]\n", "pipeline: Extra inputs are not permitted"),
        ("port: 70000\n", "port: Input should be less than or equal to 65535"),
    ],
)
def test_config_errors_name_the_file_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_server_config(path)
    assert caught.value.where == str(path)
    assert expected in caught.value.message


def test_model_flag_must_be_name_equals_spec() -> None:
    with pytest.raises(ConfigError, match="NAME=SPEC"):
        load_server_config(models=["tiny"])


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.0.10", False),
        ("myhost.example", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_binding_beyond_loopback_needs_an_active_key() -> None:
    keys = KeyStore()
    exposed = ServerConfig(host="0.0.0.0")
    check_bind(ServerConfig(), keys)  # loopback: always fine
    with pytest.raises(ConfigError, match=r"refusing to listen on 0\.0\.0\.0") as caught:
        check_bind(exposed, keys)
    assert caught.value.hint is not None and "tunestudio keys create" in caught.value.hint
    created = keys.create("ops")
    check_bind(exposed, keys)
    keys.revoke(created.info.id)
    with pytest.raises(ConfigError):
        check_bind(exposed, keys)
