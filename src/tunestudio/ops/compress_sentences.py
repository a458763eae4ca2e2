"""Sentence-level, query-aware prompt compression: keep the sentences that matter to the query.

A long system prompt or context is split into sentences (kiwipiepy ``split_into_sents``, line
by line, so a line break always ends a sentence). Each sentence is scored by its relevance to
the query (the last user message):

* by default with TF-IDF over content morphemes (nouns, verb and adjective stems, roots,
  foreign words, numbers) — scikit-learn's ``TfidfVectorizer`` fed Kiwi's morphemes, so
  "결제를" and "결제가" are one term, which a character or whitespace tokenizer would miss;
* or, given an :class:`~tunestudio.ops.embeddings.Embedder`, by cosine similarity of the
  sentence and query vectors (paraphrases such as 마이박스 ≈ MYBOX that share no morpheme).

Sentences that match a ``keep`` pattern (the label list, the output format) are always kept. The rest are taken best first (ties: earlier first) while they fit the budget, then put
back in their original order and lines, so the prompt still reads top to bottom.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tunestudio.ops.compress_tokens import kiwi, kiwi_lock

if TYPE_CHECKING:
    from tunestudio.ops.embeddings import Embedder

Measure = Callable[[str], int]
CONTENT_TAGS = frozenset({"NNG", "NNP", "VV", "VA", "XR", "SL", "SH", "SN"})


@dataclass(frozen=True)
class Unit:
    """One sentence: its line, its text, its content morphemes, what it costs, whether kept."""

    line: int
    text: str
    terms: tuple[str, ...]
    cost: int
    keep: bool


@dataclass
class Prepared:
    """A text split and measured once, then selected from for many queries."""

    units: list[Unit]
    line_count: int
    index: TfidfIndex | None = None  # filled on first use
    vectors: list[list[float]] | None = None  # embedder vectors, filled on first use


def morphemes(texts: Sequence[str]) -> list[tuple[str, ...]]:
    """The content morphemes of each text (``form/tag`` of nouns, stems, roots, numbers)."""
    with kiwi_lock:
        analysed = list(kiwi().tokenize(list(texts)))
    return [
        tuple(f"{t.form}/{t.tag[:2]}" for t in tokens if t.tag in CONTENT_TAGS)
        for tokens in analysed
    ]


class SentenceSelector:
    """Keeps the sentences most relevant to a query within a budget (module docs)."""

    def __init__(
        self,
        *,
        measure: Measure = len,
        keep: Sequence[str] = (),
        embedder: Embedder | None = None,
    ) -> None:
        """``measure`` sizes a text (characters or the target model's tokens); ``keep``:
        regexes of sentences always kept; ``embedder``: score by vectors instead of TF-IDF."""
        self.measure = measure
        self._keep = re.compile("|".join(f"(?:{p})" for p in keep)) if keep else None
        self.embedder = embedder

    def prepare(self, text: str) -> Prepared:
        """Split ``text`` into sentences and measure each (the part worth caching)."""
        lines = text.split("\n")
        spans: list[tuple[int, str, bool]] = []
        for number, line in enumerate(lines):
            if not line.strip():
                continue
            with kiwi_lock:
                sentences = kiwi().split_into_sents(line)
            spans += [(number, s.text, self._kept(s.text)) for s in sentences if s.text.strip()]
        terms = morphemes([text for _, text, _ in spans])
        units = [
            Unit(number, sentence, words, self.measure(sentence), keep)
            for (number, sentence, keep), words in zip(spans, terms, strict=True)
        ]
        return Prepared(units, len(lines))

    def _kept(self, sentence: str) -> bool:
        return bool(self._keep and self._keep.search(sentence))

    def select(self, prepared: Prepared, query: str, budget: int) -> str:
        """The sentences of ``prepared`` that fit ``budget``, most relevant to ``query`` first,
        rendered in their original order and lines."""
        units = prepared.units
        chosen = {i for i, unit in enumerate(units) if unit.keep}
        # Each sentence also costs the space or line break that joins it (a character, or
        # about one token).
        spent = sum(units[i].cost + 1 for i in chosen)
        scores = self.scores(prepared, query)
        ranked = sorted(range(len(units)), key=lambda i: (-scores[i], i))
        for index in ranked:
            if index not in chosen and spent + units[index].cost + 1 <= budget:
                chosen.add(index)
                spent += units[index].cost + 1
        return self._within(prepared, chosen, ranked, budget)

    def _within(self, prepared: Prepared, chosen: set[int], ranked: list[int], budget: int) -> str:
        """Render, dropping the least relevant chosen sentences while the sum of the parts
        misjudged the whole (a tokenizer can merge across a join)."""
        text = render(prepared, chosen)
        for index in reversed(ranked):
            if self.measure(text) <= budget:
                break
            if index in chosen and not prepared.units[index].keep:
                chosen.discard(index)
                text = render(prepared, chosen)
        return text

    def scores(self, prepared: Prepared, query: str) -> list[float]:
        """Relevance of each sentence to ``query`` (0 for every sentence when it is empty)."""
        if not query.strip() or not prepared.units:
            return [0.0] * len(prepared.units)
        if self.embedder is not None:
            return self._embedding_scores(prepared, query)
        if prepared.index is None:
            prepared.index = TfidfIndex([u.terms for u in prepared.units])
        return prepared.index.scores(morphemes([query])[0])

    def _embedding_scores(self, prepared: Prepared, query: str) -> list[float]:
        assert self.embedder is not None
        if prepared.vectors is None:
            prepared.vectors = self.embedder.embed([u.text for u in prepared.units])
        wanted = self.embedder.embed([query])[0]
        return [sum(a * b for a, b in zip(v, wanted, strict=True)) for v in prepared.vectors]


class TfidfIndex:
    """TF-IDF vectors of documents given as term lists, fitted once, for many queries."""

    def __init__(self, documents: Sequence[Sequence[str]]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.empty = not any(documents)
        # The documents are already term lists: the analyzer passes them through.
        self.vectorizer = TfidfVectorizer(analyzer=_identity, sublinear_tf=True)
        self.matrix = None if self.empty else self.vectorizer.fit_transform(list(documents))
        self.size = len(documents)

    def scores(self, query: Sequence[str]) -> list[float]:
        """Cosine similarity of ``query`` to each document (the vectors are unit length)."""
        if self.matrix is None or not query:
            return [0.0] * self.size
        wanted = self.vectorizer.transform([list(query)])
        return [float(x) for x in (self.matrix @ wanted.T).toarray().ravel()]


def tfidf_scores(documents: Sequence[Sequence[str]], query: Sequence[str]) -> list[float]:
    """Cosine similarity of ``query`` to each document, both as TF-IDF vectors over terms."""
    return TfidfIndex(documents).scores(query)


def _identity(terms: Sequence[str]) -> Sequence[str]:
    return terms


def render(prepared: Prepared, chosen: set[int]) -> str:
    """The chosen sentences in order, sentences of one line joined by a space."""
    lines: dict[int, list[str]] = {}
    for index, unit in enumerate(prepared.units):
        if index in chosen:
            lines.setdefault(unit.line, []).append(unit.text)
    return "\n".join(" ".join(lines[number]) for number in sorted(lines))
