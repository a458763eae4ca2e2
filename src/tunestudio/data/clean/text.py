"""Text steps: each turns one value into its cleaned form and tallies what it did.

A text step is a function ``(value, tally) -> value``; ``tally`` counts what was done (for
example ``emoji`` or ``어케→어떻게``) so the report can say more than "changed".
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from functools import cache
from importlib import resources

import emoji
import yaml

from tunestudio.data.clean.config import (
    NfcStep,
    RelabelStep,
    RemoveEmojiStep,
    RemoveSpecialStep,
    SlangStep,
    SquashRepeatsStep,
    WhitespaceStep,
)
from tunestudio.data.clean.pii import EMAIL_RE, URL_RE
from tunestudio.data.problems import shown_label

TextFn = Callable[[str, Counter[str]], str]

# Spaces that look like a plain space but are not one (no-break, ideographic, thin, …).
_ODD_SPACE = re.compile("[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
# Invisible characters that only get in the way (zero-width space/non-joiner, word joiner,
# BOM, soft hyphen). The zero-width joiner is handled apart: it glues emoji sequences.
_ZERO_WIDTH = re.compile("[\u200b\u200c\u2060\ufeff\u00ad\u180e]")
_LINE_SEP = re.compile("\r\n|[\r\u2028\u2029\x0b\x0c\x85]")
_INNER_RUN = re.compile(r"(?<=\S)(?:[ \t]{2,}|\t)")
_TRAILING = re.compile(r"[ \t]+(?=\n)")
# The glue characters of emoji sequences, which mean nothing once the emoji around them is gone.
_EMOJI_GLUE = frozenset("\u200d\ufe0e\ufe0f\u20e3")


def nfc_step(cfg: NfcStep) -> TextFn:
    """Unicode NFC (composed Hangul syllables)."""
    return lambda value, tally: unicodedata.normalize("NFC", value)


def whitespace_step(cfg: WhitespaceStep) -> TextFn:
    """Odd spaces → plain space, collapse runs between words, trim, limit blank lines."""
    blank_lines = re.compile(rf"\n(?:[ \t]*\n){{{cfg.max_blank_lines + 1},}}")
    keep_newlines = "\n" * (cfg.max_blank_lines + 1)

    def clean(value: str, tally: Counter[str]) -> str:
        value = _LINE_SEP.sub("\n", value)
        if cfg.odd_spaces:
            value = _ZERO_WIDTH.sub("", _ODD_SPACE.sub(" ", value))
            value = _drop_lone_zwj(value)
        if cfg.collapse:
            # Only runs after a word: indentation at the start of a line is kept.
            value = _INNER_RUN.sub(" ", value)
        if cfg.trim:
            value = _TRAILING.sub("", value).strip()
        return blank_lines.sub(keep_newlines, value)

    return clean


def _drop_lone_zwj(value: str) -> str:
    """Delete a zero-width joiner unless it joins two symbols (👨‍👩‍👧 stays one emoji)."""
    if "\u200d" not in value:
        return value
    out = []
    for i, ch in enumerate(value):
        if ch == "\u200d":
            before = value[i - 1] if i else ""
            after = value[i + 1] if i + 1 < len(value) else ""
            if not (_is_symbol(before) and _is_symbol(after)):
                continue
        out.append(ch)
    return "".join(out)


def _is_symbol(ch: str) -> bool:
    return bool(ch) and (unicodedata.category(ch).startswith("S") or ch in _EMOJI_GLUE)


def remove_emoji_step(cfg: RemoveEmojiStep) -> TextFn:
    """Delete emoji, tidying the spaces they leave behind."""
    keep = set(cfg.keep)

    def clean(value: str, tally: Counter[str]) -> str:
        spans = [
            (m["match_start"], m["match_end"])
            for m in emoji.emoji_list(value)
            if m["emoji"] not in keep
        ]
        if not spans:
            return value
        tally["emoji"] += len(spans)
        return delete_spans(value, spans)

    return clean


def remove_special_step(cfg: RemoveSpecialStep) -> TextFn:
    """Delete symbols and punctuation outside the keep list; letters and digits always stay."""
    keep = set(cfg.keep) | set(cfg.also_keep)

    def clean(value: str, tally: Counter[str]) -> str:
        protected = _protected(value) if cfg.protect_emails_urls else []
        spans = [
            (i, i + 1)
            for i, ch in enumerate(value)
            if ch not in keep and _is_noise(ch) and not _inside(i, protected)
        ]
        if not spans:
            return value
        tally["symbols"] += len(spans)
        return delete_spans(value, spans)

    return clean


def _is_noise(ch: str) -> bool:
    """Symbols, punctuation, control and private-use characters; never letters or digits."""
    if ch in _EMOJI_GLUE:
        return True
    category = unicodedata.category(ch)
    return category[0] not in "LMNZ" and ch not in "\n\t"


def _protected(value: str) -> list[tuple[int, int]]:
    return [m.span() for pattern in (EMAIL_RE, URL_RE) for m in pattern.finditer(value)]


def _inside(index: int, spans: list[tuple[int, int]]) -> bool:
    return any(start <= index < end for start, end in spans)


def delete_spans(value: str, spans: Iterable[tuple[int, int]]) -> str:
    """Delete spans with the spaces around them, never gluing two words together.

    Where a deleted span stood between two non-space characters one space is kept, so the
    words it separated stay apart: ``좋아요 👍 감사`` → ``좋아요 감사``, ``ㅠㅠ 😭😭 [전화번호]`` →
    ``ㅠㅠ [전화번호]``, ``가격♡할인`` → ``가격 할인``. The one exception is punctuation that was
    written against the deleted characters, which joins the text beside it as punctuation
    does: ``감사합니다😊.`` → ``감사합니다.``, ``(😊좋아)`` → ``(좋아)``. No space is added at the
    ends of the value or of a line, and a line that held only deleted characters disappears
    with its line break.
    """
    # Each entry: [cut start, cut end] (the span grown over the spaces around it), then the
    # deleted characters' own [start, end]; spans that touch through spaces become one.
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        cut_start, cut_end = _with_spaces(value, start, end)
        if merged and cut_start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], cut_end)
            merged[-1][3] = max(merged[-1][3], end)
        else:
            merged.append([cut_start, cut_end, start, end])
    pieces, pos = [], 0
    for cut_start, cut_end, start, end in merged:
        cut_start, cut_end = _with_line(value, cut_start, cut_end)
        pieces.append(value[pos:cut_start])
        pieces.append(_gap(value, cut_start, cut_end, start, end))
        pos = cut_end
    pieces.append(value[pos:])
    return "".join(pieces)


def _with_spaces(value: str, start: int, end: int) -> tuple[int, int]:
    while start > 0 and value[start - 1] in " \t":
        start -= 1
    while end < len(value) and value[end] in " \t":
        end += 1
    return start, end


def _with_line(value: str, start: int, end: int) -> tuple[int, int]:
    """A line that held nothing else goes with its line break, leaving no blank line."""
    if start == 0 or value[start - 1] == "\n":
        if end < len(value) and value[end] == "\n":
            return start, end + 1
        if end == len(value) and start > 0:
            return start - 1, end
    return start, end


# Punctuation that is written against the word before it (and so may follow any word).
_CLOSING = frozenset(".,!?;:…~%。、，！？：；")


def _gap(value: str, cut_start: int, cut_end: int, start: int, end: int) -> str:
    """What replaces ``value[cut_start:cut_end]`` (the span ``start:end`` with its spaces)."""
    before = value[cut_start - 1] if cut_start else ""
    after = value[cut_end] if cut_end < len(value) else ""
    if not before or not after or before.isspace() or after.isspace():
        return ""  # an end of the value or of a line: nothing to keep apart
    glued_after = cut_end == end  # no space between the span and what follows it
    glued_before = cut_start == start
    if glued_after and (after in _CLOSING or unicodedata.category(after) in ("Pe", "Pf")):
        return ""
    if glued_before and unicodedata.category(before) in ("Ps", "Pi"):
        return ""
    return " "


def squash_repeats_step(cfg: SquashRepeatsStep) -> TextFn:
    """Shorten runs of one character; digits and spaces are never touched."""
    run = re.compile(r"(.)\1+", re.DOTALL)

    def limit(ch: str) -> int | None:
        if ch.isdigit() or ch.isspace():
            return None
        if _is_hangul(ch) or (cfg.latin and ch.isascii() and ch.isalpha()):
            return cfg.max_repeat
        if unicodedata.category(ch)[0] in "PS":
            return cfg.max_dots if ch == "." else cfg.max_repeat_punct
        return None

    def clean(value: str, tally: Counter[str]) -> str:
        def shorten(m: re.Match[str]) -> str:
            most = limit(m[1])
            if most is None or len(m[0]) <= most:
                return m[0]
            tally["runs"] += 1
            return m[1] * most

        return run.sub(shorten, value)

    return clean


def _is_hangul(ch: str) -> bool:
    code = ord(ch)
    return 0xAC00 <= code <= 0xD7A3 or 0x3131 <= code <= 0x318E or 0x1100 <= code <= 0x11FF


@cache
def default_slang_map() -> dict[str, str]:
    """The built-in Korean slang/abbreviation map (``slang_ko.yaml`` in this package)."""
    text = resources.files("tunestudio.data.clean").joinpath("slang_ko.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    return {str(k): str(v) for k, v in data["map"].items()}


def slang_step(cfg: SlangStep) -> TextFn:
    """Replace whole words from the slang map; a word inside a longer word is left alone."""
    table = dict(default_slang_map()) if cfg.use_default_map else {}
    for word in cfg.exclude:
        table.pop(word, None)
    table.update(cfg.map)
    if not table:
        return lambda value, tally: value
    # Longest first, so 어케해 wins over 어케 when both are listed.
    words = sorted(table, key=len, reverse=True)
    alternatives = "|".join(map(re.escape, words))
    pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")

    def clean(value: str, tally: Counter[str]) -> str:
        def swap(m: re.Match[str]) -> str:
            tally[f"{m[0]}→{table[m[0]]}"] += 1
            return table[m[0]]

        return pattern.sub(swap, value)

    return clean


def relabel_step(cfg: RelabelStep) -> TextFn:
    """Replace a whole value equal to a map key (compared in NFC, outer spaces ignored)."""
    table = {unicodedata.normalize("NFC", k.strip()): v for k, v in cfg.map.items()}

    def clean(value: str, tally: Counter[str]) -> str:
        key = unicodedata.normalize("NFC", value.strip())
        if key not in table:
            return value
        tally[f"{shown_label(key, quote=False)}→{shown_label(table[key], quote=False)}"] += 1
        return table[key]

    return clean
