"""Spec strings name models: ``tiny``, ``hf:<id or path>[@<adapter>]``, ``clova:<model>``,
``clova-task:<taskId>``, ``openai:<base_url>#<model>``, ``pipeline:<file.yaml>``.

Backends are imported only when loaded, so naming a model costs nothing until it is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

from tunestudio.errors import ConfigError
from tunestudio.models.base import Backend

SPEC_FORMS = (
    "tiny",
    "hf:<hub id or local path>[@<adapter path>]",
    "clova:<model> (e.g. clova:HCX-005)",
    "clova-task:<taskId>",
    "openai:<base_url>#<model> (e.g. openai:http://localhost:8000/v1#qwen)",
    "pipeline:<pipeline.yaml> (ops stages around a model)",
)

# kind -> "module:function" that takes a ModelSpec and keyword options and returns a Backend
_LOADERS = {
    "tiny": "tunestudio.models.tiny:load_tiny",
    "hf": "tunestudio.models.hf:load_hf",
    "clova": "tunestudio.models.clova:load_clova",
    "clova-task": "tunestudio.models.clova:load_clova",
    "openai": "tunestudio.models.openai_compat:load_openai",
    "pipeline": "tunestudio.ops.pipeline:load_pipeline_spec",
}


@dataclass(frozen=True)
class ModelSpec:
    """A parsed spec string."""

    kind: str
    target: str = ""
    adapter: str | None = None
    model: str | None = None
    raw: str = ""


def parse_spec(spec: str) -> ModelSpec:
    """Parse a spec string; a malformed one raises ConfigError listing the accepted forms."""
    raw = spec.strip()
    kind, sep, rest = raw.partition(":")
    if raw == "tiny" or (kind == "tiny" and not rest):
        return ModelSpec("tiny", raw=raw)
    hint = "name a model as one of: " + "; ".join(SPEC_FORMS)
    if not sep or kind not in _LOADERS or not rest:
        raise ConfigError(f"unknown model spec {spec!r}", where="model", hint=hint)
    if kind == "hf":
        target, _, adapter = rest.partition("@")
        if not target:
            raise ConfigError(f"model spec {spec!r} names no model", where="model", hint=hint)
        return ModelSpec("hf", target, adapter or None, raw=raw)
    if kind == "openai":
        url, _, model = rest.rpartition("#")
        if not url or not model:
            raise ConfigError(
                f"model spec {spec!r} needs both a base URL and a model name",
                where="model",
                hint="write openai:<base_url>#<model>, e.g. openai:http://localhost:8000/v1#qwen",
            )
        return ModelSpec("openai", url, model=model, raw=raw)
    return ModelSpec(kind, rest, raw=raw)


def resolve_spec(spec: str, base: Path) -> str:
    """``spec`` with its relative local paths taken from ``base`` (the folder of the file that
    names it): ``hf:./x@../y`` and ``pipeline:x.yaml``; hub ids and remote models stay as they are.
    """
    if spec.startswith("pipeline:"):
        path = Path(spec[len("pipeline:") :]).expanduser()
        return spec if path.is_absolute() else f"pipeline:{(base / path).resolve()}"
    if not spec.startswith("hf:"):
        return spec
    target, sep, adapter = spec[3:].partition("@")

    def fix(part: str) -> str:
        return str((base / part).resolve()) if part.startswith(("./", "../")) else part

    return f"hf:{fix(target)}{sep}{fix(adapter) if sep else ''}"


def load_backend(spec: str | ModelSpec, **options: Any) -> Backend:
    """Load the backend a spec string names. Options go to the backend's loader."""
    parsed = parse_spec(spec) if isinstance(spec, str) else spec
    module_name, _, func_name = _LOADERS[parsed.kind].partition(":")
    loader = getattr(import_module(module_name), func_name)
    backend: Backend = loader(parsed, **options)
    return backend
