"""Speech style (문체) of every sentence, by its final ending, and style-transfer success.

Sentences come from kiwipiepy's sentence splitter, each with its morphemes; the last morpheme
that is not punctuation, a quote, an emoji or ㅋㅋ decides:

* 합쇼체 — 습니다 / ㅂ니다 / ㅂ니까 / ㅂ시다 / 십시오
* 해요체 — any ending in 요 (어요, 세요, 네요, 예요, 을까요 …), 죠, and the particle 요 (정말요)
* 해라체 — 다 / ㄴ다 / 는다, 냐 / 니, 라 / 어라, 자, 구나 / 군, 마 / 렴
* 반말 — every other sentence-final ending (어 / 아, 야, 지, 네, ㄹ게, 을래, ㄹ까, 거든, 는데 …)
* 명사형 — a nominalising ending (회의를 마침, 확인했음, 정리하기)
* unknown — no ending at all (a noun phrase, a heading, an interjection)

An answer succeeds when it has at least one sentence with a style and every such sentence is in
the target style; ``unknown`` sentences neither help nor hurt. The success rate is also reported
by the *input's* length in tokens (the seed found transfer failing on long inputs).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tunestudio.evaluation.predictions import Prediction
from tunestudio.evaluation.scorers.base import (
    CORRECT,
    FORMAT_INVALID,
    GENERATION_FAILED,
    RowScore,
    ScoreReport,
)
from tunestudio.evaluation.scorers.common import class_table, rate, scored
from tunestudio.evaluation.scorers.measures import split_sentences, token_counter

if TYPE_CHECKING:
    from kiwipiepy import Token

NOMINAL = "명사형"
UNKNOWN = "unknown"
SENTENCE_STYLES = ("합쇼체", "해요체", "해라체", "반말", NOMINAL)
WRONG_STYLE = "wrong_style"
NO_STYLE = "no_style"  # the answer has no sentence with a final ending
DEFAULT_BUCKETS = (20, 40, 80, 160)

_HAPSYO = ("니다", "니까", "ᆸ시다", "읍시다", "ᆸ시오", "십시오", "소서")
_HAERA = frozenset(
    {"라", "어라", "아라", "거라", "너라", "자", "냐", "느냐", "니", "구나", "는구나", "군"}
    | {"는군", "마", "렴", "려무나", "도다", "로다", "더라"}
)
# Trailing morphemes that carry no ending: punctuation, quotes, symbols, emoji, ㅋㅋ.
_SKIPPED = ("SF", "SP", "SSO", "SSC", "SE", "SO", "SW", "SB", "W_")


def ending_style(form: str) -> str:
    """The style of a final (or sentence-closing connective) ending, e.g. ``ᆸ니다`` → 합쇼체."""
    if form.endswith(_HAPSYO):
        return "합쇼체"
    if form.endswith(("요", "죠")):
        return "해요체"
    if form in _HAERA or form.endswith("다"):
        return "해라체"
    return "반말"


def sentence_style(tokens: Sequence[Token]) -> str:
    """The style of one analysed sentence (see the module docstring)."""
    for token in reversed(tokens):
        if token.tag.startswith(_SKIPPED):
            continue
        if token.tag in ("EF", "EC"):
            return ending_style(token.form)
        if token.tag == "JX" and token.form in ("요", "이요"):
            return "해요체"
        return NOMINAL if token.tag == "ETN" else UNKNOWN
    return UNKNOWN


def text_styles(texts: Sequence[str]) -> list[list[tuple[str, str]]]:
    """(sentence, style) for every sentence of every text (see :func:`split_sentences`)."""
    return [
        [(s.text, sentence_style(s.tokens or [])) for s in sentences]
        for sentences in split_sentences(texts)
    ]


class StyleScorer:
    """Success = every sentence of the answer is in the ``target`` style."""

    name = "style"

    def __init__(
        self, target: str, tokenizer: str | None = None, buckets: Sequence[int] | None = None
    ) -> None:
        self.target = target
        self.tokenizer = tokenizer
        self.buckets = tuple(buckets or DEFAULT_BUCKETS)

    def score(self, items: Sequence[Prediction]) -> ScoreReport:
        """Score every item; rows without an expected answer are scored too."""
        answers = [item.answer or "" for item in items]
        styles = text_styles(answers)
        counter = token_counter(self.tokenizer)
        lengths = counter.count([item.input for item in items])
        rows = [
            self._row(item, found, n) for item, found, n in zip(items, styles, lengths, strict=True)
        ]
        tables = {
            "by_input_tokens": self._by_length(rows, lengths, counter.unit),
            "error_classes": class_table(scored(rows)),
        }
        return ScoreReport(self.name, rows, _metrics(rows, styles, items), tables)

    def _row(self, item: Prediction, found: list[tuple[str, str]], tokens: int) -> RowScore:
        base = {"input_tokens": tokens}
        if item.answer is None:
            return RowScore(0, GENERATION_FAILED, base)
        if not item.answer.strip():
            return RowScore(0, FORMAT_INVALID, base)
        styled = [(text, style) for text, style in found if style != UNKNOWN]
        off = [text for text, style in styled if style != self.target]
        details: dict[str, Any] = base | {
            "styles": ", ".join(style for _, style in found),
            "sentences": len(found),
        }
        if off:
            details["off_target"] = " / ".join(off)[:300]
        if not styled:
            return RowScore(0, NO_STYLE, details)
        return RowScore(0 if off else 1, WRONG_STYLE if off else CORRECT, details)

    def _by_length(
        self, rows: list[RowScore], lengths: list[int], unit: str
    ) -> list[dict[str, Any]]:
        """Success rate per input-length bucket (``<20``, ``20–39`` … ``≥160``)."""
        groups: dict[int, list[RowScore]] = {}
        for row, n in zip(rows, lengths, strict=True):
            groups.setdefault(sum(n >= edge for edge in self.buckets), []).append(row)
        out = []
        for index in sorted(groups):
            group = groups[index]
            successes = sum(row.match or 0 for row in group)
            out.append(
                {
                    "input_tokens": self._bucket_name(index),
                    "unit": unit,
                    "rows": len(group),
                    "successes": successes,
                    "success_rate": rate(successes, len(group)),
                }
            )
        return out

    def _bucket_name(self, index: int) -> str:
        edges = self.buckets
        if index == 0:
            return f"<{edges[0]}"
        if index == len(edges):
            return f"≥{edges[-1]}"
        return f"{edges[index - 1]}–{edges[index] - 1}"


def _metrics(
    rows: list[RowScore], styles: list[list[tuple[str, str]]], items: Sequence[Prediction]
) -> dict[str, float]:
    answered = [found for found, item in zip(styles, items, strict=True) if item.answer is not None]
    counts = Counter(style for found in answered for _, style in found)
    sentences = sum(counts.values())
    metrics = {
        "n": float(len(rows)),
        "success_rate": rate(sum(row.match or 0 for row in rows), len(rows)),
        "sentences": float(sentences),
        "generation_failed_rate": rate(
            sum(r.error_class == GENERATION_FAILED for r in rows), len(rows)
        ),
        "format_invalid_rate": rate(sum(r.error_class == FORMAT_INVALID for r in rows), len(rows)),
    }
    for style in (*SENTENCE_STYLES, UNKNOWN):
        metrics[f"share_{style}"] = rate(counts[style], sentences)
    return metrics
