"""Validity gates: labels, regex, JSON Schema, confidence; their config errors and stats."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tunestudio.data.table import write_table
from tunestudio.errors import ConfigError, DataError
from tunestudio.ops.gates import (
    ConfidenceGate,
    GatesConfig,
    GateSet,
    JsonSchemaGate,
    LabelsGate,
    RegexGate,
    build_gates,
    labels_from_file,
)
from tunestudio.types import ChatResult

LABELS = ["MYBOX 계정", "네이버밴드 결제", "네이버플러스멤버십 가격"]


def answer(text: str, logprobs: tuple[float, ...] | None = None) -> ChatResult:
    return ChatResult(text, logprobs=logprobs)


@pytest.mark.parametrize(
    "text",
    ["MYBOX 계정", " MYBOX 계정 ", "'MYBOX 계정'입니다.", "정답: 네이버밴드 결제", "mybox 계정"],
)
def test_labels_gate_accepts_what_the_exact_scorer_matches(text: str) -> None:
    assert LabelsGate(LABELS).check(answer(text)).passed


@pytest.mark.parametrize("text", ["MYBOX 결제", "네이버밴드", "MYBOX 계정 또는 결제", ""])
def test_labels_gate_rejects_other_answers_and_says_why(text: str) -> None:
    verdict = LabelsGate(LABELS).check(answer(text))
    assert not verdict.passed
    assert "레이블 3개" in verdict.reason


def test_regex_gate_needs_a_full_match() -> None:
    gate = RegexGate(r"[0-9]{3}", "p.yaml")
    assert gate.check(answer("123")).passed
    assert gate.check(answer(" 123\n")).passed  # surrounding whitespace is not the answer
    assert not gate.check(answer("1234")).passed
    assert not gate.check(answer("답 123")).passed


def test_bad_regex_is_a_config_error_naming_the_pattern() -> None:
    with pytest.raises(ConfigError, match=r"gates.regex: '\(' is not a valid") as info:
        RegexGate("(", "p.yaml, pipeline[0] (cascade)")
    assert info.value.where == "p.yaml, pipeline[0] (cascade)"


SCHEMA = {
    "type": "object",
    "properties": {"label": {"enum": LABELS}, "score": {"type": "number"}},
    "required": ["label"],
}


def test_json_schema_gate_accepts_valid_json_plain_or_fenced() -> None:
    gate = JsonSchemaGate(SCHEMA, "p.yaml")
    assert gate.check(answer('{"label": "MYBOX 계정"}')).passed
    assert gate.check(answer('```json\n{"label": "MYBOX 계정", "score": 0.5}\n```')).passed


def test_json_schema_gate_rejects_bad_json_and_schema_violations() -> None:
    gate = JsonSchemaGate(SCHEMA, "p.yaml")
    not_json = gate.check(answer("MYBOX 계정"))
    assert not not_json.passed and "JSON이 아님" in not_json.reason
    wrong = gate.check(answer('{"label": "MYBOX 계정", "score": "high"}'))
    assert not wrong.passed and "score" in wrong.reason
    missing = gate.check(answer("{}"))
    assert not missing.passed and "label" in missing.reason


def test_an_invalid_schema_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not a valid JSON Schema"):
        JsonSchemaGate({"type": "objekt"}, "p.yaml")


def test_confidence_gate_on_mean_and_min() -> None:
    mean = ConfidenceGate("min_logprob", -0.5, "mean")
    lowest = ConfidenceGate("min_logprob", -0.5, "min")
    sure_then_unsure = answer("x", (-0.01, -0.9))  # mean -0.455, min -0.9
    assert mean.check(sure_then_unsure).passed
    assert not lowest.check(sure_then_unsure).passed
    no_scores = mean.check(answer("x"))
    assert not no_scores.passed and "log-probability" in no_scores.reason


def test_min_confidence_is_a_probability_floor() -> None:
    config = GatesConfig(min_confidence=0.8)
    (gate,) = build_gates(config, where="p.yaml", base_dir=Path("."))
    assert gate.name == "min_confidence"
    assert gate.check(answer("x", (math.log(0.85),))).passed
    verdict = gate.check(answer("x", (math.log(0.5),)))
    assert not verdict.passed and "0.500 < 0.800" in verdict.reason


def test_labels_from_a_clova_dataset(tmp_path: Path) -> None:
    path = write_table(
        tmp_path / "train.csv",
        ["System_Prompt", "C_ID", "T_ID", "Text", "Completion"],
        [
            {"System_Prompt": "s", "C_ID": 0, "T_ID": 0, "Text": "a", "Completion": "MYBOX 계정"},
            {"System_Prompt": "s", "C_ID": 1, "T_ID": 0, "Text": "b", "Completion": "MYBOX 결제"},
            {"System_Prompt": "s", "C_ID": 2, "T_ID": 0, "Text": "c", "Completion": "MYBOX 계정"},
        ],
    )
    assert labels_from_file(path) == ["MYBOX 계정", "MYBOX 결제"]
    gates = build_gates(GatesConfig(labels_from="train.csv"), where="p", base_dir=tmp_path)
    assert [g.name for g in gates] == ["labels"]
    assert gates[0].check(answer("MYBOX 결제")).passed


def test_labels_from_a_file_without_a_label_column_names_the_columns(tmp_path: Path) -> None:
    path = write_table(tmp_path / "x.csv", ["user", "answer"], [{"user": "a", "answer": "b"}])
    with pytest.raises(DataError, match=r"레이블을 읽을 열이 없습니다 \(열: user, answer\)"):
        labels_from_file(path)


def test_gate_set_runs_in_order_and_counts_per_model() -> None:
    config = GatesConfig(labels=LABELS, min_logprob=-1.0)
    gates = GateSet(build_gates(config, where="p", base_dir=Path(".")))
    assert gates.needs_logprobs
    assert gates.check("cheap", answer("MYBOX 계정", (-0.1,))) is None
    failure = gates.check("cheap", answer("뭔지 모름", (-0.1,)))
    assert failure is not None and failure[0] == "labels"
    failure = gates.check("cheap", answer("MYBOX 계정", (-3.0,)))
    assert failure is not None and failure[0] == "min_logprob"
    stats = gates.stats()["cheap"]
    assert stats["checked"] == 3
    assert stats["rejected"] == {"labels": 1, "min_logprob": 1}
    assert stats["reject_rate"]["labels"] == pytest.approx(1 / 3)
