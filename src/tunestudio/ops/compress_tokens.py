"""Token-level prompt compression for Korean: drop low-information morphemes, keep the rest.

English-centric compressors (LLMLingua and kin) score sub-word tokens with an English LM and
garble Korean: they cut inside eojeols and leave half-words. Here the unit is the morpheme
(kiwipiepy), and only morphemes whose loss costs little meaning are candidates, in tiers
removed in this order until the text fits its budget:

1. ``filler``: interjections (IC), vocative particles (JKV), filler adverbs (정말, 그냥, 혹시…),
   ellipses (SE) and repeated punctuation ("!!" → "!", "?!" → "?").
2. ``case``: subject, object, possessive and complement particles (JKS, JKO, JKG, JKC), the
   noun-joining particles (JC) and the topic markers 은/는.
3. ``honorific``: the honorific pre-final ending 시/으시 (도와주실 → 도와줄).
4. ``endings``: declarative sentence endings become the note style (개조식) noun ending ᆷ,
   as Korean memos and slides write (분류합니다 → 분류함, 문의입니다 → 문의임).
5. ``adverbs``: conjunctive adverbs (MAJ) and other adverbs except those that carry meaning
   (negation 안/못, degree 더/덜/가장, 꼭, 절대…).
6. ``particles``: adverbial and quotative particles (JKB, JKQ) and the remaining auxiliary
   particles except 만/도/까지/부터/마다/조차/밖에 (they change what a sentence says), and
   except where a verb needs them (에 관한, 에 따라) or they bound a number range (3일에서).

A particle fused into the word before it (내 = 나 + 의) is never removed: that respells the word.

Stems, nouns, proper nouns (NNP), numbers, foreign words and all other endings are
never removed, and nothing is removed inside a *protected span*: numbers, URLs, e-mails, quoted
strings, code in backticks, listed labels and the user's own ``protect`` regexes. Sentences
that match a ``keep`` pattern (e.g. the category list and the output-format rule) are copied
whole.

Only the eojeols (space-separated words) that lose a morpheme are rebuilt, with ``Kiwi.join``,
which re-inflects what remains (도와주 + ᆯ → 도와줄); every other character of the text is
copied verbatim, so protected spans survive byte for byte.

Within the tier that crosses the budget, only as many candidates as needed are removed, spread
evenly over the text (a binary search over how many), so no paragraph is stripped bare.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tunestudio.korean import LOCK as kiwi_lock  # one lock for the process's one Kiwi
from tunestudio.korean import kiwi

if TYPE_CHECKING:
    from kiwipiepy._wrap import Token

Measure = Callable[[str], int]
Replacement = tuple[str, str] | None  # (form, tag) to put in a morpheme's place; None: remove


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


FILLER_ADVERBS = _words(
    "정말 진짜 그냥 혹시 좀 조금 약간 아주 매우 너무 굉장히 사실 일단 그러니까 뭔가 막 참 "
    "되게 엄청 그저 흔히 여전히 대부분 함께 따로 먼저 바로 다시 모두 이미"
)
KEEP_ADVERBS = _words(
    "안 못 아니 더 덜 가장 제일 꼭 반드시 절대 절대로 즉시 다만 단 오직 전혀 결코 아직 또 "
    "이상 이하 최소 최대 미리 항상 자동 자동으로 어떻게 어찌 왜 언제 어디 얼마나 몇"
)
KEEP_AUXILIARY = _words("만 도 까지 부터 마다 조차 밖에 뿐 나 이나 라도 이라도")
TOPIC_MARKERS = frozenset({"은", "는", "ᆫ"})
BOUND_TAGS = ("J", "E", "XS", "VCP")  # morphemes that cannot start a word
FREE_TAGS = ("NN", "NP", "NR", "VV", "VA", "VX", "MM", "MA", "IC", "XR")  # words and stems
PUNCT_TAGS = frozenset({"SF", "SP", "SE", "SO", "SW"})
# Spans kept exactly whatever the tiers say: numbers, URLs, e-mails, quotes, code.
BUILTIN_PROTECT: tuple[str, ...] = (
    r"https?://\S+|www\.\S+",
    r"[\w.+-]+@[\w-]+\.[\w.]+",
    r"\d[\d,.:/%~-]*\d|\d",
    r'"[^"\n]*"|“[^”\n]*”|‘[^’\n]*’|「[^」\n]*」|『[^』\n]*』',
    r"`[^`\n]*`",
)
TIERS: tuple[str, ...] = ("filler", "case", "honorific", "endings", "adverbs", "particles")
# Declarative sentence endings that the note style (개조식) replaces with the noun ending ᆷ.
DECLARATIVE_ENDINGS = _words("ᆸ니다 습니다 다 어요 아요 에요 예요 여요")
# Verbs that take a particle as part of a fixed phrase: 에 관한, 에 대한, 에 따라, 에 의해 …
GOVERNING_STEMS = _words("관하 대하 따르 의하 위하 비하 통하 대비하")
_PUNCT_ONLY = re.compile(r"[^\w\s]+")
_JAMO = re.compile("[\u1100-\u11ff\u3131-\u318e]")


@dataclass(frozen=True)
class Edit:
    """Remove (``replacement`` None) or shorten one morpheme of one line."""

    line: int
    token: int
    replacement: Replacement = None


@dataclass
class _Line:
    text: str
    tokens: list[Token]
    protected: list[tuple[int, int]]


def tier_of(tokens: Sequence[Token], index: int) -> tuple[str, Replacement] | None:
    """The removal tier of ``tokens[index]`` and its replacement (None: remove), or None."""
    token = tokens[index]
    form, tag = token.form, token.tag
    if tag in {"IC", "JKV", "SE"} or (tag == "MAG" and form in FILLER_ADVERBS):
        return "filler", None
    if tag in PUNCT_TAGS:
        return _punctuation(tokens, index)
    if tag.startswith("J"):
        return _particle(tokens, index)
    if tag == "EP" and form in {"시", "으시"}:
        return "honorific", None
    if tag == "EF" and form in DECLARATIVE_ENDINGS and not _followed_by(tokens, index, "?"):
        return "endings", ("ᆷ", "ETN")  # 개조식 (note style): 분류합니다 → 분류함
    if tag == "MAJ" or (tag == "MAG" and form not in KEEP_ADVERBS):
        return "adverbs", None
    return None


def _punctuation(tokens: Sequence[Token], index: int) -> tuple[str, Replacement] | None:
    token = tokens[index]
    previous = tokens[index - 1] if index else None
    if previous is not None and previous.tag in PUNCT_TAGS and previous.end == token.start:
        return "filler", None  # "?" right after "!": one mark is enough
    if token.tag == "SF" and len(token.form) > 1:
        return "filler", (token.form[0], "SF")  # "!!" -> "!", "?!" -> "?"
    return None


def _particle(tokens: Sequence[Token], index: int) -> tuple[str, Replacement] | None:
    token = tokens[index]
    form, tag = token.form, token.tag
    previous = tokens[index - 1] if index else None
    if previous is not None and previous.end > token.start:
        return None  # fused with the word before it (내 = 나 + 의): removing it respells the word
    following = tokens[index + 1] if index + 1 < len(tokens) else None
    word_goes_on = following is not None and following.start == token.end
    if tag == "JKG" and word_goes_on and following and following.tag not in PUNCT_TAGS:
        return None  # 의 inside a word is likely a misreading ("문의요" as 문 + 의 + 요)
    if tag in {"JKS", "JKO", "JKG", "JKC", "JC"} or (tag == "JX" and form in TOPIC_MARKERS):
        return "case", None
    if tag in {"JKB", "JKQ"} or (tag == "JX" and form not in KEEP_AUXILIARY):
        if following is not None and following.form in GOVERNING_STEMS:
            return None  # "X에 관한", "X에 따라": the verb needs its particle
        if previous is not None and previous.tag in {"SN", "NNB"}:
            return None  # "3일에서 5일": a particle after a number bounds a range
        return "particles", None
    return None


def _followed_by(tokens: Sequence[Token], index: int, form: str) -> bool:
    return index + 1 < len(tokens) and tokens[index + 1].form.startswith(form)


class TokenCompressor:
    """Removes low-information morphemes from text until it fits a budget (module docs)."""

    def __init__(
        self,
        *,
        protect: Sequence[str] = (),
        labels: Sequence[str] = (),
        keep: Sequence[str] = (),
    ) -> None:
        """``protect``: regexes of spans never touched; ``labels``: strings never touched;
        ``keep``: regexes of sentences copied unchanged."""
        patterns = [*BUILTIN_PROTECT, *protect]
        patterns += [re.escape(label) for label in sorted(labels, key=len, reverse=True)]
        self._protect = re.compile("|".join(f"(?:{p})" for p in patterns))
        self._keep = re.compile("|".join(f"(?:{p})" for p in keep)) if keep else None

    def compress(self, text: str, budget: int | None = None, measure: Measure = len) -> str:
        """``text`` with the fewest tiers removed that bring ``measure`` to ``budget`` or under
        (every tier when ``budget`` is None or cannot be reached)."""
        lines = self._analyse(text)
        applied: list[Edit] = []
        for tier in TIERS:
            candidates = self._candidates(lines, tier)
            if not candidates:
                continue
            full = render(lines, applied + candidates)
            if budget is not None and measure(full) <= budget:
                return self._partial(lines, applied, candidates, budget, measure)
            applied += candidates
        return render(lines, applied)

    def _partial(
        self,
        lines: list[_Line],
        applied: list[Edit],
        candidates: list[Edit],
        budget: int,
        measure: Measure,
    ) -> str:
        """The fewest ``candidates`` (spread evenly) that, with ``applied``, meet ``budget``."""
        low, high = 0, len(candidates)  # high always meets the budget
        while low < high:
            middle = (low + high) // 2
            if measure(render(lines, applied + spread(candidates, middle))) <= budget:
                high = middle
            else:
                low = middle + 1
        return render(lines, applied + spread(candidates, high))

    def _analyse(self, text: str) -> list[_Line]:
        raw = text.split("\n")
        with kiwi_lock:  # one Kiwi for the process; calls are serialised to be safe
            analysed = list(kiwi().tokenize(raw))
        return [
            _Line(line, list(tokens), self._spans(line) + self._kept(line) + _unsure(line, tokens))
            for line, tokens in zip(raw, analysed, strict=True)
        ]

    def _kept(self, line: str) -> list[tuple[int, int]]:
        """The sentences of ``line`` that match a keep pattern, whole."""
        if not (self._keep and self._keep.search(line)):
            return []
        with kiwi_lock:
            sentences = kiwi().split_into_sents(line)
        return [(s.start, s.end) for s in sentences if self._keep.search(s.text)]

    def _spans(self, line: str) -> list[tuple[int, int]]:
        return [
            match.span() for match in self._protect.finditer(line) if match.end() > match.start()
        ]

    def _candidates(self, lines: list[_Line], tier: str) -> list[Edit]:
        edits = []
        for number, line in enumerate(lines):
            starts = {start for start, _ in _eojeols(line.text)}
            for index, token in enumerate(line.tokens):
                found = tier_of(line.tokens, index)
                if not found or found[0] != tier or _overlaps(token, line.protected):
                    continue
                opens_word = token.start in starts and (
                    index == 0 or line.tokens[index - 1].start < token.start
                )  # (an ending fused into the stem shares its start: 합니다 = 하 + ᆸ니다)
                if opens_word and token.tag.startswith(BOUND_TAGS):
                    continue  # a particle opening a word is Kiwi misreading it ("로긴": 로 + 긴)
                edits.append(Edit(number, index, found[1]))
        return edits


def _unsure(line: str, tokens: Sequence[Token]) -> list[tuple[int, int]]:
    """Words Kiwi did not read literally, left whole: slang it normalised ("어케" read as
    하 + 게) or leftovers it could not place (the ᆼ of "합니당")."""
    spans = []
    for start, end in _eojeols(line):
        heads = {_onset_nucleus(char) for char in line[start:end]}
        inside = [t for t in tokens if start <= t.start < end]
        # Only stems and words are checked: endings and particles are respelled by
        # contraction and irregular verbs (도와 = 돕 + 아) in any correct reading.
        stems = [t for t in inside if t.tag.startswith(FREE_TAGS) and _is_syllable(t.form[0])]
        if any(t.tag.startswith(("Z_", "UN")) for t in inside) or any(
            _onset_nucleus(t.form[0]) not in heads for t in stems
        ):
            spans.append((start, end))
    return spans


def _is_syllable(char: str) -> bool:
    return "가" <= char <= "힣"


def _onset_nucleus(char: str) -> int:
    """A Hangul syllable without its final consonant (합 → 하), so contractions match."""
    return (ord(char) - ord("가")) // 28 if _is_syllable(char) else -1


def spread(candidates: Sequence[Edit], count: int) -> list[Edit]:
    """``count`` of ``candidates`` at evenly spaced positions."""
    if count <= 0:
        return []
    step = len(candidates) / count
    return [candidates[int(step * i + step / 2)] for i in range(count)]


def render(lines: Sequence[_Line], edits: Sequence[Edit]) -> str:
    """The text with ``edits`` applied: changed eojeols rebuilt by Kiwi, the rest verbatim."""
    by_line: dict[int, dict[int, Replacement]] = {}
    for edit in edits:
        by_line.setdefault(edit.line, {})[edit.token] = edit.replacement
    out = []
    for number, line in enumerate(lines):
        changes = by_line.get(number)
        out.append(_render_line(line, changes) if changes else line.text)
    return "\n".join(out)


def _render_line(line: _Line, changes: dict[int, Replacement]) -> str:
    pieces: list[str] = []
    for start, end in _eojeols(line.text):
        indices = [i for i, t in enumerate(line.tokens) if start <= t.start < end]
        if not any(i in changes for i in indices):
            pieces.append(line.text[start:end])
            continue
        word = _rebuild(line, indices, changes, start, end)
        if word and indices[0] in changes and _PUNCT_ONLY.fullmatch(word):
            # The word lost what its punctuation closed ("음..."): the mark goes onto the word
            # before ("그냥." not "그냥 ."), unless that already ends in one, or away at the
            # start of a line.
            if pieces and not _PUNCT_ONLY.fullmatch(pieces[-1][-1]):
                pieces[-1] += word
        elif word:
            pieces.append(word)
    # Why single spaces: a removed word would otherwise leave a double space behind.
    indent = line.text[: len(line.text) - len(line.text.lstrip())]
    return indent + " ".join(pieces)


def _rebuild(
    line: _Line, indices: list[int], changes: dict[int, Replacement], start: int, end: int
) -> str:
    morphs = []
    for index in indices:
        token = line.tokens[index]
        morph = changes.get(index, (token.form, token.tag))
        if morph is not None:
            morphs.append((*morph, False))
    if indices and indices[0] in changes:
        # The word's head is gone ("제발요" without 제발): a particle or ending left at its
        # front belongs to nothing, so it goes too; after an interjection ("저기요") the whole
        # word was the interjection, and only its punctuation stays.
        if line.tokens[indices[0]].tag == "IC":
            morphs = [m for m in morphs if m[1] in PUNCT_TAGS]
        while morphs and morphs[0][1].startswith(BOUND_TAGS):
            morphs.pop(0)
    if not morphs:
        return ""
    with kiwi_lock:
        word: str = kiwi().join(morphs)
    # Kiwi may respell what it joins; a protected fragment must come back exactly, and no
    # loose jamo may appear, or the word stays as it was.
    if _JAMO.search(word) and not _JAMO.search(line.text[start:end]):
        return line.text[start:end]
    for low, high in line.protected:
        fragment = line.text[max(low, start) : min(high, end)]
        if fragment and fragment not in word:
            return line.text[start:end]
    return word


def _eojeols(text: str) -> list[tuple[int, int]]:
    return [match.span() for match in re.finditer(r"\S+", text)]


def _overlaps(token: Token, spans: Sequence[tuple[int, int]]) -> bool:
    return any(token.start < high and token.end > low for low, high in spans)
