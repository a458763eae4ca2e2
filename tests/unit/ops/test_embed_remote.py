"""clova-embed:v2 and openai:…#model as embedders, against the project's own server.

The server serves a random Llama as the embedding model ``bge-m3`` (mean-pooled, 32-d), so the
remote vectors must equal the in-process HFEmbedder's for the same text.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.model_fixtures import build_random_llama
from tests.server.live_app import LiveApp
from tunestudio.config import Settings
from tunestudio.errors import ModelAuthError, ModelError, ModelRequestError
from tunestudio.ops.embed_remote import ClovaEmbedder, OpenAIEmbedder
from tunestudio.ops.embeddings import HFEmbedder, load_embedder
from tunestudio.server import ModelEntry, ServerConfig, build_app

TEXTS = ["배송이 언제 오나요?", "환불은 어떻게 받나요?", "오늘 날씨가 맑습니다.", "안녕"]


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_random_llama(tmp_path_factory.mktemp("embed-llama"))


@pytest.fixture(scope="module")
def server(llama: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    entry = ModelEntry(name="bge-m3", spec=f"hf:{llama}", kind="embedding")
    config = ServerConfig(models=[entry], worker=False)
    settings = Settings(home=tmp_path_factory.mktemp("embed-remote-home"))
    with LiveApp(build_app(config, settings=settings)) as app:
        yield app


@pytest.fixture(scope="module")
def local(llama: Path) -> Iterator[HFEmbedder]:
    embedder = load_embedder(f"hf:{llama}")
    assert isinstance(embedder, HFEmbedder)
    yield embedder
    embedder.close()


def same(got: list[list[float]], expected: list[list[float]]) -> bool:
    return len(got) == len(expected) and all(
        g == pytest.approx(e, abs=1e-5) for g, e in zip(got, expected, strict=True)
    )


def unit(vector: list[float]) -> bool:
    return math.isclose(math.fsum(x * x for x in vector), 1.0, rel_tol=1e-6)


def test_clova_embedding_v2(server: LiveApp, local: HFEmbedder) -> None:
    embedder = load_embedder("clova-embed:v2", base_url=server.url, api_key="nv-test")
    assert isinstance(embedder, ClovaEmbedder)
    vectors = embedder.embed(TEXTS)  # one call per text, several in flight
    assert same(vectors, local.embed(TEXTS))
    assert embedder.dimensions == 32 and all(unit(v) for v in vectors)
    assert embedder.count_tokens(TEXTS) == local.count_tokens(TEXTS)
    assert embedder.embed([]) == []
    embedder.close()


def test_clova_legacy_app_prefix_and_dimensions_before_any_call(server: LiveApp) -> None:
    embedder = load_embedder(
        "clova-embed:v2", base_url=server.url, api_key="nv-test", app="testapp"
    )
    assert embedder.dimensions == 32  # learned from one probe call


def test_openai_embeddings(server: LiveApp, local: HFEmbedder) -> None:
    embedder = load_embedder(f"openai:{server.url}/v1#bge-m3", batch_size=3, api_key="sk-x")
    assert isinstance(embedder, OpenAIEmbedder)
    vectors = embedder.embed(TEXTS)  # two requests: 3 texts, then 1
    assert same(vectors, local.embed(TEXTS))
    assert embedder.dimensions == 32 and all(unit(v) for v in vectors)
    assert embedder.count_tokens(["abcd", "안녕"]) == [1, 2]  # the estimate: 4 ASCII = 1


def test_openai_unknown_model_is_a_request_error(server: LiveApp) -> None:
    embedder = load_embedder(f"openai:{server.url}/v1#nope", max_retries=0)
    with pytest.raises(ModelRequestError, match="404") as caught:
        embedder.embed(["안녕"])
    assert caught.value.where == f"openai:{server.url}/v1#nope"


def test_clova_refusal_is_a_typed_error(server: LiveApp) -> None:
    embedder = load_embedder("clova-embed:v2", base_url=server.url, api_key="nv-test")
    with pytest.raises(ModelRequestError, match="answered 40004") as caught:
        embedder.embed(["   "])
    assert caught.value.where == "clova-embed:v2"


def test_clova_needs_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CLOVASTUDIO_API_KEY", "CLOVASTUDIO_LEGACY_API_KEY", "CLOVASTUDIO_CLIENT_ID"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ModelAuthError, match="no CLOVA Studio credentials"):
        load_embedder("clova-embed:v2")


def test_clova_unknown_model_lists_the_real_ones() -> None:
    with pytest.raises(ModelError, match="no embedding model 'v3'") as caught:
        load_embedder("clova-embed:v3", api_key="nv-test")
    assert "clova-embed:v2" in (caught.value.hint or "")


def test_the_server_serves_hash_ko(tmp_path: Path) -> None:
    # serve.yaml may name any embedder spec for kind: embedding, e.g. the offline default
    entry = ModelEntry(name="bge-m3", spec="hash-ko", kind="embedding", options={"dimensions": 256})
    app = build_app(ServerConfig(models=[entry], worker=False), settings=Settings(home=tmp_path))
    with LiveApp(app) as live:
        remote = load_embedder("clova-embed:v2", base_url=live.url, api_key="nv-test")
        expected = load_embedder("hash-ko", dimensions=256).embed(TEXTS)
        assert same(remote.embed(TEXTS), expected) and remote.dimensions == 256
        remote.close()
