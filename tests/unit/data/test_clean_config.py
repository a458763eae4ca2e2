"""The clean.yaml recipe: parsing, every mistake explained, and the shipped example."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from tunestudio.data.clean import (
    STEP_MODELS,
    CleanConfig,
    load_clean_config,
    parse_clean_config,
    run_pipeline,
)
from tunestudio.data.clean.config import DedupStep, SlangStep
from tunestudio.errors import ConfigError
from tunestudio.types import Conversation, Turn


def error_of(data: dict[str, object]) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_clean_config(data, "clean.yaml")
    return info.value


def test_bare_names_and_defaults_per_step() -> None:
    cfg = parse_clean_config({"steps": ["nfc", "slang", {"step": "dedup", "near": False}]})
    nfc, slang, dedup = cfg.steps
    assert nfc.fields == ["text", "completion", "system"]
    assert isinstance(slang, SlangStep)
    assert slang.fields == ["text"]
    assert isinstance(dedup, DedupStep)
    assert (dedup.exact, dedup.near, dedup.threshold) == (True, False, 0.9)


def test_a_step_can_be_a_mapping_of_its_name_to_its_options() -> None:
    short = parse_clean_config({"steps": [{"slang": {"map": {"겜": "게임"}}}, {"dedup": None}]})
    long = parse_clean_config({"steps": [{"step": "slang", "map": {"겜": "게임"}}, "dedup"]})
    assert short == long


def test_every_option_has_a_description() -> None:
    for name, model in STEP_MODELS.items():
        for option, info in model.model_fields.items():
            if option != "step":
                assert info.description, f"{name}.{option} has no description"


def test_numbers_in_label_maps_are_text() -> None:
    cfg = parse_clean_config({"steps": [{"step": "relabel", "map": {111: 222}}]})
    assert cfg.steps[0].map == {"111": "222"}  # type: ignore[union-attr]


def test_unknown_step_names_the_step_and_lists_the_accepted() -> None:
    err = error_of({"steps": ["nfc", "remove_emojis"]})
    assert err.where == "clean.yaml"
    assert "step 2: unknown step 'remove_emojis'" in err.message
    assert "remove_emoji, remove_special" in err.message


def test_unknown_option_names_step_option_and_accepted_options() -> None:
    err = error_of({"steps": [{"step": "squash_repeats", "max_repeats": 3}]})
    assert "step 1 (squash_repeats), option max_repeats: unknown option" in err.message
    assert "accepted options: fields, max_repeat, max_repeat_punct, max_dots, latin" in err.message


def test_bad_values_list_the_accepted_values() -> None:
    err = error_of(
        {
            "steps": [
                {"step": "whitespace", "fields": ["text", "label"]},
                {"step": "mask_pii", "kinds": ["phone", "passport"]},
                {"step": "dedup", "threshold": 2},
                {"step": "length"},
                {"step": "relabel", "map": {"ok": True}},
                {"foo": 1},
            ],
            "stepz": [],
        }
    )
    lines = err.message.splitlines()
    assert lines[0] == "the recipe has 7 problems:"
    assert any(
        "step 1 (whitespace), option fields:" in line
        and "'text', 'completion' or 'system'" in line
        and "(got 'label')" in line
        for line in lines
    )
    assert any("step 2 (mask_pii), option kinds:" in line and "'email'" in line for line in lines)
    assert any("step 3 (dedup), option threshold:" in line and "1" in line for line in lines)
    assert any("step 4 (length): give min_chars, max_chars or both" in line for line in lines)
    assert any("step 5 (relabel), option map.ok:" in line and "quotes" in line for line in lines)
    assert any("step 6: needs a `step:` name" in line for line in lines)
    assert any("stepz: unknown key" in line for line in lines)


def test_a_recipe_without_steps_is_an_error() -> None:
    assert "no `steps:` list" in error_of({}).message
    assert "steps:" in error_of({"steps": []}).message


def test_load_clean_config_reports_yaml_errors_with_the_file(tmp_path: Path) -> None:
    path = tmp_path / "clean.yaml"
    path.write_text("steps:\n  - step: nfc\n   bad: [", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_clean_config(path)
    assert str(path) in (info.value.where or "")


EXAMPLE = EXAMPLES / "inquiry" / "clean.yaml"


def test_the_inquiry_example_uses_every_step_and_runs() -> None:
    cfg = load_clean_config(EXAMPLE)
    assert isinstance(cfg, CleanConfig)
    assert {step.step for step in cfg.steps} == set(STEP_MODELS)
    data = [
        Conversation("분류", [Turn("멤버쉽 요금 어케 내요?? 😀", "네이버플러스멤버십 오류 해결")]),
        Conversation("분류", [Turn("환불 계좌 110-123-456789 입니다", "네이버플러스멤버십 결제")]),
        Conversation("분류", [Turn("111 !!bjaowjd@@", "판별불가")]),
        Conversation("분류", [Turn("멤버쉽 요금 어케 내요", "네이버플러스멤버십 가격")]),
        Conversation("분류", [Turn("ㅇㅋ", "MYBOX 결제")]),
    ]
    result = run_pipeline(data, cfg)
    assert [(c.turns[0].user, c.turns[0].assistant) for c in result.kept] == [
        ("멤버십 요금 어떻게 내요?", "네이버플러스멤버십 오류해결"),
        ("환불 계좌 [계좌번호] 입니다", "네이버플러스멤버십 결제"),
    ]
    assert [r.step for r in result.removed] == ["drop_labels", "dedup", "length"]
