"""The judge-reply parser: tolerant of how judges really write, and never guessing."""

from __future__ import annotations

import pytest

from tunestudio.evaluation.judge_parse import parse_score, parse_verdict

SCORES = [
    ('{"reason": "정확하고 자연스럽습니다", "score": 8}', 8, "정확하고 자연스럽습니다"),
    ('```json\n{\n  "reason": "참고 답변과 같음",\n  "score": 9\n}\n```', 9, "참고 답변과 같음"),
    ('평가 결과입니다.\n{"score": "７", "reason": "대체로 맞음"}', 7, "대체로 맞음"),
    ("점수: 6\n이유: 핵심은 맞지만 형식이 틀렸습니다", 6, "핵심은 맞지만 형식이 틀렸습니다"),
    ("**점수**: 4점\n**근거**: 질문과 관계없는 답", 4, "질문과 관계없는 답"),
    ("Score: 9/10\nReason: correct and concise", 9, "correct and concise"),
    ("The answer is correct. Rating: [[10]]", 10, None),
    ("[[3]]", 3, None),
    ("７", 7, None),
    ("{'score': 5, 'reason': 'meh'}", 5, "meh"),
    ('{"score": 8.0, "reason": "좋음"}', 8, "좋음"),
    ('{"점수": 2, "이유": "틀림"}', 2, "틀림"),
]

SCORE_FAILURES = [
    ("", "the judge's reply is empty"),
    (
        "이 답변은 꽤 좋아 보입니다. 다만 조금 더 자세하면 좋겠습니다.",
        "no score in the judge's reply",
    ),
    ('{"reason": "<근거>", "score": <1~10 사이의 정수>}', "no score"),  # the format, echoed
    ('"score": 1~10', "is not a score on the 1–10 scale"),
    ("점수: 7\n다시 생각하면 점수: 8", "the reply gives 2 different scores (7, 8)"),
    ('{"score": 11, "reason": "완벽"}', "off the rubric's 1–10 scale"),
    ('{"score": 0}', "off the rubric's 1–10 scale"),
    ('{"score": 7.5}', "7.5 is not a whole number"),
    ("Score: 4/5", "scored out of 5, the rubric's scale is 1–10"),
    ('{"score": "high"}', "'high' is not a score"),
    ('{"score": true}', "True is not a score"),
    ("MYBOX", "'MYBOX' is not a score"),
    ("점수는 7점입니다", "is not a score"),  # prose, not a label: no guessing
]

VERDICTS = [
    ('{"reason": "A가 질문에 맞게 답했습니다", "winner": "A"}', "A", "A가 질문에 맞게 답했습니다"),
    ('```json\n{"winner": "b", "reason": "B가 더 정확"}\n```', "B", "B가 더 정확"),
    ('{"winner": "tie", "reason": "둘 다 같음"}', "tie", "둘 다 같음"),
    ("승자: B\n근거: 참고 답변과 같습니다", "B", "참고 답변과 같습니다"),
    ("판정: 무승부", "tie", None),
    ("승자: 답변 A", "A", None),
    ("**Winner**: Assistant B", "B", None),
    ("승자: A입니다", "A", None),
    ("Both are fine but B is precise. [[B]]", "B", None),
    ("[[C]]", "tie", None),
    ("winner: Ａ", "A", None),
    ("A", "A", None),
    ('{"승자": "동점"}', "tie", None),
]

VERDICT_FAILURES = [
    ("", "the judge's reply is empty"),
    ("The first answer is clearly better.", "no winner in the judge's reply"),
    ('{"reason": "<근거>", "winner": "A" 또는 "B" 또는 "tie"}', "no winner"),  # the format
    ('"winner": "A" or "B" or "tie"', "no winner"),
    ('{"winner": "A"}\n{"winner": "B"}', "the reply gives 2 different winners (A, B)"),
    ('{"winner": "both"}', "'both' is not a verdict (expected A, B or tie)"),
    ("MYBOX 보안 및 해킹", "no winner"),
]


@pytest.mark.parametrize(("reply", "score", "reason"), SCORES)
def test_scores_are_read_from_every_form_judges_write(
    reply: str, score: int, reason: str | None
) -> None:
    parsed = parse_score(reply, 1, 10)
    assert (parsed.value, parsed.error) == (score, "")
    if reason is not None:
        assert parsed.reason == reason


@pytest.mark.parametrize(("reply", "error"), SCORE_FAILURES)
def test_a_reply_without_one_clear_score_on_the_scale_is_a_judge_failure(
    reply: str, error: str
) -> None:
    parsed = parse_score(reply, 1, 10)
    assert parsed.value is None and not parsed.ok
    assert error in parsed.error


def test_the_scale_is_the_rubrics() -> None:
    assert parse_score('{"score": 5}', 1, 5).value == 5
    assert "off the rubric's 1–5 scale" in parse_score('{"score": 7}', 1, 5).error
    assert parse_score("Score: 4/5", 1, 5).value == 4


def test_long_replies_are_quoted_short_in_the_error() -> None:
    parsed = parse_score("말이 많은 심사 모델 " * 30, 1, 10)
    quoted = parsed.error.split(": ", 1)[1]
    assert len(quoted) <= 82 and quoted.endswith("…'")


@pytest.mark.parametrize(("reply", "verdict", "reason"), VERDICTS)
def test_verdicts_are_read_from_every_form_judges_write(
    reply: str, verdict: str, reason: str | None
) -> None:
    parsed = parse_verdict(reply)
    assert (parsed.value, parsed.error) == (verdict, "")
    if reason is not None:
        assert parsed.reason == reason


@pytest.mark.parametrize(("reply", "error"), VERDICT_FAILURES)
def test_a_reply_without_one_clear_verdict_is_a_judge_failure(reply: str, error: str) -> None:
    parsed = parse_verdict(reply)
    assert parsed.value is None
    assert error in parsed.error
