"""Judge rubrics: the prompts an LLM judge is asked, as editable YAML files of Jinja2 templates.

A rubric has a score scale, a ``single`` template (score one answer) and a ``pairwise``
template (answer A against answer B), each a system prompt and a user prompt. Built-in rubrics
live beside this module in ``rubrics/`` (``general-ko``, ``general-en``, ``style-ko``); a user
passes the path of their own YAML file of the same shape.

Templates see ``question``, ``answer`` (single) or ``answer_a``/``answer_b`` (pairwise),
``reference``, ``system``, ``min_score``, ``max_score``, the rubric's ``variables``, every other
column of the predictions by its name (``skill``, ``difficulty``…) and all of them as ``meta``.
Variables are checked before any judge call, so a typo costs nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tunestudio.config import read_yaml, validate_model
from tunestudio.errors import ConfigError
from tunestudio.evaluation.predictions import Prediction
from tunestudio.types import Message

Kind = Literal["single", "pairwise"]
# What each kind of template gets from a prediction, besides columns and rubric variables.
BUILTIN_VARIABLES: dict[Kind, tuple[str, ...]] = {
    "single": ("question", "answer", "reference", "system", "min_score", "max_score", "meta"),
    "pairwise": (
        "question",
        "answer_a",
        "answer_b",
        "reference",
        "system",
        "min_score",
        "max_score",
        "meta",
    ),
}

# trim/lstrip_blocks: a `{% if %}` on its own line leaves no blank line behind. The sandbox
# keeps a rubric file from reaching Python internals; StrictUndefined turns a misspelt
# variable into an error instead of an empty string.
_ENV = SandboxedEnvironment(
    undefined=StrictUndefined,
    autoescape=False,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=False,
)


class Scale(BaseModel):
    """The whole-number range a single-answer score must fall in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min: int = Field(1, description="lowest score")
    max: int = Field(10, description="highest score")

    @model_validator(mode="after")
    def _ordered(self) -> Scale:
        if self.max <= self.min:
            raise ValueError(f"max ({self.max}) must be greater than min ({self.min})")
        return self


class JudgePrompt(BaseModel):
    """One judge request: a system prompt and a user prompt, both Jinja2."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    system: str = Field("", description="the judge's system prompt (Jinja2); may be empty")
    prompt: str = Field(..., min_length=1, description="the judge's user message (Jinja2)")


class Rubric(BaseModel):
    """A judge rubric as saved in YAML; ``source`` is where it was read from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(..., min_length=1, description="short name shown in reports")
    description: str = Field("", description="what the rubric judges")
    scale: Scale = Field(Scale(min=1, max=10), description="score range for single answers")
    variables: dict[str, str] = Field(
        default_factory=dict,
        description="extra template variables and their defaults; a column of the same "
        "name overrides the default per row",
    )
    single: JudgePrompt | None = Field(None, description="score one answer")
    pairwise: JudgePrompt | None = Field(None, description="compare answer A with answer B")
    source: str = Field("", description="set by load_rubric: the file it came from")

    @model_validator(mode="after")
    def _has_a_template(self) -> Rubric:
        if self.single is None and self.pairwise is None:
            raise ValueError("a rubric needs a `single` template, a `pairwise` one, or both")
        return self

    def template(self, kind: Kind) -> JudgePrompt:
        """The template for ``kind``; ConfigError when this rubric has none."""
        found = self.single if kind == "single" else self.pairwise
        if found is None:
            raise ConfigError(
                f"rubric {self.name!r} has no `{kind}` template",
                where=self.source or self.name,
                hint=f"add a `{kind}:` section with `system` and `prompt`, or choose another "
                f"rubric (built-in: {', '.join(builtin_rubrics())})",
            )
        return found


def builtin_rubrics() -> list[str]:
    """Names of the rubrics shipped with tunestudio."""
    folder = resources.files("tunestudio.evaluation").joinpath("rubrics")
    return sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )


def load_rubric(name_or_path: str | Path) -> Rubric:
    """A built-in rubric by name (``general-ko``) or a YAML rubric file by path.

    Raises ConfigError naming the file and field for a malformed rubric or a template that is
    not valid Jinja2, and listing the built-in names for an unknown one.
    """
    text = str(name_or_path)
    if text in builtin_rubrics():
        folder = resources.files("tunestudio.evaluation").joinpath("rubrics")
        with resources.as_file(folder.joinpath(f"{text}.yaml")) as path:
            return _load_file(Path(path), source=f"rubric {text}")
    path = Path(name_or_path)
    if path.suffix.lower() in (".yaml", ".yml") or path.exists():
        return _load_file(path, source=str(path))
    raise ConfigError(
        f"unknown rubric {text!r}",
        where="rubric",
        hint=f"choose one of {', '.join(builtin_rubrics())}, or give the path of a YAML rubric "
        "(copy a built-in one from `tunestudio eval judge --help` as a start)",
    )


def _load_file(path: Path, *, source: str) -> Rubric:
    data = read_yaml(path)
    data.pop("source", None)  # ours to set, not the file's
    rubric = validate_model(Rubric, data, str(path)).model_copy(update={"source": source})
    for kind in ("single", "pairwise"):
        template = rubric.single if kind == "single" else rubric.pairwise
        if template is not None:
            for part in ("system", "prompt"):
                _compile(getattr(template, part), f"{source}, field {kind}.{part}")
    return rubric


def _compile(text: str, where: str) -> Template:
    try:
        return _compiled(text)
    except TemplateSyntaxError as exc:
        raise ConfigError(
            f"Jinja2 error on line {exc.lineno} of the template: {exc.message}",
            where=where,
            hint="check the Jinja2 syntax: {{ variable }}, {% if x %}…{% endif %}",
        ) from None


@functools.lru_cache(maxsize=64)
def _compiled(text: str) -> Template:
    # Rendering a thousand rows compiles each template once, not a thousand times.
    return _ENV.from_string(text)


def template_variables(rubric: Rubric, kind: Kind) -> set[str]:
    """The variables ``kind``'s templates use, as Jinja2 finds them in the source."""
    template = rubric.template(kind)
    found: set[str] = set()
    for text in (template.system, template.prompt):
        found |= meta.find_undeclared_variables(_ENV.parse(text))
    return found


def check_variables(
    rubric: Rubric, kind: Kind, columns: Iterable[str], extra: Mapping[str, str] | None = None
) -> None:
    """Refuse a template variable that nothing provides, before any judge call is made.

    ``columns`` are the prediction columns the template may use by name; ``extra`` are the
    values given on the command line (``--var``).
    """
    extra = extra or {}
    builtin = set(BUILTIN_VARIABLES[kind])
    clash = sorted(builtin & set(extra))
    if clash:
        raise ConfigError(
            f"{', '.join(clash)} is set by the judge itself and cannot be given as a variable",
            where="--var",
            hint=f"built-in variables: {', '.join(BUILTIN_VARIABLES[kind])}",
        )
    known = builtin | set(rubric.variables) | set(columns) | set(extra)
    unknown = sorted(template_variables(rubric, kind) - known)
    if unknown:
        names = ", ".join(f"{{{{ {name} }}}}" for name in unknown)
        raise ConfigError(
            f"the {kind} template uses {names}, which neither the judge, the rubric's "
            "`variables` nor a column of the predictions provides",
            where=f"{rubric.source or rubric.name}, field {kind}",
            hint=f"built-in: {', '.join(BUILTIN_VARIABLES[kind])}; columns: "
            f"{', '.join(sorted(columns)) or '(none)'}; add a default under `variables:` or "
            "pass --var NAME=VALUE",
        )


def render(
    rubric: Rubric,
    kind: Kind,
    item: Prediction,
    answers: Mapping[str, str],
    extra: Mapping[str, str] | None = None,
) -> list[Message]:
    """The judge's messages for one item: ``answers`` is ``{"answer": …}`` or A and B."""
    template = rubric.template(kind)
    names = {k: v for k, v in item.meta.items() if isinstance(k, str)}
    context: dict[str, Any] = {
        **rubric.variables,
        **{k: _cell(v) for k, v in names.items()},
        **(extra or {}),
        "meta": {k: _cell(v) for k, v in names.items()},
        "question": item.input,
        "reference": item.expected or "",
        "system": item.system,
        "min_score": rubric.scale.min,
        "max_score": rubric.scale.max,
        **answers,
    }
    where = f"{rubric.source or rubric.name}, field {kind}"
    system = _render(template.system, context, f"{where}.system").strip()
    prompt = _render(template.prompt, context, f"{where}.prompt").strip()
    head = [Message("system", system)] if system else []
    return [*head, Message("user", prompt)]


def _render(text: str, context: Mapping[str, Any], where: str) -> str:
    try:
        rendered: str = _compile(text, where).render(context)
    except TemplateError as exc:
        raise ConfigError(
            f"the template failed: {exc}",
            where=where,
            hint="check the variables the template uses and the filters applied to them",
        ) from None
    return rendered


def _cell(value: Any) -> Any:
    """A spreadsheet's empty cell (NaN) reads as an empty string, so `{% if x %}` works."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return value
