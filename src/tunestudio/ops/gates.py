"""Validity gates: is a cheap model's answer good enough to keep, or must a cascade escalate?

Each gate looks at one :class:`~tunestudio.types.ChatResult` and returns a :class:`Verdict`
(passed, and why not). A :class:`GateSet` runs its gates in a fixed order — ``labels``,
``regex``, ``json_schema``, then the confidence gates — and the first that fails rejects the
answer, so the cheap, exact checks decide before the statistical ones. It counts per model
how many answers it checked and how many each gate rejected (:meth:`GateSet.stats`).

Gates (YAML ``gates:`` of a cascade):

* ``labels`` / ``labels_from`` — the answer, normalised as the exact-match scorer does
  (``"'MYBOX 계정'입니다."`` is ``MYBOX 계정``), is one of the labels, given inline or read
  from a dataset's ``Completion`` column (``expected`` for a test set).
* ``regex`` — the whole answer matches (``re.fullmatch``).
* ``json_schema`` — the answer parses as JSON (a Markdown ```` ```json ```` fence is allowed)
  and validates against the schema (the ``jsonschema`` library, the schema's own draft).
* ``min_logprob`` / ``min_confidence`` — the mean (or, with ``confidence_of: min``, the
  lowest) log-probability of the answer's tokens is at least ``min_logprob``, or its
  probability ``exp(...)`` at least ``min_confidence``. Needs a model that returns token
  log-probabilities (``capabilities.logprobs``: local ``hf``/``tiny`` models).
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from tunestudio.errors import ConfigError, DataError
from tunestudio.types import ChatResult

_FENCE = re.compile(r"^\s*```(?:json)?\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL | re.IGNORECASE)
_SHOWN = 60  # characters of an answer quoted in a reason


@dataclass(frozen=True)
class Verdict:
    """A gate's decision on one answer; ``reason`` says why it failed."""

    passed: bool
    reason: str = ""


PASS = Verdict(True)


class Gate(Protocol):
    """Decides whether one answer is acceptable."""

    name: str
    needs_logprobs: bool

    def check(self, result: ChatResult) -> Verdict:
        """Pass, or fail with a reason a person can act on."""
        ...


def shown(text: str) -> str:
    """The answer as quoted in a reason: one line, at most :data:`_SHOWN` characters."""
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= _SHOWN else flat[: _SHOWN - 1] + "…")


class LabelsGate:
    """The answer must be one of ``labels``, compared as the exact-match scorer compares."""

    name = "labels"
    needs_logprobs = False

    def __init__(self, labels: Sequence[str]) -> None:
        from tunestudio.evaluation.normalize import normalize

        self.labels = tuple(dict.fromkeys(label.strip() for label in labels if label.strip()))
        self._normalized = {normalize(label) for label in self.labels}

    def check(self, result: ChatResult) -> Verdict:
        from tunestudio.evaluation.normalize import match_step, normalize

        answer = result.content
        # The fully normalised set lookup decides almost every answer; match_step adds only the
        # copula-after-foreign-name rule, which needs the label to anchor on.
        if normalize(answer) in self._normalized:
            return PASS
        if any(match_step(answer, label) is not None for label in self.labels):
            return PASS
        return Verdict(False, f"답 {shown(answer)}이(가) 레이블 {len(self.labels)}개 중에 없음")


class RegexGate:
    """The whole answer must match ``pattern``."""

    name = "regex"
    needs_logprobs = False

    def __init__(self, pattern: str, where: str) -> None:
        try:
            self.pattern = re.compile(pattern)
        except re.error as exc:
            raise ConfigError(
                f"gates.regex: {pattern!r} is not a valid regular expression ({exc})",
                where=where,
                hint="write a Python `re` pattern; quote it in YAML: regex: '^[0-9]+$'",
            ) from None

    def check(self, result: ChatResult) -> Verdict:
        if self.pattern.fullmatch(result.content.strip()):
            return PASS
        return Verdict(
            False, f"답 {shown(result.content)}이(가) 형식 {self.pattern.pattern!r}과 다름"
        )


class JsonSchemaGate:
    """The answer must be JSON (optionally in a ```json fence) valid under ``schema``."""

    name = "json_schema"
    needs_logprobs = False

    def __init__(self, schema: dict[str, Any], where: str) -> None:
        from jsonschema import exceptions, validators

        cls = validators.validator_for(schema)
        try:
            cls.check_schema(schema)
        except exceptions.SchemaError as exc:
            raise ConfigError(
                f"gates.json_schema is not a valid JSON Schema: {exc.message}",
                where=where,
                hint="check the schema against https://json-schema.org (e.g. `type: object`)",
            ) from None
        self.validator = cls(schema)

    def check(self, result: ChatResult) -> Verdict:
        text = result.content.strip()
        fenced = _FENCE.match(text)
        try:
            value = json.loads(fenced.group(1) if fenced else text)
        except json.JSONDecodeError as exc:
            return Verdict(False, f"답이 JSON이 아님 ({exc.msg}, {exc.pos}번째 글자)")
        error = next(iter(self.validator.iter_errors(value)), None)
        if error is None:
            return PASS
        place = "/".join(str(p) for p in error.absolute_path) or "(전체)"
        return Verdict(False, f"JSON 스키마 위반 {place}: {error.message}")


class ConfidenceGate:
    """The answer's token log-probabilities (mean or min) must reach ``min_logprob``."""

    needs_logprobs = True

    def __init__(self, name: str, min_logprob: float, reduce: Literal["mean", "min"]) -> None:
        self.name = name
        self.min_logprob = min_logprob
        self.reduce = reduce

    def check(self, result: ChatResult) -> Verdict:
        scores = result.logprobs
        if not scores:
            return Verdict(False, "모델이 토큰 log-probability를 돌려주지 않음")
        value = sum(scores) / len(scores) if self.reduce == "mean" else min(scores)
        if value >= self.min_logprob:
            return PASS
        if self.name == "min_confidence":
            return Verdict(
                False,
                f"확신도 {math.exp(value):.3f} < {math.exp(self.min_logprob):.3f} ({self.reduce})",
            )
        return Verdict(
            False, f"log-probability {value:.3f} < {self.min_logprob:.3f} ({self.reduce})"
        )


class GatesConfig(BaseModel):
    """The ``gates:`` of a cascade; every gate given must pass."""

    model_config = ConfigDict(extra="forbid")

    labels: list[str] | None = Field(default=None, description="the accepted answers")
    labels_from: str | None = Field(
        default=None, description="a dataset whose Completion (or expected) column holds them"
    )
    regex: str | None = Field(default=None, description="the whole answer must match")
    json_schema: dict[str, Any] | str | None = Field(
        default=None, description="a JSON Schema, inline or the path of a .json file"
    )
    min_logprob: float | None = Field(default=None, le=0, description="token log-prob floor")
    min_confidence: float | None = Field(
        default=None, gt=0, le=1, description="floor on exp(token log-prob)"
    )
    confidence_of: Literal["mean", "min"] = Field(
        default="mean", description="how token log-probs are combined: mean or min"
    )


def build_gates(config: GatesConfig, *, where: str, base_dir: Path) -> list[Gate]:
    """The gates ``config`` asks for, in the order they run."""
    gates: list[Gate] = []
    labels = list(config.labels or [])
    if config.labels_from:
        labels += labels_from_file(_resolve(config.labels_from, base_dir))
    if config.labels is not None or config.labels_from:
        if not labels:
            raise ConfigError(
                "gates.labels is empty", where=where, hint="list the accepted answers"
            )
        gates.append(LabelsGate(labels))
    if config.regex is not None:
        gates.append(RegexGate(config.regex, where))
    if config.json_schema is not None:
        gates.append(JsonSchemaGate(_schema(config.json_schema, where, base_dir), where))
    if config.min_logprob is not None:
        gates.append(ConfidenceGate("min_logprob", config.min_logprob, config.confidence_of))
    if config.min_confidence is not None:
        floor = math.log(config.min_confidence)
        gates.append(ConfidenceGate("min_confidence", floor, config.confidence_of))
    return gates


def labels_from_file(path: Path) -> list[str]:
    """The distinct non-empty values of a dataset's ``Completion`` (or ``expected``) column."""
    from tunestudio.data.table import read_table

    table = read_table(path)
    column = next((c for c in ("Completion", "expected") if c in table.columns), None)
    if column is None:
        raise DataError(
            f"레이블을 읽을 열이 없습니다 (열: {', '.join(table.columns)})",
            where=str(path),
            hint="Completion 열(튜닝 데이터) 또는 expected 열(테스트 세트)이 있는 파일을 주세요",
        )
    labels = [str(row.get(column) or "").strip() for row in table.rows]
    distinct = list(dict.fromkeys(label for label in labels if label))
    if not distinct:
        raise DataError(
            f"{column} 열이 모두 비어 있습니다",
            where=str(path),
            hint="정답 레이블이 채워진 파일을 주세요",
        )
    return distinct


def _resolve(value: str, base_dir: Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base_dir / path


def _schema(value: dict[str, Any] | str, where: str, base_dir: Path) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    path = _resolve(value, base_dir)
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"gates.json_schema: cannot read {path} as JSON ({exc})",
            where=where,
            hint="give the schema inline or the path of a .json file next to the pipeline",
        ) from None
    if not isinstance(loaded, dict):
        raise ConfigError(
            f"gates.json_schema: {path} holds a {type(loaded).__name__}, not a schema object",
            where=where,
        )
    return loaded


@dataclass
class GateSet:
    """Gates run in order; the first failure rejects. Counts checks and rejections per model."""

    gates: list[Gate]
    checked: Counter[str] = field(default_factory=Counter)
    rejected: dict[str, Counter[str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def needs_logprobs(self) -> bool:
        return any(gate.needs_logprobs for gate in self.gates)

    def check(self, model: str, result: ChatResult) -> tuple[str, Verdict] | None:
        """``None`` when every gate passes, else the failing gate's name and verdict."""
        failure: tuple[str, Verdict] | None = None
        for gate in self.gates:
            verdict = gate.check(result)
            if not verdict.passed:
                failure = (gate.name, verdict)
                break
        with self._lock:
            self.checked[model] += 1
            if failure is not None:
                self.rejected.setdefault(model, Counter())[failure[0]] += 1
        return failure

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per model: answers checked, rejections per gate and the reject rate of each."""
        with self._lock:
            out: dict[str, dict[str, Any]] = {}
            for model, checked in self.checked.items():
                counts = dict(self.rejected.get(model, Counter()))
                out[model] = {
                    "checked": checked,
                    "rejected": counts,
                    "reject_rate": {g: n / checked for g, n in counts.items()},
                }
            return out
