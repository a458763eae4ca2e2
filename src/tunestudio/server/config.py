"""ServerConfig: what ``tunestudio serve`` serves and how, from ``serve.yaml`` and/or flags.

A ``serve.yaml``::

    host: 127.0.0.1
    port: 8000
    models:                      # served name -> model spec
      HCX-005: tiny
      qwen: hf:./models/qwen     # relative paths are from this file's directory
    # or as a list, with loader options:
    # models:
    #   - {name: qwen, spec: "hf:./models/qwen", options: {device: cpu}}
    #   - {name: bge-m3, spec: "hf:./models/bge-m3", kind: embedding}

An entry with ``kind: embedding`` answers ``/v1/embeddings`` and CLOVA's embedding v2 and
segmentation tools (the first such entry, or the one named ``bge-m3``) instead of chat.

With no models configured the built-in ``tiny`` is served as ``tiny``. A SUCCEEDED tuning job
of the store is served by its job id as well (see ``tunestudio.server.registry``).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tunestudio.config import read_yaml, validate_model
from tunestudio.errors import ConfigError, TuneStudioError
from tunestudio.models.registry import parse_spec, resolve_spec

DEFAULT_MAX_BODY = 50 * 1024 * 1024  # CLOVA Studio's limit ("body > 50 MB" → 41300)


class ModelEntry(BaseModel):
    """One served model: the name clients send, and the spec string that loads it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="Model name clients use (e.g. HCX-005).")
    spec: str = Field(
        description="Model spec: tiny, hf:<path>[@<adapter>], clova:…, openai:…, pipeline:<file>."
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="Loader options (e.g. device: cpu, max_batch_size)."
    )
    kind: Literal["chat", "embedding"] = Field(
        default="chat", description="chat: answers chat calls; embedding: answers embeddings."
    )

    @field_validator("spec")
    @classmethod
    def _known_spec(cls, spec: str) -> str:
        try:  # a malformed spec fails at startup, not at the first request
            parse_spec(spec)
        except ConfigError as exc:
            if not _embedder_spec(spec):  # hash-ko, st:…, clova-embed:… (checked below)
                raise ValueError(f"{exc.message} ({exc.hint})") from None
        return spec

    @model_validator(mode="after")
    def _spec_of_its_kind(self) -> ModelEntry:
        from tunestudio.ops.embeddings import parse_embed_spec

        try:
            parse_embed_spec(self.spec) if self.kind == "embedding" else parse_spec(self.spec)
        except TuneStudioError as exc:
            raise ValueError(f"spec: {exc.message} ({exc.hint})") from None
        return self


class ServerConfig(BaseModel):
    """Everything ``tunestudio serve`` needs; a ``serve.yaml`` is a saved instance."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(default="127.0.0.1", description="Interface to listen on.")
    port: int = Field(default=8000, ge=0, le=65535, description="TCP port (0 picks a free one).")
    ssl_certfile: Path | None = Field(default=None, description="TLS certificate (PEM).")
    ssl_keyfile: Path | None = Field(default=None, description="TLS private key (PEM).")
    models: list[ModelEntry] = Field(
        default_factory=list, description="Served models; the built-in tiny when empty."
    )
    max_body_bytes: int = Field(
        default=DEFAULT_MAX_BODY, ge=1024, description="Largest request body; larger get 413."
    )
    default_max_tokens: int = Field(
        default=512,
        ge=1,
        description="Answer budget when a request sets none (cut to what the context leaves).",
    )
    access_token_ttl: int = Field(
        default=3600, ge=60, description="Seconds an access token of the token flow stays valid."
    )
    worker: bool = Field(default=True, description="Run queued tuning jobs in this process.")

    @field_validator("models", mode="before")
    @classmethod
    def _mapping_form(cls, value: Any) -> Any:
        """``{name: spec}`` is shorthand for ``[{name, spec}]``."""
        if isinstance(value, dict):
            return [{"name": str(name), "spec": spec} for name, spec in value.items()]
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ServerConfig:
        names = [entry.name for entry in self.models]
        if dupes := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"model names must be unique; repeated: {', '.join(dupes)}")
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise ValueError("ssl_certfile and ssl_keyfile go together; set both or neither")
        return self

    def served_models(self) -> list[ModelEntry]:
        """The configured models, or the built-in ``tiny`` when none is configured."""
        return self.models or [ModelEntry(name="tiny", spec="tiny")]

    @property
    def tls(self) -> bool:
        return self.ssl_certfile is not None

    @property
    def loopback(self) -> bool:
        """True when only this machine can connect (127.0.0.0/8, ::1 or localhost)."""
        return is_loopback(self.host)

    @property
    def base_url(self) -> str:
        """The URL clients put before ``/v1`` (``0.0.0.0`` shown as this machine's loopback)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"


def is_loopback(host: str) -> bool:
    """Whether ``host`` names a loopback interface; hostnames other than localhost do not."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def load_server_config(
    path: Path | None = None,
    *,
    overrides: dict[str, Any] | None = None,
    models: list[str] | None = None,
) -> ServerConfig:
    """The config from ``path`` (if any), then ``overrides`` (flags), then ``--model NAME=SPEC``.

    A ``--model`` replaces a configured model of the same name and adds any other. Relative
    local paths in the file (TLS files, ``hf:./…``) are taken from the file's directory.
    """
    data: dict[str, Any] = {}
    where = "serve options"
    if path is not None:
        data, where = read_yaml(path), str(path)
        _resolve_paths(data, path.parent)
    data |= {key: value for key, value in (overrides or {}).items() if value is not None}
    config = validate_model(ServerConfig, data, where)
    if models:
        config = config.model_copy(update={"models": _merge(config.models, models)})
    return config


def _embedder_spec(spec: str) -> bool:
    """Whether ``spec`` names an embedder (served only with ``kind: embedding``)."""
    from tunestudio.ops.embeddings import parse_embed_spec

    try:
        parse_embed_spec(spec)
    except TuneStudioError:
        return False
    return True


def _merge(configured: list[ModelEntry], flags: list[str]) -> list[ModelEntry]:
    merged = {entry.name: entry for entry in configured}
    for item in flags:
        name, sep, spec = item.partition("=")
        if not sep or not name.strip() or not spec.strip():
            raise ConfigError(
                f"{item!r} is not of the form NAME=SPEC",
                where="--model",
                hint="e.g. --model HCX-005=tiny or --model qwen=hf:./models/qwen",
            )
        merged[name.strip()] = validate_model(
            ModelEntry, {"name": name.strip(), "spec": spec.strip()}, f"--model {item}"
        )
    return list(merged.values())


def _resolve_paths(data: dict[str, Any], base: Path) -> None:
    """Make the file's relative paths absolute, from the file's own directory."""
    for key in ("ssl_certfile", "ssl_keyfile"):
        if isinstance(data.get(key), str) and not Path(data[key]).expanduser().is_absolute():
            data[key] = str(base / data[key])
    models = data.get("models")
    if isinstance(models, dict):
        data["models"] = {name: _resolve_spec(spec, base) for name, spec in models.items()}
    elif isinstance(models, list):
        for entry in models:
            if isinstance(entry, dict) and isinstance(entry.get("spec"), str):
                entry["spec"] = _resolve_spec(entry["spec"], base)


def _resolve_spec(spec: Any, base: Path) -> Any:
    """``hf:./x@./y`` and ``pipeline:x.yaml`` relative to ``base``; hub ids stay as they are."""
    return resolve_spec(spec, base) if isinstance(spec, str) else spec
