"""Self-preference: a judge tends to favour answers written by its own model family.

The check compares spec strings: the judge being a candidate itself, or the two sharing a
family (``clova:HCX-005`` judging ``hf:naver-hyperclovax/HyperCLOVAX-SEED-…``; a local adapter
counts as its base model's family). Which model wrote a predictions file is read from the
journal ``tunestudio infer`` keeps beside it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

from tunestudio.errors import ConfigError
from tunestudio.inference.journal import JOURNAL_KIND, journal_beside
from tunestudio.models.registry import parse_spec

# Names that belong to one family although they are spelt apart.
FAMILY_ALIASES = {"hcx": "hyperclovax", "clovax": "hyperclovax", "chatgpt": "gpt"}
_LEADING_NAME = re.compile(r"[a-z]+|[가-힣]+")


def model_family(spec: str) -> str:
    """The family a spec's model belongs to: ``clova:HCX-005`` → ``hyperclovax``."""
    try:
        parsed = parse_spec(spec)
    except ConfigError:
        return spec.strip().casefold()
    if parsed.kind in ("clova", "clova-task"):
        return "hyperclovax"  # CLOVA Studio serves HyperCLOVA X models and tunes of them
    if parsed.kind == "tiny":
        return "tiny"
    if parsed.kind == "openai":
        name = parsed.model or ""
    else:
        name = parsed.target if parsed.adapter else _adapter_base(parsed.target)
        if name == "tiny":  # an adapter tuned on the built-in model
            return "tiny"
    last = Path(name.rstrip("/\\")).name.casefold()
    match = _LEADING_NAME.search(last)
    family = match.group(0) if match else last
    return FAMILY_ALIASES.get(family, family)


def self_preference_warnings(judge: str, candidates: Mapping[str, str]) -> list[str]:
    """One warning per candidate (name → spec) that is the judge or of the judge's family."""
    warnings = []
    family = model_family(judge)
    for name, spec in candidates.items():
        if not spec:
            continue
        if _same_model(judge, spec):
            warnings.append(
                f"the judge {judge} is also the candidate {name!r}: a model tends to prefer its "
                "own answers; use a judge from another model family"
            )
        elif model_family(spec) == family:
            warnings.append(
                f"the judge {judge} and the candidate {name!r} ({spec}) are both {family} "
                "models: a judge tends to prefer answers of its own family; prefer a judge "
                "from another family, or check the result with a second judge"
            )
    return warnings


def recorded_model(predictions: Path | str) -> str | None:
    """The model spec ``tunestudio infer`` recorded for a predictions file, if it kept a journal."""
    journal = journal_beside(predictions)
    try:
        with journal.open(encoding="utf-8") as fh:
            header = json.loads(fh.readline())
    except (OSError, ValueError):
        return None
    if not isinstance(header, dict) or header.get("journal") != JOURNAL_KIND:
        return None
    model = header.get("model")
    return model if isinstance(model, str) and model else None


def _adapter_base(target: str) -> str:
    """The base model a local adapter directory names, or ``target`` itself.

    ``hf:./runs/x/adapter`` is a tuned model; its family is its base model's, which
    ``adapter_config.json`` records (as peft writes it).
    """
    config = Path(target) / "adapter_config.json"
    try:
        base = json.loads(config.read_text(encoding="utf-8")).get("base_model_name_or_path")
    except (OSError, ValueError, AttributeError):
        return target
    return str(base) if base else target


def _same_model(a: str, b: str) -> bool:
    try:
        return parse_spec(a).raw == parse_spec(b).raw
    except ConfigError:
        return a.strip() == b.strip()
