"""The experiment recipe: one YAML file says what to test, with which models, and how to score.

A recipe is a saved :class:`Recipe`. :func:`load_recipe` reads it with the shared YAML loader,
so every mistake is a :class:`ConfigError` naming the file and the field, and ``a.b=value``
overrides from the command line work. Paths written in the YAML are relative to the YAML's
folder (so a recipe runs from anywhere); paths given as overrides are relative to the current
directory, where the user typed them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tunestudio.config import apply_overrides, read_yaml, validate_model
from tunestudio.experiments.classify_recipe import ClassifySettings
from tunestudio.models.registry import resolve_spec
from tunestudio.tuning.spec import TuneSpec
from tunestudio.types import GenParams

Kind = Literal["compare", "tune-and-compare", "learning-curve", "classify-compare"]
GeneratorName = Literal["countries", "inquiries"]
# Names become file names, and tuned models' hf:<path> specs, where @ would start an adapter.
_FORBIDDEN_IN_NAMES = set('/\\:*?"<>|@')


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataSource(_Strict):
    """A dataset: a file, or rows made by one of tunestudio's generators."""

    file: Path | None = Field(
        default=None,
        description="A table (.csv/.xlsx/.jsonl): a test set (system, user, expected, …) or, "
        "for training, a CLOVA dataset. Relative to the recipe's folder.",
    )
    generator: GeneratorName | None = Field(
        default=None,
        description="Generate the rows instead: countries (seed 003) or inquiries (seed 001).",
    )
    rows: int | None = Field(default=None, ge=1, description="Rows to generate.")
    seed: int | None = Field(
        default=None, description="Generator seed (default 0); the same seed gives the same rows."
    )
    counts: str | None = Field(
        default=None,
        description="countries only: countries per row as COUNT:WEIGHT,… (e.g. 10:1,15:3).",
    )
    continents: str | None = Field(
        default=None, description="countries only: continents per row, LOW-HIGH (e.g. 2-6)."
    )
    subset: int | None = Field(
        default=None, ge=1, description="countries only: use the first N countries per continent."
    )
    system: str | None = Field(
        default=None, description="countries only: system prompt of the generated rows."
    )

    @model_validator(mode="before")
    @classmethod
    def _path_shorthand(cls, value: Any) -> Any:
        # `test: examples/inquiry/test.csv` is the common case; it means `test: {file: …}`.
        return {"file": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_source(self) -> DataSource:
        if (self.file is None) == (self.generator is None):
            raise ValueError("give either `file` or `generator` (exactly one)")
        if self.file is not None:
            if not self.file.is_file():
                raise ValueError(f"file not found: {self.file}")
            extra = [
                n
                for n in ("rows", "seed", "counts", "continents", "subset", "system")
                if getattr(self, n) is not None
            ]
            if extra:
                raise ValueError(f"{', '.join(extra)} only apply to a `generator`")
        elif self.rows is None:
            raise ValueError("a generator needs `rows` (how many rows to make)")
        if self.generator == "inquiries":
            extra = [
                n
                for n in ("counts", "continents", "subset", "system")
                if getattr(self, n) is not None
            ]
            if extra:
                raise ValueError(f"{', '.join(extra)} only apply to the countries generator")
        return self

    def describe(self) -> str:
        """``examples/inquiry/test.csv`` or ``countries generator, 50 rows, seed 0``."""
        if self.file is not None:
            return str(self.file)
        return f"{self.generator} generator, {self.rows} rows, seed {self.seed or 0}"


def _check_spec(value: str) -> str:
    """A model spec string tunestudio can parse (the model itself is loaded later)."""
    from tunestudio.errors import TuneStudioError
    from tunestudio.models import parse_spec

    try:
        parse_spec(value)
    except TuneStudioError as exc:
        raise ValueError(exc.message) from None
    return value


class ModelEntry(_Strict):
    """A model under test."""

    name: str = Field(description="Short name for tables, charts and file names, e.g. `tiny`.")
    spec: str = Field(
        description="Model spec string: tiny, hf:<id or path>[@<adapter>], clova:<model>, "
        "clova-task:<id> or openai:<base_url>#<model>."
    )
    system: str | None = Field(
        default=None, description="System prompt for every test row (replaces the test set's)."
    )

    @field_validator("name")
    @classmethod
    def _file_safe(cls, value: str) -> str:
        bad = sorted(_FORBIDDEN_IN_NAMES & set(value))
        if not value.strip() or bad or value.startswith("."):
            shown = f" (remove {' '.join(bad)})" if bad else ""
            raise ValueError(f"{value!r} cannot name files{shown}; use letters, digits, - _ .")
        return value

    _spec = field_validator("spec")(_check_spec)


class TuneSettings(TuneSpec):
    """TuneSpec's settings without ``model`` and ``data`` (the recipe gives those), plus which
    models to tune."""

    model: str = Field(default="", exclude=True, description="(set by the recipe)")
    data: Path = Field(default=Path(), exclude=True, description="(set by the recipe)")
    models: list[str] | None = Field(
        default=None,
        description="Names of the models to tune; default: every local one (tiny, hf:).",
    )

    @model_validator(mode="before")
    @classmethod
    def _no_model_or_data(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for key, instead in (("model", "models: [name]"), ("data", "train:")):
                if key in value:
                    raise ValueError(f"`{key}` is not set here; use the recipe's `{instead}`")
        return value

    def for_run(self, model: str, data: Path, *, seed: int | None = None) -> TuneSpec:
        """The TuneSpec of one tuning run of ``model`` on ``data``."""
        fields = self.model_dump(exclude={"model", "data", "models"})
        if seed is not None:
            fields["seed"] = seed
        return TuneSpec(**fields, model=model, data=data)


class Generation(_Strict):
    """How answers are generated: the same settings for every model."""

    max_tokens: int = Field(default=256, ge=1, description="Longest answer, in tokens.")
    temperature: float = Field(default=0.0, ge=0, description="0 answers greedily.")
    top_p: float = Field(default=1.0, gt=0, le=1, description="Nucleus sampling.")
    seed: int | None = Field(default=None, description="Seed for sampling.")
    stop: list[str] = Field(default_factory=list, description="Strings that end an answer.")
    batch_size: int = Field(default=64, ge=1, description="Rows per call for local models.")
    concurrency: int = Field(default=8, ge=1, description="Calls in flight for HTTP models.")

    def params(self) -> GenParams:
        """These settings as the backends' GenParams."""
        return GenParams(
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            seed=self.seed,
            stop=tuple(self.stop),
        )


class ScorerEntry(_Strict):
    """A scorer by name (see `tunestudio eval score --help`) and its options."""

    name: str = Field(description="exact, classification, grouping, style or textstats.")
    options: dict[str, Any] = Field(
        default_factory=dict, description="The scorer's options, e.g. {target: 해요체}."
    )

    @model_validator(mode="before")
    @classmethod
    def _name_shorthand(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value


class JudgeSettings(_Strict):
    """An LLM judge over the answers (optional)."""

    model: str = Field(description="Spec string of the judge model.")
    rubric: str = Field(default="general-ko", description="Rubric name or path to a YAML rubric.")
    pairwise: bool = Field(
        default=False,
        description="Compare baseline and tuned answers pairwise (both orders) instead of "
        "scoring each answer alone.",
    )

    _spec = field_validator("model")(_check_spec)


class ReportSettings(_Strict):
    """Where the run goes and what the report is called."""

    dir: Path | None = Field(
        default=None,
        description="Run folder (relative to the recipe's folder); default "
        "runs/<name>-<timestamp> in the current directory. --output overrides it.",
    )
    title: str | None = Field(default=None, description="Report title; default: the name.")


class Recipe(_Strict):
    """An experiment: models × a test set, optionally tuned, scored and reported."""

    kind: Kind = Field(
        description="compare (models × one test set), tune-and-compare (evaluate, tune, "
        "evaluate again, compare), learning-curve (tune at several training sizes × seeds) or "
        "classify-compare (kNN over embeddings vs the generative models, by training size)."
    )
    name: str = Field(description="Name of the experiment (used in the run folder's name).")
    test: DataSource = Field(description="The test set (a file, or a generator).")
    train: DataSource | None = Field(
        default=None, description="The training set, for tune-and-compare and learning-curve."
    )
    models: list[ModelEntry] = Field(min_length=1, description="The models under test.")
    tune: TuneSettings | None = Field(
        default=None, description="Tuning settings (TuneSpec fields except model and data)."
    )
    sizes: list[int] | None = Field(
        default=None, description="learning-curve: training-set sizes, e.g. [50, 100, 200]."
    )
    seeds: list[int] = Field(
        default_factory=lambda: [0],
        min_length=1,
        description="learning-curve: one sample and one tuning run per seed at each size "
        "(the seed also seeds the tuning).",
    )
    stratify: str | None = Field(
        default=None,
        description="learning-curve: column to stratify the samples by (Completion for a "
        "label set, or a metadata column such as n_continents); unset: a seeded shuffle.",
    )
    classify: ClassifySettings | None = Field(
        default=None,
        description="classify-compare: embedders, k, system prompt and tuning sizes.",
    )
    group_by: list[str] = Field(
        default_factory=list,
        description="Test-set metadata columns to break accuracy down by (e.g. n_countries).",
    )
    generation: Generation = Field(default_factory=Generation, description="Generation settings.")
    scorers: list[ScorerEntry] = Field(
        default_factory=lambda: [ScorerEntry(name="exact")],
        min_length=1,
        description="Scorers; the first gives the match column that accuracy and the paired "
        "comparison use.",
    )
    judge: JudgeSettings | None = Field(default=None, description="An optional LLM judge.")
    report: ReportSettings = Field(default_factory=ReportSettings, description="Report output.")

    @field_validator("models")
    @classmethod
    def _unique_names(cls, models: list[ModelEntry]) -> list[ModelEntry]:
        names = [m.name for m in models]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"model names must differ; {', '.join(twice)} is used twice")
        return models

    @field_validator("sizes")
    @classmethod
    def _sizes(cls, sizes: list[int] | None) -> list[int] | None:
        if sizes is not None:
            if not sizes or min(sizes) < 1:
                raise ValueError("give one or more sizes of at least 1 row")
            if len(set(sizes)) != len(sizes):
                raise ValueError("each size once, please")
        return sorted(sizes) if sizes else sizes

    @model_validator(mode="after")
    def _kind_needs(self) -> Recipe:
        tuning = self.kind != "compare"
        if tuning and self.train is None:
            raise ValueError(f"kind {self.kind} needs `train:` (the training set)")
        curves = self.kind in ("learning-curve", "classify-compare")
        if curves and not self.sizes:
            raise ValueError(f"kind {self.kind} needs `sizes:` (e.g. [50, 100, 200])")
        unused = [
            name
            for name, given, wanted in (
                ("train", self.train is not None, tuning),
                ("tune", self.tune is not None, tuning),
                ("sizes", self.sizes is not None, curves),
                ("stratify", self.stratify is not None, curves),
                ("classify", self.classify is not None, self.kind == "classify-compare"),
            )
            if given and not wanted
        ]
        if unused:
            raise ValueError(f"{', '.join(unused)} has no effect with kind {self.kind}")
        self._check_tuned_names()
        self._check_judge()
        if self.classify is not None:
            self.classify.check_tune_sizes(self.sizes or [])
        return self

    def _check_judge(self) -> None:
        if self.judge is None or not self.judge.pairwise:
            return
        if self.kind in ("learning-curve", "classify-compare"):
            raise ValueError(f"judge.pairwise needs pairs of runs; kind {self.kind} has none")
        if self.kind == "compare" and len(self.models) < 2:
            raise ValueError("judge.pairwise compares two models; add a second one")
        if self.kind == "tune-and-compare" and not self.tuned_models():
            raise ValueError(
                "judge.pairwise compares each tuned model with its baseline; this recipe tunes none"
            )

    def _check_tuned_names(self) -> None:
        if self.tune is None or self.tune.models is None:
            return
        names = {m.name for m in self.models}
        unknown = [n for n in self.tune.models if n not in names]
        if unknown:
            raise ValueError(
                f"tune.models names {', '.join(unknown)}, which is not among models "
                f"({', '.join(sorted(names))})"
            )

    @property
    def title(self) -> str:
        return self.report.title or self.name

    def tuned_models(self) -> list[ModelEntry]:
        """The models this recipe tunes (none for compare)."""
        if self.kind == "compare" or (self.kind == "classify-compare" and self.tune is None):
            return []  # classify-compare tunes only when asked: it costs minutes per size
        chosen = self.tune.models if self.tune and self.tune.models is not None else None
        if chosen is not None:
            return [m for m in self.models if m.name in chosen]
        return [m for m in self.models if _is_local(m.spec)]

    def tune_settings(self) -> TuneSettings:
        """The tuning settings, TuneSpec's defaults when the recipe has no `tune:`."""
        return self.tune or TuneSettings()


def _is_local(spec: str) -> bool:
    from tunestudio.models import parse_spec

    return parse_spec(spec).kind in ("tiny", "hf")


# Fields holding paths, as (section, key); a DataSource may also be a bare string.
_PATH_FIELDS = (("test", "file"), ("train", "file"), ("report", "dir"))


def load_recipe(path: Path | str, overrides: list[str] | None = None) -> Recipe:
    """Read a recipe YAML, apply ``a.b=value`` overrides, and validate it.

    Raises :class:`~tunestudio.errors.ConfigError` naming the file and every bad field.
    """
    path = Path(path)
    data = read_yaml(path)
    _resolve_paths(data, path.parent)
    apply_overrides(data, overrides or [])
    return validate_model(Recipe, data, str(path))


def _resolve_paths(data: dict[str, Any], base: Path) -> None:
    """Make the YAML's relative paths relative to its folder (before any override)."""
    for section, key in _PATH_FIELDS:
        node = data.get(section)
        if isinstance(node, str) and section != "report":
            data[section] = _absolute(node, base)
        elif isinstance(node, dict) and isinstance(node.get(key), str):
            node[key] = _absolute(node[key], base)
    for model in data.get("models") or []:  # local models and pipelines, like the data
        if isinstance(model, dict) and isinstance(model.get("spec"), str):
            model["spec"] = resolve_spec(model["spec"], base)
    judge = data.get("judge")
    rubric = judge.get("rubric") if isinstance(judge, dict) else None
    if isinstance(judge, dict) and isinstance(rubric, str) and rubric.endswith((".yaml", ".yml")):
        judge["rubric"] = _absolute(rubric, base)  # a rubric file, not a built-in name


def _absolute(value: str, base: Path) -> str:
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (base / path).resolve())
