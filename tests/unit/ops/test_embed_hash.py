"""hash-ko, the offline Korean embedder: unit vectors, determinism, morphology, weighting."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tunestudio.errors import ConfigError
from tunestudio.ops.embed_hash import HashKoOptions, KoreanHashEmbedder, char_ngrams, load_hash_ko


@pytest.fixture(scope="module")
def embedder() -> KoreanHashEmbedder:
    return KoreanHashEmbedder()


def cosine(embedder: KoreanHashEmbedder, a: str, b: str) -> float:
    first, second = embedder.embed([a, b])
    return math.fsum(x * y for x, y in zip(first, second, strict=True))


def test_unit_vectors_of_the_configured_length(embedder: KoreanHashEmbedder) -> None:
    vectors = embedder.embed(["환불했어요", "MYBOX 100GB 얼마예요?", "ㅠㅠ", "a"])
    assert all(len(v) == embedder.dimensions == 2048 for v in vectors)
    assert all(math.isclose(math.fsum(x * x for x in v), 1.0) for v in vectors)
    assert embedder.embed([]) == []
    assert load_hash_ko("hash-ko", dimensions=256).embed(["안녕"])[0].__len__() == 256


def test_a_text_without_letters_is_the_zero_vector(embedder: KoreanHashEmbedder) -> None:
    assert not any(embedder.embed(["?!..."])[0])


def test_same_text_same_vector_in_any_batch(embedder: KoreanHashEmbedder) -> None:
    alone = embedder.embed(["밴드 알림이 안 와요"])[0]
    assert alone == embedder.embed(["다른 문장", "밴드 알림이 안 와요"])[1]


def test_vectors_are_pinned(embedder: KoreanHashEmbedder) -> None:
    # MurmurHash3 (not Python's salted hash()) makes vectors the same in every process, and
    # stored cache vectors and measured thresholds rely on that: a change here is a breaking
    # change for every semantic cache built with hash-ko.
    assert embedder.features("환불해요") == pytest.approx(
        {"m:환불/N": 1.0}
        | {f"c:{g}": 1 / math.sqrt(5) for g in ("환불", "불해", "해요", "환불해", "불해요")}
    )
    vector = embedder.embed(["환불해요"])[0]
    nonzero = [(i, round(x, 6)) for i, x in enumerate(vector) if x]
    assert nonzero == [
        (298, -0.707107),
        (417, 0.316228),
        (667, -0.316228),
        (879, -0.316228),
        (1652, -0.316228),
        (1935, 0.316228),
    ]


def test_inflected_forms_share_their_morphemes(embedder: KoreanHashEmbedder) -> None:
    past, wish = embedder.features("환불했어요"), embedder.features("환불하고 싶어요")
    shared = {k for k in past if k.startswith("m:")} & {k for k in wish if k.startswith("m:")}
    assert shared == {"m:환불/N"}
    # particles and endings are not features: politeness does not move the vector
    assert embedder.features("사진을 복구해요")["m:사진/N"] > 0
    assert not any(k in embedder.features("사진을 복구해요") for k in ("m:을/J", "m:어요/E"))
    assert cosine(embedder, "환불했어요", "환불하고 싶어요") > cosine(
        embedder, "환불했어요", "배송이 늦어요"
    )


def test_paraphrase_closer_than_another_topic(embedder: KoreanHashEmbedder) -> None:
    same = cosine(embedder, "마이박스 용량 추가 가격이 궁금해요", "MYBOX 용량 늘리면 얼마예요?")
    other = cosine(embedder, "마이박스 용량 추가 가격이 궁금해요", "밴드 비밀번호를 잊어버렸어요")
    assert same > other + 0.1


def test_spacing_and_case_do_not_change_the_ngrams() -> None:
    options = HashKoOptions.model_validate({})
    assert char_ngrams("마이 박스", options) == char_ngrams("마이박스", options)
    assert char_ngrams("MYBOX!", options) == char_ngrams("mybox", options)
    assert char_ngrams("가", options) == ["가"]


def test_negators_and_numbers_weigh_more_than_their_length(embedder: KoreanHashEmbedder) -> None:
    plain = KoreanHashEmbedder(HashKoOptions.model_validate({"salient_weight": 1.0}))
    for a, b in [("알림이 와요", "알림이 안 와요"), ("3만 원 결제", "5만 원 결제")]:
        assert cosine(embedder, a, b) < cosine(plain, a, b)


def test_count_tokens_counts_all_morphemes(embedder: KoreanHashEmbedder) -> None:
    assert embedder.count_tokens(["환불했어요", ""]) == [4, 0]


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"dimensions": 3}, "dimensions"),
        ({"ngram_min": 4, "ngram_max": 2}, "ngram_min"),
        ({"size": 10}, "size"),
    ],
)
def test_bad_options_are_config_errors(options: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=field) as caught:
        load_hash_ko("hash-ko", **options)
    assert caught.value.where == "options of hash-ko"


def test_hashing_is_scikit_learns_feature_hasher(embedder: KoreanHashEmbedder) -> None:
    # The per-feature hashing must give exactly what FeatureHasher gives (stored vectors and
    # thresholds were measured with it), on Korean, Latin, digits and mixed texts.
    from sklearn.feature_extraction import FeatureHasher

    texts = [
        "결제가 두 번 됐어요. 환불되나요?",
        "네이버페이 포인트 3만 원이 안 들어왔어요",
        "MYBOX 100GB 요금제 해지하고 싶어요",
        "웹툰 쿠키 결제 취소 가능한가요?? ㅠㅠ",
        "a",
    ]
    hasher = FeatureHasher(n_features=embedder.dimensions, input_type="dict")
    dense = hasher.transform([embedder.features(t) for t in texts]).toarray()
    expected = dense / np.linalg.norm(dense, axis=1, keepdims=True)
    assert np.allclose(embedder.embed_array(texts), expected, atol=1e-12)
