"""Pipelines: ops stages composed in YAML around a model, loaded as one Backend.

A pipeline file::

    name: inquiry-gateway
    model: hf:./runs/inquiry/adapter      # the model at the core (optional with cascade/router)
    prices:                               # per 1,000 tokens; models without a price cost 0
      clova:HCX-005: {input_per_1k: 1.25, output_per_1k: 5.0}
    pipeline:                             # outermost first: a request passes them in order
      - window: {}
      - exact_cache: {ttl: 3600}
      - semantic_cache: {threshold: 0.9}
      - cascade: {models: [tiny, clova:HCX-005], gates: {labels: [...]}}

is named by the spec string ``pipeline:<path>``, so ``chat``, ``infer``, ``run`` and ``serve``
use it exactly as they use a model. Stages are built innermost first: each stage's factory gets
the Backend it wraps (``None`` for the innermost stage when there is no ``model:``, which a
cascade or router fills by loading its own models through :meth:`StageContext.load`).

A stage is registered in :data:`STAGES` as ``"module:function"``; the function is
``factory(inner: Backend | None, options: dict, context: StageContext) -> Backend`` and raises
:class:`~tunestudio.errors.ConfigError` (``where=context.where``) on bad options.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tunestudio.config import Settings, read_yaml, validate_model
from tunestudio.errors import ConfigError
from tunestudio.models.base import Backend
from tunestudio.ops.ledger import Ledger, Metered, Price, Prices
from tunestudio.ops.wrapper import Wrapper

# stage kind -> "module:factory"
STAGES: dict[str, str] = {
    "window": "tunestudio.ops.window:from_config",
    "exact_cache": "tunestudio.ops.cache:exact_from_config",
    "semantic_cache": "tunestudio.ops.cache:semantic_from_config",
    "compress": "tunestudio.ops.compress:from_config",
    "cascade": "tunestudio.ops.cascade:cascade_from_config",
    "router": "tunestudio.ops.cascade:router_from_config",
    "fallback": "tunestudio.ops.cascade:fallback_from_config",
}

Factory = Callable[[Backend | None, dict[str, Any], "StageContext"], Backend]


class PipelineSpec(BaseModel):
    """A pipeline file."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, description="shown in stats; default: the file name")
    model: str | None = Field(default=None, description="spec of the model at the core")
    prices: dict[str, Price] = Field(default_factory=dict)
    pipeline: list[str | dict[str, Any]] = Field(
        default_factory=list, description="stages, outermost first: `- kind: {options}`"
    )


@dataclass
class StageContext:
    """What a stage factory may use besides its options."""

    where: str  # "gateway.yaml, pipeline[2] (exact_cache)": for ConfigError
    base_dir: Path  # relative paths in options are relative to the pipeline file
    settings: Settings
    ledger: Ledger
    prices: Prices
    pipeline_name: str
    loaded: list[Backend] = field(default_factory=list)

    def load(self, spec: str, **options: Any) -> Backend:
        """Load a model by spec string, metered in the ledger (cost by ``prices``).

        Relative paths in the spec (``hf:./adapter``) are from the pipeline file's folder; the
        ledger and ``prices`` name the model as the file writes it.
        """
        from tunestudio.models.registry import load_backend, resolve_spec

        loaded = load_backend(resolve_spec(spec, self.base_dir), **options)
        backend = Metered(loaded, self.ledger, self.prices, model=spec)
        self.loaded.append(backend)
        return backend

    def path(self, value: str) -> Path:
        """A path option, relative to the pipeline file."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.base_dir / path


class Pipeline(Wrapper):
    """The outermost stage of a built pipeline, named by the pipeline; closes every model."""

    def __init__(self, outer: Backend, name: str, context: StageContext) -> None:
        super().__init__(outer, name=name)
        self.context = context

    def close(self) -> None:
        self.inner.close()
        for backend in self.context.loaded:
            backend.close()
        self.context.ledger.flush()


def stage_kinds() -> list[str]:
    return sorted(STAGES)


def build_pipeline(
    spec: PipelineSpec,
    *,
    base_dir: Path,
    where: str,
    name: str,
    settings: Settings | None = None,
    ledger: Ledger | None = None,
) -> Pipeline:
    """Build the stages of ``spec`` around its model, innermost first."""
    settings = settings or Settings.from_env()
    context = StageContext(
        where=where,
        base_dir=base_dir,
        settings=settings,
        ledger=ledger or Ledger(pipeline=name),
        prices=Prices(spec.prices),
        pipeline_name=name,
    )
    stages = [_stage(entry, index, where) for index, entry in enumerate(spec.pipeline)]
    inner = wrap(context.load(spec.model) if spec.model else None, stages, context)
    if inner is None:
        raise ConfigError(
            "the pipeline has no model",
            where=where,
            hint="set `model: <spec>` or end the pipeline with a cascade or router stage",
        )
    return Pipeline(inner, name, context)


def wrap(
    inner: Backend | None, stages: list[tuple[str, dict[str, Any]]], context: StageContext
) -> Backend | None:
    """``inner`` inside the ``(kind, options)`` stages, listed outermost first."""
    where = context.where
    for index, (kind, options) in reversed(list(enumerate(stages))):
        context.where = f"{where}, pipeline[{index}] ({kind})"
        inner = _factory(kind, context.where)(inner, dict(options), context)
    context.where = where
    return inner


def load_pipeline(path: Path, **options: Any) -> Pipeline:
    """Load a pipeline file (what the spec string ``pipeline:<path>`` does)."""
    path = path.expanduser()
    spec = validate_model(PipelineSpec, read_yaml(path), str(path))
    name = spec.name or path.stem
    return build_pipeline(spec, base_dir=path.parent.resolve(), where=str(path), name=name)


def load_pipeline_spec(parsed: Any, **options: Any) -> Pipeline:
    """Loader behind the ``pipeline:`` spec string (see models/registry.py)."""
    return load_pipeline(Path(parsed.target), **options)


def _stage(entry: str | dict[str, Any], index: int, where: str) -> tuple[str, dict[str, Any]]:
    here = f"{where}, pipeline[{index}]"
    options: Any
    if isinstance(entry, str):
        kind, options = entry, {}
    elif len(entry) == 1:
        kind, raw = next(iter(entry.items()))
        options = raw or {}
        if not isinstance(options, dict):
            raise ConfigError(
                f"the options of stage {kind!r} must be a mapping, not {type(options).__name__}",
                where=here,
                hint=f"write `- {kind}: {{}}` or indent `key: value` lines under it",
            )
    else:
        raise ConfigError(
            f"a stage must have exactly one kind, found {sorted(entry)}",
            where=here,
            hint="write each stage as its own list item: `- window: {}`",
        )
    if kind not in STAGES:
        raise ConfigError(
            f"unknown stage {kind!r}", where=here, hint=f"stages: {', '.join(stage_kinds())}"
        )
    return kind, dict(options)


def _factory(kind: str, where: str) -> Factory:
    module_name, _, func_name = STAGES[kind].partition(":")
    try:
        module = import_module(module_name)
    except ModuleNotFoundError as exc:  # a stage not installed in this build
        raise ConfigError(f"stage {kind!r} is not available: {exc}", where=where) from exc
    factory: Factory = getattr(module, func_name)
    return factory
