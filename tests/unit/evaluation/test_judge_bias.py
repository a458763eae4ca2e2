"""Self-preference: a judge of the candidate's own family is flagged, from spec strings alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tunestudio.evaluation.judge_bias import model_family, recorded_model, self_preference_warnings
from tunestudio.inference import Journal, journal_beside
from tunestudio.types import GenParams


@pytest.mark.parametrize(
    ("spec", "family"),
    [
        ("clova:HCX-005", "hyperclovax"),
        ("clova-task:ab12cd34", "hyperclovax"),
        ("hf:naver-hyperclovax/HyperCLOVAX-SEED-Text-Instruct-0.5B", "hyperclovax"),
        (
            "hf:naver-hyperclovax/HyperCLOVAX-SEED-Text-Instruct-0.5B@./runs/x/adapter",
            "hyperclovax",
        ),
        ("openai:http://localhost:8000/v1#qwen2.5-7b-instruct", "qwen"),
        ("hf:Qwen/Qwen2.5-0.5B-Instruct", "qwen"),
        ("openai:https://api.openai.com/v1#gpt-4o", "gpt"),
        ("tiny", "tiny"),
        ("not a spec", "not a spec"),
    ],
)
def test_model_families_come_from_the_spec(spec: str, family: str) -> None:
    assert model_family(spec) == family


def test_the_judge_as_a_candidate_or_of_its_family_is_warned_about() -> None:
    seed = "hf:naver-hyperclovax/HyperCLOVAX-SEED-Text-Instruct-0.5B@runs/inquiry/adapter"
    warnings = self_preference_warnings(
        "clova:HCX-005", {"before": "clova:HCX-005", "after": seed, "other": "hf:Qwen/Qwen2.5-7B"}
    )
    assert len(warnings) == 2
    assert "is also the candidate 'before'" in warnings[0]
    assert "'after'" in warnings[1] and "both hyperclovax models" in warnings[1]
    assert self_preference_warnings("openai:http://h/v1#qwen2.5-72b", {"a": "tiny"}) == []


def test_the_model_behind_a_predictions_file_is_read_from_its_journal(tmp_path: Path) -> None:
    answers = tmp_path / "before.csv"
    assert recorded_model(answers) is None
    with Journal.open(journal_beside(answers), model="clova:HCX-005", params=GenParams()):
        pass
    assert recorded_model(answers) == "clova:HCX-005"
    journal_beside(answers).write_text(json.dumps({"journal": "other"}) + "\n", encoding="utf-8")
    assert recorded_model(answers) is None


def test_a_local_adapter_belongs_to_its_base_models_family(tmp_path: Path) -> None:
    seed, tiny = tmp_path / "seed-adapter", tmp_path / "tiny-adapter"
    for folder, base in (
        (seed, "naver-hyperclovax/HyperCLOVAX-SEED-Text-Instruct-0.5B"),
        (tiny, "tiny"),
    ):
        folder.mkdir()
        config = {"base_model_name_or_path": base, "peft_type": "LORA"}
        (folder / "adapter_config.json").write_text(json.dumps(config), encoding="utf-8")
    assert model_family(f"hf:{seed}") == "hyperclovax"
    assert model_family(f"hf:{tiny}") == "tiny"
    warnings = self_preference_warnings("tiny", {"after": f"hf:{tiny}"})
    assert len(warnings) == 1 and "are both tiny models" in warnings[0]
