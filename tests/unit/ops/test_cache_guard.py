"""The guard: Korean look-alike questions that must not share an answer, and ones that may."""

from __future__ import annotations

import pytest

from tunestudio.ops.cache_guard import Guard


@pytest.fixture(scope="module")
def guard() -> Guard:
    return Guard()


@pytest.mark.parametrize(
    ("a", "b", "reason"),
    [
        ("환불 되나요?", "환불 안 되나요?", "negation"),
        ("환불 되나요?", "환불 안되나요?", "negation"),
        ("결제가 돼요", "결제가 되지 않아요", "negation"),
        ("로그인할 수 있어요", "로그인을 못 해요", "negation"),
        ("쿠폰이 있어요", "쿠폰이 없어요", "negation"),
        ("취소하세요", "취소하지 마세요", "negation"),
        ("가능한가요?", "불가능한가요?", "negation"),
        ("사과 3개 주세요", "사과 5개 주세요", "number"),
        ("사과 세 개 주세요", "사과 다섯 개 주세요", "number"),
        ("2024년 정산 내역", "2025년 정산 내역", "number"),
        ("이천이십사년 정산 내역", "2025년 정산 내역", "number"),
        ("3만 원 결제", "4만 원 결제", "number"),
        ("사과 주세요", "사과 3개 주세요", "number"),
        ("네이버 페이 환불", "네이버 웹툰 환불", "entity"),
        ("네이버 페이 환불", "네이버 쇼핑 환불", "entity"),
        ("부산 날씨 알려줘", "대구 날씨 알려줘", "entity"),
        ("iPhone 배터리 교체", "Galaxy 배터리 교체", "entity"),
    ],
)
def test_look_alikes_are_rejected(guard: Guard, a: str, b: str, reason: str) -> None:
    assert guard.check(a, b) == reason
    assert guard.check(b, a) == reason


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("환불 안 돼요?", "환불이 불가능한가요?"),  # two ways of saying no
        ("로그인이 안 돼요", "로그인을 못 해요"),
        ("사과 3개 주세요", "사과 세 개 주세요"),  # digits and native numerals
        ("2024년 정산", "이천이십사년 정산"),  # digits and Sino-Korean numerals
        ("3만원 결제", "30,000원 결제"),
        ("열다섯 명 예약", "15명 예약"),
        ("네이버페이 환불", "네이버 페이 환불 방법"),  # spacing does not make a new name
        ("배송은 언제 오나요", "택배는 언제 도착해요?"),
    ],
)
def test_paraphrases_pass(guard: Guard, a: str, b: str) -> None:
    assert guard.check(a, b) is None
    assert guard.check(b, a) is None


def test_facts_are_what_the_question_states(guard: Guard) -> None:
    facts = guard.facts("네이버 페이로 2천5백원 두 번 결제가 안 됐어요")
    assert facts.negated and facts.numbers == (2.0, 2500.0)
    assert facts.entities == {"네이버"} and facts.products == {("네이버", "페이")}
