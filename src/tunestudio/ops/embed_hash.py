"""``hash-ko``: an offline Korean embedder from morphemes and character n-grams, no model file.

Korean glues particles and endings onto words (환불했어요, 환불하고 싶어요), so word-level
features miss most overlaps. Each text gives two kinds of features:

- **morphemes** from Kiwi (kiwipiepy, already a dependency): content morphemes only — nouns,
  verb and adjective stems, adverbs, roots, foreign words and numbers (환불/N, 싶/V, 안/M,
  없/V, 10,000/S). Particles and endings (이/가, -어요, -습니다) are dropped, so register and
  politeness do not move the vector; negators (안, 못, 않, 없) are content and stay.
- **character 2- and 3-grams** of the text with spacing, punctuation and Latin case folded
  away (``loose_key``), which survive typos, missing spaces and words Kiwi splits oddly.

Counts are damped (1 + log tf, as TF-IDF's sublinear tf), each kind is scaled so both weigh the
same whatever the text length (numbers and negators get extra weight, below), then hashed into
``dimensions`` buckets and L2-normalised. The hashing is scikit-learn's ``FeatureHasher``'s, done
per feature with its own MurmurHash3 (:func:`sklearn.utils.murmurhash3_32`: the same in every
process and version; the sign of the hash alternates the value's sign so collisions cancel out
on average) and cached per feature: the hasher's sparse-matrix round trip cost twice as much as
the features themselves on a one-question call, which is the semantic cache's every lookup. The cosine of two vectors is then the weighted
overlap of their features. No IDF: it would need a corpus, and this embedder must work on the
first text it sees.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tunestudio.config import validate_model
from tunestudio.data.normalize import loose_key, nfc

HASH_KO = "hash-ko"
# Content morphemes by the first letter of their Sejong tag: N (nouns), V (VV, VA, VX, VCN —
# VCP, the copula 이다, is dropped below), M (adverbs: 안, 못, 전혀), X (roots, XR only),
# S (SL foreign words, SN numbers, SH hanja).
_KEPT_TAGS = frozenset(("NNG", "NNP", "NNB", "NR", "NP", "VV", "VA", "VX", "VCN", "MAG", "XR"))
_KEPT_TAGS |= frozenset(("SL", "SN", "SH"))
# Morphemes that flip or pin down the meaning while adding only a character or two: numbers
# and the negators. Without extra weight, "환불이 돼요" and "환불이 안 돼요" share nearly all
# their features.
_NEGATORS = frozenset((("안", "MAG"), ("못", "MAG"), ("않", "VX"), ("없", "VA"), ("말", "VX")))


class HashKoOptions(BaseModel):
    """What ``load_embedder("hash-ko", **options)`` accepts."""

    model_config = ConfigDict(extra="forbid")

    dimensions: int = Field(2048, ge=64, le=1 << 20, description="vector length (hash buckets)")
    ngram_min: int = Field(2, ge=1, le=5, description="shortest character n-gram")
    ngram_max: int = Field(3, ge=1, le=6, description="longest character n-gram")
    morpheme_weight: float = Field(
        1.0, ge=0, description="weight of the morphemes against the character n-grams (1.0)"
    )
    salient_weight: float = Field(
        3.0, ge=0, description="extra weight of numbers and negators (안, 못, 않, 없, 말)"
    )

    @model_validator(mode="after")
    def _ngram_range(self) -> HashKoOptions:
        if self.ngram_min > self.ngram_max:
            raise ValueError(f"ngram_min {self.ngram_min} is above ngram_max {self.ngram_max}")
        return self


class KoreanHashEmbedder:
    """Hashed Kiwi morphemes + character n-grams; deterministic, thread-safe, no model files."""

    # A text has tens of features out of thousands of buckets: the semantic cache searches such
    # vectors by their nonzero buckets (cache_index.SparseIndex) instead of whole rows.
    sparse = True

    def __init__(self, options: HashKoOptions | None = None, *, name: str = HASH_KO) -> None:
        self._options = options or HashKoOptions.model_validate({})
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimensions(self) -> int:
        return self._options.dimensions

    def features(self, text: str) -> dict[str, float]:
        """The weighted features of one text, before hashing (``m:`` morphemes, ``c:`` n-grams)."""
        morphemes: Counter[str] = Counter()
        salient: set[str] = set()
        for form, tag in self._morphemes(text):
            key = f"m:{form}/{tag[0]}"
            morphemes[key] += 1
            if tag == "SN" or (form, tag) in _NEGATORS:
                salient.add(key)
        boost = dict.fromkeys(salient, self._options.salient_weight)
        weights = _damped(morphemes, self._options.morpheme_weight, boost)
        grams = Counter(f"c:{g}" for g in char_ngrams(text, self._options))
        weights.update(_damped(grams, 1.0, {}))
        return weights

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit-length vector per text (the zero vector for a text with no features)."""
        rows: list[list[float]] = self.embed_array(texts).tolist()
        return rows

    def embed_array(self, texts: Sequence[str]) -> np.ndarray:
        """:meth:`embed` as a float64 array of shape (len(texts), dimensions)."""
        size = self.dimensions
        dense = np.zeros((len(texts), size))
        for row, text in enumerate(texts):
            features = self.features(text)
            if not features:
                continue
            slots = [hashed(feature, size) for feature in features]
            buckets = [bucket for bucket, _ in slots]
            values = [
                sign * value for (_, sign), value in zip(slots, features.values(), strict=True)
            ]
            # colliding features add up, as in FeatureHasher
            dense[row] = np.bincount(buckets, weights=values, minlength=size)
        # einsum, not np.linalg.norm: the same sums at a fraction of the per-call overhead
        norms = np.sqrt(np.einsum("ij,ij->i", dense, dense))[:, None]
        result: np.ndarray = dense / np.where(norms == 0, 1.0, norms)
        return result

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Kiwi morphemes per text (all of them, particles and endings included)."""
        from tunestudio.korean import tokens

        return [len(tokens(nfc(text))) for text in texts]

    def close(self) -> None:
        """Nothing to free: Kiwi is shared by the process and stays loaded."""

    def _morphemes(self, text: str) -> list[tuple[str, str]]:
        from tunestudio.korean import tokens

        return [(t.form.casefold(), t.tag) for t in tokens(nfc(text)) if t.tag in _KEPT_TAGS]


@lru_cache(maxsize=1 << 16)
def hashed(feature: str, buckets: int) -> tuple[int, float]:
    """The bucket and sign scikit-learn's ``FeatureHasher(alternate_sign=True)`` gives a feature.

    Same arithmetic as its Cython loop: the signed 32-bit MurmurHash3 of the UTF-8 feature with
    seed 0; bucket ``abs(h) % buckets`` (with its special case for ``h = -2**31``), sign of ``h``.
    """
    from sklearn.utils import murmurhash3_32

    h = int(murmurhash3_32(feature, seed=0))
    bucket = (2**31 - 1 - (buckets - 1)) % buckets if h == -(2**31) else abs(h) % buckets
    return bucket, 1.0 if h >= 0 else -1.0


def char_ngrams(text: str, options: HashKoOptions) -> list[str]:
    """Character n-grams of the text with spaces, punctuation and Latin case folded away.

    A text shorter than the shortest n-gram gives itself, so no non-empty text is featureless.
    """
    folded = loose_key(text)
    grams = [
        folded[i : i + n]
        for n in range(options.ngram_min, options.ngram_max + 1)
        for i in range(len(folded) - n + 1)
    ]
    return grams or ([folded] if folded else [])


def _damped(counts: Counter[str], weight: float, boost: dict[str, float]) -> dict[str, float]:
    """(1 + log tf) × boost per feature, scaled to length ``weight`` (so neither kind of
    feature outweighs the other, whatever the text's length)."""
    damped = {key: (1.0 + math.log(n)) * boost.get(key, 1.0) for key, n in counts.items()}
    norm = math.sqrt(sum(v * v for v in damped.values()))
    return {key: weight * v / norm for key, v in damped.items()} if norm else {}


def load_hash_ko(name: str, **options: Any) -> KoreanHashEmbedder:
    """``hash-ko`` with options (see :class:`HashKoOptions`); a bad one is a ConfigError."""
    opts = validate_model(HashKoOptions, options, f"options of {name}")
    return KoreanHashEmbedder(opts, name=name)
