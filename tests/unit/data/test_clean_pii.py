"""PII masking: what must be masked, and look-alikes (dates, codes, order numbers) that must not."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from tunestudio.data.clean.config import MaskPiiStep
from tunestudio.data.clean.pii import (
    RRN_RE,
    luhn_ok,
    mask_pii,
    mask_pii_step,
    pii_masker,
    plausible_rrn,
)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        # mobile, with and without separators, and international forms
        ("연락처 010-1234-5678로 주세요", "연락처 [전화번호]로 주세요"),
        ("010.1234.5678", "[전화번호]"),
        ("010 1234 5678", "[전화번호]"),
        ("번호01012345678입니다", "번호[전화번호]입니다"),
        ("011-123-4567", "[전화번호]"),
        ("+82 10-1234-5678", "[전화번호]"),
        ("+82-10-1234-5678", "[전화번호]"),
        ("+821012345678", "[전화번호]"),
        ("+82 (0)10-1234-5678", "[전화번호]"),
        # landlines: Seoul, provinces, internet phones, 050x safe numbers, +82
        ("02-123-4567", "[전화번호]"),
        ("(02) 1234-5678", "[전화번호]"),
        ("031-123-4567", "[전화번호]"),
        ("(031)123-4567", "[전화번호]"),
        ("064.712.3456", "[전화번호]"),
        ("070-1234-5678", "[전화번호]"),
        ("0507-1234-5678", "[전화번호]"),
        ("+82-2-123-4567", "[전화번호]"),
        ("+82 31 123 4567", "[전화번호]"),
    ],
)
def test_phone_numbers_are_masked(text: str, masked: str) -> None:
    assert mask_pii(text) == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("메일 hong.gil-dong@naver.com 으로", "메일 [이메일] 으로"),
        ("a_b+tag@mail.co.kr로 보냈어요", "[이메일]로 보냈어요"),
        ("메일은hong@naver.com입니다", "메일은[이메일]입니다"),
        ("주민번호 900101-1234567", "주민번호 [주민등록번호]"),
        ("주민번호 0402293123456 입니다", "주민번호 [주민등록번호] 입니다"),  # 2004-02-29
        ("외국인 850615-5123456", "외국인 [주민등록번호]"),
        ("900101-1******", "[주민등록번호]"),  # a half-masked number still gives birth date
        ("카드 4111 1111 1111 1111", "카드 [카드번호]"),
        ("카드 4111-1111-1111-1111로 결제", "카드 [카드번호]로 결제"),
        ("5555555555554444", "[카드번호]"),
        ("아멕스 3782-822463-10005", "아멕스 [카드번호]"),
        ("계좌 110-123-456789 신한", "계좌 [계좌번호] 신한"),
        ("국민 123456-01-123456", "국민 [계좌번호]"),
        ("우리 1002-123-456789", "우리 [계좌번호]"),
        ("카카오뱅크 3333-01-1234567", "카카오뱅크 [계좌번호]"),
        ("농협 301-1234-5678-11", "농협 [계좌번호]"),
    ],
)
def test_email_rrn_card_and_account_are_masked(text: str, masked: str) -> None:
    assert mask_pii(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "고객센터 1588-3820으로 문의",  # a company's service number, not personal data
        "날짜 2024-01-15 결제",
        "2024.01.15 15:30",
        "주문번호 2024011512345674",  # passes Luhn but starts like no card (a date)
        "카드 4111-1111-1111-1112",  # fails Luhn
        "일련번호 1234-5678-9012-3456",  # fails Luhn
        "0000000000000000",  # one digit repeated passes Luhn, but is no card
        "SKU-010-1234-5678",  # glued to a code
        "제품코드 AB010-1234-5678",
        "991399-1234567",  # month 13: no birth date
        "900230-1234567",  # 30 February
        "900101-9234567",  # 7th digit 9: not a current registration number
        "버전 1.0.12, 용량 100GB, 가격 4,900원",
        "010-1234-5678-9",  # part of a longer dashed code
        "사진 12345678장",
    ],
)
def test_look_alikes_are_not_masked(text: str) -> None:
    assert mask_pii(text) == text


def test_rrn_birth_date_must_be_in_the_past() -> None:
    match = RRN_RE.search("250101-3123456")
    assert match is not None
    assert plausible_rrn(match, today=dt.date(2026, 1, 1))
    assert not plausible_rrn(match, today=dt.date(2024, 12, 31))


def test_luhn() -> None:
    assert luhn_ok("4111111111111111")
    assert luhn_ok("378282246310005")
    assert not luhn_ok("4111111111111112")


def test_kinds_tags_and_tally() -> None:
    fn = mask_pii_step(
        MaskPiiStep(step="mask_pii", kinds=["phone", "email"], tags={"phone": "<PHONE>"})
    )
    tally: Counter[str] = Counter()
    out = fn("010-1234-5678, 02-123-4567, a@b.kr, 900101-1234567", tally)
    assert out == "<PHONE>, <PHONE>, [이메일], 900101-1234567"
    assert tally == Counter({"phone": 2, "email": 1})


def test_account_shapes_are_configurable() -> None:
    default = pii_masker(["account"])
    custom = pii_masker(["account"], account_shapes=["2-2-2-2-2"])
    assert default("12-34-56-78-90", Counter()) == "12-34-56-78-90"
    assert custom("12-34-56-78-90", Counter()) == "[계좌번호]"


def test_masking_is_idempotent() -> None:
    once = mask_pii("010-1234-5678 a@b.kr 4111 1111 1111 1111 110-123-456789")
    assert mask_pii(once) == once
