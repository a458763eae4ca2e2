"""Settings from the environment, and YAML files loaded into typed models.

A YAML recipe is a saved instance of a pydantic model. ``load_yaml`` reads it, applies
``a.b=value`` overrides from the command line and validates it, turning pydantic's errors into a
:class:`ConfigError` that names the file, the field and what is accepted.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tunestudio.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


class Settings(BaseModel):
    """Where tunestudio keeps its state. Each field can be set by an environment variable."""

    model_config = ConfigDict(frozen=True)

    home: Path = Field(
        default=Path("~/.tunestudio"),
        description="Data directory for the store, built models and caches (TUNESTUDIO_HOME).",
    )
    db_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the store; SQLite under home when unset (TUNESTUDIO_DB_URL).",
    )

    @classmethod
    def from_env(cls) -> Settings:
        """Read the settings from ``TUNESTUDIO_*`` environment variables."""
        values: dict[str, Any] = {}
        if home := os.environ.get("TUNESTUDIO_HOME"):
            values["home"] = Path(home)
        if db_url := os.environ.get("TUNESTUDIO_DB_URL"):
            values["db_url"] = db_url
        return cls(**values)

    @property
    def home_dir(self) -> Path:
        return self.home.expanduser()


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``a.b=value`` overrides to a nested dict; values are parsed as YAML scalars."""
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                f"override {item!r} is not of the form key=value",
                hint='write overrides like `train.epochs=4` or `name="my run"`',
            )
        node = data
        parts = key.strip().split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[parts[-1]] = yaml.safe_load(raw) if raw.strip() else ""
    return data


def read_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping, with errors that name the file and line."""
    if not path.exists():
        raise ConfigError(
            f"file not found: {path}",
            where=str(path),
            hint="check the path; relative paths are from the current directory",
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path} line {mark.line + 1}" if mark is not None else str(path)
        raise ConfigError(
            f"not valid YAML: {getattr(exc, 'problem', exc)}",
            where=where,
            hint="check indentation and quoting near that line",
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(
            "not UTF-8 text", where=str(path), hint="save the file as UTF-8"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            "the top level must be a mapping of keys to values",
            where=str(path),
            hint="start the file with `key: value` lines, not a list",
        )
    return data


def validate_model(model: type[M], data: dict[str, Any], where: str) -> M:
    """Validate ``data`` into ``model``, reporting every bad field at once."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "(top level)"
            problems.append(f"{field}: {err['msg']}")
        fields = ", ".join(model.model_fields)
        raise ConfigError(
            "; ".join(problems), where=where, hint=f"fields of {model.__name__}: {fields}"
        ) from None


def load_yaml(path: Path, model: type[M], overrides: list[str] | None = None) -> M:
    """Load a YAML file into ``model`` after applying command-line overrides."""
    data = apply_overrides(read_yaml(path), overrides or [])
    return validate_model(model, data, str(path))
