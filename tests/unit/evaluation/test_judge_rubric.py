"""Rubrics: the built-in ones render what a judge needs; a user's YAML is checked up front."""

from __future__ import annotations

from pathlib import Path

import pytest

from tunestudio.errors import ConfigError
from tunestudio.evaluation.judge_parse import parse_score, parse_verdict
from tunestudio.evaluation.judge_rubric import (
    builtin_rubrics,
    check_variables,
    load_rubric,
    render,
    template_variables,
)
from tunestudio.evaluation.predictions import Prediction

ITEM = Prediction(
    index=0,
    input="택배가 일주일째 안 와요",
    expected="배송",
    answer="배송",
    system="문의를 한 단어로 분류하세요.",
    meta={"skill": "분류", "difficulty": 2.0, "note": float("nan")},
)


def test_the_built_in_rubrics_have_both_templates_on_a_1_to_10_scale() -> None:
    assert builtin_rubrics() == ["general-en", "general-ko", "style-ko"]
    for name in builtin_rubrics():
        rubric = load_rubric(name)
        assert rubric.name == name and rubric.source == f"rubric {name}"
        assert (rubric.scale.min, rubric.scale.max) == (1, 10)
        assert rubric.single is not None and rubric.pairwise is not None


def test_single_prompts_carry_the_question_reference_system_and_answer() -> None:
    system, user = render(load_rubric("general-ko"), "single", ITEM, {"answer": "환불"})
    assert system.role == "system" and "공정하고 엄격한 평가자" in system.content
    assert user.content.startswith("[시스템 프롬프트]\n문의를 한 단어로 분류하세요.\n\n[질문]\n")
    assert "[참고 답변]\n배송\n\n[평가할 답변]\n환불\n\n[평가 기준]" in user.content
    assert "참고 답변과 내용이 일치하는가" in user.content
    assert "1점부터 10점까지" in user.content and '"score"' in user.content
    assert "{{" not in user.content and "{%" not in user.content


def test_without_a_reference_or_system_prompt_their_sections_disappear() -> None:
    bare = Prediction(0, "What is 2+2?", None, "4")
    (user,) = render(load_rubric("general-en"), "single", bare, {"answer": "4"})[1:]
    assert user.content.startswith("[Question]\nWhat is 2+2?\n\n[Answer to judge]\n4\n")
    assert "Reference" not in user.content and "reference" not in user.content
    assert "System prompt" not in user.content and "\n\n\n" not in user.content


def test_pairwise_prompts_show_both_answers_in_the_order_given() -> None:
    messages = render(
        load_rubric("general-ko"), "pairwise", ITEM, {"answer_a": "배송", "answer_b": "환불"}
    )
    text = messages[-1].content
    assert "[답변 A]\n배송\n\n[답변 B]\n환불" in text
    assert '"winner"' in text and "tie" in text


def test_the_requested_reply_format_is_what_the_parser_reads() -> None:
    # A judge that fills in the format exactly as the template shows it is understood.
    assert parse_score('{"reason": "참고 답변과 같음", "score": 9}', 1, 10).value == 9
    assert parse_verdict('{"reason": "A가 맞음", "winner": "A"}').value == "A"
    for name in builtin_rubrics():
        rubric = load_rubric(name)
        assert template_variables(rubric, "single") <= {
            "question",
            "answer",
            "reference",
            "system",
            "min_score",
            "max_score",
            "target_style",
        }


def test_style_rubric_takes_the_target_style_from_a_variable_or_a_column() -> None:
    rubric = load_rubric("style-ko")
    original = Prediction(0, "회의는 3시에 시작한다.", None, "회의는 3시에 시작해요.")
    answer = {"answer": "회의는 3시에 시작해요."}
    given = render(rubric, "single", original, answer, {"target_style": "해요체"})
    assert "[목표 문체]\n해요체\n" in given[-1].content
    column = Prediction(0, "회의는 3시에 시작한다.", None, "x", meta={"target_style": "합쇼체"})
    assert "[목표 문체]\n합쇼체\n" in render(rubric, "single", column, answer)[-1].content
    missing = render(rubric, "single", original, answer)[-1].content
    assert "[목표 문체]\n(주어지지 않음" in missing


def test_meta_columns_are_template_variables_and_empty_cells_read_as_empty(
    tmp_path: Path,
) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(
        "name: mine\nscale: {min: 1, max: 5}\nsingle:\n  prompt: |\n"
        "    [{{ skill }}/{{ difficulty }}] {{ question }} → {{ answer }}"
        "{% if note %} ({{ note }}){% endif %} {{ meta['skill'] }} {{ min_score }}-{{ max_score }}\n",
        encoding="utf-8",
    )
    rubric = load_rubric(path)
    assert rubric.source == str(path) and rubric.pairwise is None
    (user,) = render(rubric, "single", ITEM, {"answer": "배송"})
    assert user.content == "[분류/2.0] 택배가 일주일째 안 와요 → 배송 분류 1-5"


def test_unknown_rubric_names_list_the_built_in_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        load_rubric("general")
    assert "unknown rubric 'general'" in caught.value.message
    assert "general-en, general-ko, style-ko" in (caught.value.hint or "")


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("name: x\nsingle:\n  prompt: hi\n  sytem: oops\n", "", "single.sytem: Extra inputs"),
        ("name: x\nscale: {min: 5, max: 5}\nsingle: {prompt: hi}\n", "", "max (5) must be greater"),
        ("name: x\n", "", "needs a `single` template, a `pairwise` one, or both"),
        ("name: x\nsingle: {prompt: ''}\n", "", "single.prompt: String should have at least"),
        (
            "name: x\nsingle:\n  prompt: |\n    ok\n    {% if question %}unclosed\n",
            ", field single.prompt",
            "Jinja2 error on line 2 of the template: Unexpected end of template",
        ),
        ("name: x\nsingle:\n  prompt: [hi\n", " line 4", "not valid YAML"),
    ],
)
def test_a_bad_rubric_file_names_the_file_and_field(
    tmp_path: Path, text: str, where: str, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_rubric(path)
    assert caught.value.where == f"{path}{where}"
    assert message in caught.value.message
    assert load_rubric("general-ko").name == "general-ko"  # nothing cached from the bad one


def test_a_missing_rubric_file_is_named() -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_rubric("no/such/rubric.yaml")


def test_variables_nothing_provides_are_refused_with_what_is_available() -> None:
    rubric = load_rubric("general-ko")
    check_variables(rubric, "single", ["skill"])
    with pytest.raises(ConfigError, match="cannot be given as a variable") as caught:
        check_variables(rubric, "single", [], {"answer": "x"})
    assert caught.value.where == "--var"
    style = load_rubric("style-ko")
    check_variables(style, "pairwise", [], {"target_style": "반말"})  # a rubric default
