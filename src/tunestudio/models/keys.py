"""Credentials for remote models: from loader options, the environment, or a keys file.

Secrets are held as pydantic ``SecretStr`` values, so ``repr``/``str`` of every credential object
shows ``**********``; only the auth code that writes the request header reads the real value.

Environment variables::

    CLOVASTUDIO_API_KEY          Bearer key (starts with ``nv-``; issued since 2025-01)
    CLOVASTUDIO_LEGACY_API_KEY   legacy pair, part 1: the X-NCP-CLOVASTUDIO-API-KEY value
    CLOVASTUDIO_APIGW_API_KEY    legacy pair, part 2: the X-NCP-APIGW-API-KEY value
    CLOVASTUDIO_CLIENT_ID        api-hyperclova access-token flow: client id
    CLOVASTUDIO_CLIENT_SECRET    api-hyperclova access-token flow: client secret
    OPENAI_API_KEY               key for ``openai:`` servers (local vLLM/Ollama need none)

The keys file is ``$TUNESTUDIO_KEYS_FILE``, or ``keys.yaml`` in the tunestudio home
(``$TUNESTUDIO_HOME``, default ``~/.tunestudio``)::

    clova:
      api_key: nv-...
      # or: legacy_api_key + apigw_api_key, or: client_id + client_secret
    openai:
      api_key: sk-...

Precedence is per source, never mixed: credentials passed as loader options win; otherwise
the environment, if it sets any of the service's variables; otherwise the keys file. So a key
in the environment never pairs up with half a legacy pair from the file.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, SecretStr

from tunestudio.config import Settings, read_yaml, validate_model

log = logging.getLogger(__name__)

KEYS_FILE_ENV = "TUNESTUDIO_KEYS_FILE"

# field -> environment variable, per service
CLOVA_ENV = {
    "api_key": "CLOVASTUDIO_API_KEY",
    "legacy_api_key": "CLOVASTUDIO_LEGACY_API_KEY",
    "apigw_api_key": "CLOVASTUDIO_APIGW_API_KEY",
    "client_id": "CLOVASTUDIO_CLIENT_ID",
    "client_secret": "CLOVASTUDIO_CLIENT_SECRET",
}
OPENAI_ENV = {"api_key": "OPENAI_API_KEY"}


class _Keys(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Where the values came from ("option", "environment", a file path), for error hints.
    source: str = "none"


class ClovaKeys(_Keys):
    """CLOVA Studio credentials; which fields are set decides the auth scheme."""

    api_key: SecretStr | None = None
    legacy_api_key: SecretStr | None = None
    apigw_api_key: SecretStr | None = None
    client_id: SecretStr | None = None
    client_secret: SecretStr | None = None


class OpenAIKeys(_Keys):
    """The key for an OpenAI-compatible server (optional: local servers need none)."""

    api_key: SecretStr | None = None


K = TypeVar("K", bound=_Keys)


class KeysFile(BaseModel):
    """The keys file: one section per service."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    clova: ClovaKeys = ClovaKeys()
    openai: OpenAIKeys = OpenAIKeys()


def keys_file_path() -> Path:
    """Where the keys file is: ``$TUNESTUDIO_KEYS_FILE`` or ``<home>/keys.yaml``."""
    if explicit := os.environ.get(KEYS_FILE_ENV):
        return Path(explicit).expanduser()
    return Settings.from_env().home_dir / "keys.yaml"


def read_keys_file(path: Path | None = None) -> KeysFile:
    """Read the keys file; a missing file means no keys. Warns when others can read it."""
    path = path or keys_file_path()
    if not path.is_file():
        return KeysFile()
    if path.stat().st_mode & stat.S_IROTH:
        log.warning("keys file %s is readable by every user; run: chmod 600 %s", path, path)
    data = read_yaml(path)
    for section in data.values():
        if isinstance(section, dict):
            section["source"] = str(path)
    return validate_model(KeysFile, data, str(path))


def clova_keys(options: Mapping[str, Any]) -> ClovaKeys:
    """CLOVA Studio credentials from loader options, else the environment, else the keys file."""
    return _pick(ClovaKeys, CLOVA_ENV, options, lambda file: file.clova)


def openai_keys(options: Mapping[str, Any]) -> OpenAIKeys:
    """The OpenAI-compatible key from options, else ``OPENAI_API_KEY``, else the keys file."""
    return _pick(OpenAIKeys, OPENAI_ENV, options, lambda file: file.openai)


def _pick(
    model: type[K],
    env: Mapping[str, str],
    options: Mapping[str, Any],
    section: Callable[[KeysFile], K],
) -> K:
    given = {name: options[name] for name in env if options.get(name)}
    if given:
        return model(source="option", **given)
    from_env = {name: os.environ[var] for name, var in env.items() if os.environ.get(var)}
    if from_env:
        return model(source="environment", **from_env)
    return section(read_keys_file())
