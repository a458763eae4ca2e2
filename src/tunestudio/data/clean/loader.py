"""Read a ``clean.yaml`` and explain every mistake in it by step number, option and choices."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from tunestudio.config import read_yaml
from tunestudio.data.clean.config import STEP_MODELS, CleanConfig
from tunestudio.errors import ConfigError

_STEP_NAMES = ", ".join(STEP_MODELS)


def load_clean_config(path: Path | str) -> CleanConfig:
    """Load a cleaning recipe; every problem in it is reported in one :class:`ConfigError`."""
    path = Path(path)
    data = read_yaml(path)
    return parse_clean_config(data, str(path))


def parse_clean_config(data: dict[str, Any], where: str = "clean config") -> CleanConfig:
    """Validate a recipe already read into a dict; ``where`` names it in error messages."""
    try:
        return CleanConfig.model_validate(data)
    except ValidationError as exc:
        lines = [_explain(err) for err in exc.errors()]
        count = "a problem" if len(lines) == 1 else f"{len(lines)} problems"
        head = f"the recipe has {count}"
        raise ConfigError(
            head + ":\n  " + "\n  ".join(lines),
            where=where,
            hint="each step is `- step: NAME` followed by its options; examples/inquiry/clean.yaml "
            "in the tunestudio repository shows every step with all its options",
        ) from None


def _explain(err: ErrorDetails) -> str:
    """One line per pydantic error, in the words of the YAML file (1-based step numbers)."""
    loc = list(err["loc"])
    if not loc or loc[0] != "steps":
        return _top_level(err, loc)
    if len(loc) == 1:
        if err["type"] == "missing":
            return f"no `steps:` list; add one with some of: {_STEP_NAMES}"
        return f"steps: {err['msg']}"
    index = int(loc[1])
    label = f"step {index + 1}"
    if err["type"] == "union_tag_invalid":
        tag = err.get("ctx", {}).get("tag")
        return f"{label}: unknown step {tag!r}; accepted steps: {_STEP_NAMES}"
    if err["type"] in ("union_tag_not_found", "model_attributes_type"):
        return f"{label}: needs a `step:` name, one of: {_STEP_NAMES}"
    name = str(loc[2])
    label = f"{label} ({name})"
    # list positions are left out: the value that was given (shown below) locates the item
    option = ".".join(str(p) for p in loc[3:] if not isinstance(p, int))
    if not option:
        return f"{label}: {_message(err)}"
    if err["type"] == "extra_forbidden":
        accepted = ", ".join(k for k in STEP_MODELS[name].model_fields if k != "step")
        return f"{label}, option {loc[3]}: unknown option; accepted options: {accepted}"
    return f"{label}, option {option}: {_message(err)}{_given(err)}"


def _top_level(err: ErrorDetails, loc: list[Any]) -> str:
    key = ".".join(str(p) for p in loc) or "(top level)"
    if err["type"] == "extra_forbidden":
        return f"{key}: unknown key; the only top-level key is `steps`"
    return f"{key}: {_message(err)}"


def _message(err: ErrorDetails) -> str:
    msg = err["msg"]
    return msg.removeprefix("Value error, ")


def _given(err: ErrorDetails) -> str:
    """Repeat the value that was given, so the reader finds it in the file."""
    if err["type"] == "missing" or "input" not in err:
        return ""
    value = err["input"]
    if isinstance(value, (dict, list)) and len(str(value)) > 60:
        return ""
    return f" (got {value!r})"
