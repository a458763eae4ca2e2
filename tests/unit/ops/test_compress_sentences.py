"""Query-aware sentence selection: the relevant sentences and the rule lines, in order."""

from __future__ import annotations

import math
from collections.abc import Sequence

from tunestudio.ops.compress_sentences import SentenceSelector, morphemes, tfidf_scores

RULES = "- 카테고리: 결제, 가격, 보안 중 하나를 출력하세요."
POLICY = "\n".join(
    [
        RULES,
        "무료 이용자에게는 기본 30GB가 제공됩니다. 추가 용량은 월 1,650원부터 구매할 수 있습니다.",
        "결제 후 7일 이내라면 전액 환불이 가능합니다. 환불 처리에는 3일 정도가 걸립니다.",
        "해킹이 의심되면 즉시 비밀번호를 바꾸세요.",
    ]
)


def test_the_sentences_about_the_query_are_kept_in_their_order_with_the_rule_line() -> None:
    selector = SentenceSelector(keep=["카테고리"])
    prepared = selector.prepare(POLICY)
    budget = len(RULES) + 60  # room for the rules and two short sentences

    out = selector.select(prepared, "환불을 받고 싶은데 처리 기간이 얼마나 걸리나요?", budget)

    lines = out.split("\n")
    assert lines[0] == RULES  # kept whatever its score
    assert (
        lines[1]
        == "결제 후 7일 이내라면 전액 환불이 가능합니다. 환불 처리에는 3일 정도가 걸립니다."
    )
    assert len(lines) == 2 and len(out) <= budget


def test_a_different_query_picks_different_sentences() -> None:
    selector = SentenceSelector(keep=["카테고리"])
    prepared = selector.prepare(POLICY)

    out = selector.select(prepared, "비밀번호가 해킹된 것 같아요", len(RULES) + 30)

    assert out == RULES + "\n해킹이 의심되면 즉시 비밀번호를 바꾸세요."


def test_without_a_query_the_earliest_sentences_fill_the_budget() -> None:
    selector = SentenceSelector()
    prepared = selector.prepare(POLICY)
    # Each sentence is budgeted with the one character that joins it to the next.
    assert selector.select(prepared, "", len(RULES) + 1) == RULES
    assert selector.select(prepared, "", 10**6) == POLICY  # a budget that fits keeps everything


def test_sentences_are_measured_by_the_given_measure() -> None:
    selector = SentenceSelector(measure=lambda text: len(text.split()))
    prepared = selector.prepare(POLICY)
    assert [u.cost for u in prepared.units][:2] == [len(RULES.split()), 5]


def test_tfidf_matches_inflected_forms_through_morphemes() -> None:
    docs = morphemes(["결제가 실패했습니다.", "사진이 올라가지 않습니다."])
    scores = tfidf_scores(docs, morphemes(["결제를 다시 하고 싶어요"])[0])
    assert scores[0] > 0 and scores[1] == 0  # 결제가 / 결제를 are one term


class LetterEmbedder:
    """A real, if crude, Embedder: normalised counts of each Hangul syllable block's initial."""

    name = "letters"
    dimensions = 19

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = []
        for text in texts:
            counts = [0.0] * self.dimensions
            for char in text:
                if "가" <= char <= "힣":
                    counts[(ord(char) - ord("가")) // 588] += 1
            norm = math.sqrt(sum(c * c for c in counts)) or 1.0
            vectors.append([c / norm for c in counts])
        return vectors

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(t) for t in texts]

    def close(self) -> None:
        return None


def test_an_embedder_scores_sentences_by_vector_similarity() -> None:
    embedder = LetterEmbedder()
    selector = SentenceSelector(embedder=embedder)
    prepared = selector.prepare(POLICY)
    query = "해킹이 의심되면 비밀번호"

    scores = selector.scores(prepared, query)

    best = max(range(len(scores)), key=scores.__getitem__)
    assert prepared.units[best].text == "해킹이 의심되면 즉시 비밀번호를 바꾸세요."
    assert prepared.vectors is not None  # the sentence vectors are computed once and kept
