"""Masking of Korean personal data: phone numbers, e-mail, 주민등록번호, card and account numbers.

Each kind is a pattern plus, where digits alone are ambiguous, a plausibility check: a resident
registration number must start with a real birth date, and a card number must pass the Luhn
check and start like a real card, so dates, order numbers and product codes are left alone.
A number glued to Latin letters, digits or a hyphen (``SKU-010-1234-5678``) is part of a code,
not a phone number, and is not masked.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Callable, Iterable

from tunestudio.data.clean.config import ACCOUNT_SHAPES, PII_KINDS, MaskPiiStep, PiiKind

DEFAULT_TAGS: dict[PiiKind, str] = {
    "phone": "[전화번호]",
    "email": "[이메일]",
    "rrn": "[주민등록번호]",
    "card": "[카드번호]",
    "account": "[계좌번호]",
}

# A number starts and ends where no code-like character touches it. Hangul may touch it:
# Korean attaches particles directly (010-1234-5678로 연락).
_START = r"(?<![0-9A-Za-z\-+*])"
_END = r"(?![0-9A-Za-z*]|-\d)"

EMAIL_RE = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
    r"(?![A-Za-z0-9])"  # Hangul may touch it on either side: 메일은a@b.kr로
)
URL_RE = re.compile(r"\b(?:https?://|www\.)[^\s<>\"']+")

_INTL = r"\+82[-. ]?(?:\(0\)[-. ]?)?"
# Seoul 02, the provinces 031–064, internet phones 070 and 050x "safe numbers".
_AREA = r"(?:2|3[1-3]|4[1-4]|5[1-5]|6[1-4]|70|50[2-8])"
_MOBILE = rf"(?:{_INTL}|0)1[016789][-. ]?\d{{3,4}}[-. ]?\d{{4}}"
# Landlines need separators at home: a bare 02… digit run is as likely an order number.
_LANDLINE = rf"(?:\(0{_AREA}\)[-. ]?|0{_AREA}\)?[-. ]|{_INTL}{_AREA}[-. ]?)\d{{3,4}}[-. ]?\d{{4}}"
PHONE_RE = re.compile(rf"{_START}(?:{_MOBILE}|{_LANDLINE}){_END}")

# YYMMDD, the 7th digit (sex and century), six more digits or the asterisks of a masked form.
RRN_RE = re.compile(rf"{_START}(\d{{6}})[- ]?([1-8])(?:\d{{6}}|\*{{6}}){_END}")

CARD_RE = re.compile(
    rf"{_START}(?:\d{{4}}([- ])\d{{4}}\1\d{{4}}\1\d{{4}}(?:\1\d{{3}})?"  # 4-4-4-4(-3)
    rf"|\d{{4}}([- ])\d{{6}}\2\d{{4,5}}"  # Amex 4-6-5, Diners 4-6-4
    rf"|\d{{14,19}}){_END}"
)


def plausible_rrn(match: re.Match[str], today: dt.date | None = None) -> bool:
    """The first six digits are a real, past birth date in the century the 7th digit names."""
    yymmdd, code = match[1], int(match[2])
    century = 1900 if code in (1, 2, 5, 6) else 2000
    try:
        born = dt.date(century + int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:6]))
    except ValueError:
        return False
    return born <= (today or dt.date.today())


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum every payment card number carries."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def plausible_card(match: re.Match[str]) -> bool:
    """Luhn-valid, starts like a real card (Visa, Mastercard, Amex, JCB, Diners, Discover,
    UnionPay or a Korean domestic card) and is not one digit repeated."""
    digits = re.sub(r"\D", "", match[0])
    if len(set(digits)) == 1 or not luhn_ok(digits):
        return False
    two, four = int(digits[:2]), int(digits[:4])
    return (
        digits[0] in "469"
        or 51 <= two <= 55
        or 2221 <= four <= 2720
        or two in (30, 34, 36, 37, 38)
        or 3528 <= four <= 3589
    )


def account_pattern(shapes: Iterable[str]) -> re.Pattern[str]:
    """A pattern for dashed account numbers of the given digit-group shapes (``3-3-6``)."""
    ordered = sorted(set(shapes), key=lambda s: sum(map(int, s.split("-"))), reverse=True)
    bodies = ["-".join(rf"\d{{{n}}}" for n in shape.split("-")) for shape in ordered]
    return re.compile(rf"{_START}(?:{'|'.join(bodies)}){_END}")


Check = Callable[[re.Match[str]], bool]


def _detectors(shapes: Iterable[str]) -> dict[PiiKind, tuple[re.Pattern[str], Check | None]]:
    # Order matters: the most specific kinds first, so a card number is never half-taken
    # by the phone pattern and a 050x phone number is never called an account.
    return {
        "email": (EMAIL_RE, None),
        "rrn": (RRN_RE, plausible_rrn),
        "card": (CARD_RE, plausible_card),
        "phone": (PHONE_RE, None),
        "account": (account_pattern(shapes), None),
    }


def pii_masker(
    kinds: Iterable[PiiKind] = PII_KINDS,
    tags: dict[PiiKind, str] | None = None,
    account_shapes: Iterable[str] = ACCOUNT_SHAPES,
) -> Callable[[str, Counter[str]], str]:
    """A function that masks the chosen kinds of personal data and tallies them by kind."""
    wanted = set(kinds)
    labels = {**DEFAULT_TAGS, **(tags or {})}
    detectors = [(k, p, c) for k, (p, c) in _detectors(account_shapes).items() if k in wanted]

    def mask(value: str, tally: Counter[str]) -> str:
        for kind, pattern, check in detectors:

            def swap(m: re.Match[str], kind: PiiKind = kind, check: Check | None = check) -> str:
                if check is not None and not check(m):
                    return m[0]
                tally[kind] += 1
                return labels[kind]

            value = pattern.sub(swap, value)
        return value

    return mask


def mask_pii_step(cfg: MaskPiiStep) -> Callable[[str, Counter[str]], str]:
    """The ``mask_pii`` step as a text function."""
    return pii_masker(cfg.kinds, cfg.tags, cfg.account_patterns)


def mask_pii(text: str, kinds: Iterable[PiiKind] = PII_KINDS) -> str:
    """Mask personal data in one text with the default tags."""
    return pii_masker(kinds)(text, Counter())
