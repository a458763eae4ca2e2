"""Text keys for comparing dataset rows: two texts that a person calls "the same" share a key.

These are *matching* keys (for duplicates, leakage and label look-alikes), never written back
to data. Korean needs care: NFKC would turn compatibility jamo (ㅋ) into conjoining jamo, so the
key uses NFC and removes spacing, which Korean writers apply inconsistently (오류 해결 / 오류해결).
"""

from __future__ import annotations

import re
import unicodedata

_SPACE = re.compile(r"\s+")
_NOT_WORD = re.compile(r"[^\w]+", re.UNICODE)


def nfc(text: str) -> str:
    """Unicode NFC: composed Hangul syllables, as Korean input methods produce."""
    return unicodedata.normalize("NFC", text)


def exact_key(text: str) -> str:
    """Equal for texts that differ only in Unicode form, outer spaces and runs of spaces."""
    return _SPACE.sub(" ", nfc(text)).strip()


def loose_key(text: str) -> str:
    """Equal for texts that differ in spacing, punctuation, symbols or Latin case."""
    folded = unicodedata.normalize("NFC", unicodedata.normalize("NFKC", nfc(text)))
    return _NOT_WORD.sub("", folded.casefold()).replace("_", "")


def shingles(text: str, size: int = 3) -> set[str]:
    """Character n-grams of the loose key; short texts yield themselves."""
    key = loose_key(text)
    if len(key) <= size:
        return {key} if key else set()
    return {key[i : i + size] for i in range(len(key) - size + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    """Jaccard similarity of two sets (1.0 for two empty sets)."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)
