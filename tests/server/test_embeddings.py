"""Embeddings over HTTP: OpenAI's /v1/embeddings through the official SDK, CLOVA's embedding
v2 tool, and the errors for what the server does not do."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.server.live_app import MODEL, LiveApp, sdk
from tunestudio.config import Settings
from tunestudio.ops import load_embedder
from tunestudio.server import ModelEntry, ServerConfig, build_app

EMBED = "bge-m3"
TEXTS = ["배송이 언제 오나요?", "환불은 어떻게 받나요?", "오늘 날씨가 맑습니다."]


@pytest.fixture(scope="module")
def live(llama_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    """A chat model and, from the same directory, an embedding model named bge-m3."""
    spec = f"hf:{llama_dir}"
    models = [
        ModelEntry(name=MODEL, spec=spec),
        ModelEntry(name=EMBED, spec=spec, kind="embedding"),
    ]
    settings = Settings(home=tmp_path_factory.mktemp("embed-home"))
    with LiveApp(build_app(ServerConfig(models=models, worker=False), settings=settings)) as app:
        yield app


@pytest.fixture(scope="module")
def client(live: LiveApp) -> openai.OpenAI:
    return sdk(live)


def embed(client: openai.OpenAI, texts: str | list[str]) -> list[list[float]]:
    answer = client.embeddings.create(model=EMBED, input=texts, encoding_format="float")
    return [item.embedding for item in sorted(answer.data, key=lambda item: item.index)]


def test_sdk_round_trip_gives_unit_vectors_of_the_model_size(client: openai.OpenAI) -> None:
    answer = client.embeddings.create(model=EMBED, input=TEXTS, encoding_format="float")
    assert answer.model == EMBED and [item.index for item in answer.data] == [0, 1, 2]
    for item in answer.data:
        assert len(item.embedding) == 32  # the fixture Llama's hidden size
        assert math.isclose(math.fsum(x * x for x in item.embedding), 1.0, rel_tol=1e-5)
    assert answer.usage.prompt_tokens == answer.usage.total_tokens > len(TEXTS)


def test_same_text_same_vector_and_different_texts_differ(client: openai.OpenAI) -> None:
    first, again = embed(client, TEXTS[0])[0], embed(client, TEXTS[0])[0]
    assert first == again
    vectors = embed(client, TEXTS)
    assert all(vectors[i] != vectors[j] for i in range(3) for j in range(i + 1, 3))


def test_batch_equals_singles(client: openai.OpenAI) -> None:
    batch = embed(client, TEXTS)  # texts of different lengths: padding must not leak in
    for text, vector in zip(TEXTS, batch, strict=True):
        assert embed(client, text)[0] == pytest.approx(vector, abs=1e-5)


def test_same_as_the_embedder_in_process(client: openai.OpenAI, llama_dir: Path) -> None:
    embedder = load_embedder(f"hf:{llama_dir}")
    assert embed(client, TEXTS[1])[0] == pytest.approx(embedder.embed([TEXTS[1]])[0], abs=1e-6)


def test_sdk_default_base64_decodes_to_the_float_vectors(client: openai.OpenAI) -> None:
    default = client.embeddings.create(model=EMBED, input=TEXTS)  # the SDK asks for base64
    floats = embed(client, TEXTS)
    for item, vector in zip(default.data, floats, strict=True):
        assert item.embedding == pytest.approx(vector, abs=1e-6)


def test_openai_prefix_of_clova_also_embeds(live: LiveApp) -> None:
    answer = sdk(live, prefix="/v1/openai").embeddings.create(
        model=EMBED, input="안녕", encoding_format="float"
    )
    assert len(answer.data[0].embedding) == 32


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"encoding_format": "hex"}, "encoding_format='float' or 'base64'"),
        ({"dimensions": 1024, "encoding_format": "float"}, "its vectors have 32"),
        ({"input": [[1, 2, 3]], "encoding_format": "float"}, "token-id input"),
        ({"input": ["ok", " "], "encoding_format": "float"}, "input.1"),
    ],
)
def test_refused_requests_say_why(client: openai.OpenAI, options: dict, words: str) -> None:
    request = {"model": EMBED, "input": "안녕"} | options
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(**request)
    assert words in str(caught.value)


def test_unknown_model_is_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="nope", input="안녕", encoding_format="float")


def test_the_wrong_kind_of_model_is_404_with_a_reason(client: openai.OpenAI) -> None:
    # OpenAI answers 404 model_not_supported when a model cannot serve the endpoint.
    with pytest.raises(openai.NotFoundError, match="is a chat model"):
        client.embeddings.create(model=MODEL, input="안녕", encoding_format="float")
    with pytest.raises(openai.NotFoundError, match="is an embedding model"):
        client.chat.completions.create(model=EMBED, messages=[{"role": "user", "content": "hi"}])


def test_clova_embedding_v2_in_the_envelope(live: LiveApp, client: openai.OpenAI) -> None:
    for path in (
        "/v1/api-tools/embedding/v2",
        "/v1/api-tools/embedding/v2/",
        "/v1/api-tools/embedding/v2/app1",
        "/testapp/v1/api-tools/embedding/v2",
    ):
        body = httpx.post(live.url + path, json={"text": TEXTS[0]}).json()
        assert body["status"] == {"code": "20000", "message": "OK"}
        assert body["result"]["embedding"] == pytest.approx(embed(client, TEXTS[0])[0], abs=1e-6)
        assert body["result"]["inputTokens"] > 1
    tokens = httpx.post(live.url + "/v1/api-tools/embedding/v2/tokenize", json={"text": TEXTS[0]})
    assert tokens.json()["result"]["numTokens"] == body["result"]["inputTokens"]


def test_clova_embedding_v2_errors(live: LiveApp, start) -> None:  # type: ignore[no-untyped-def]
    empty = httpx.post(live.url + "/v1/api-tools/embedding/v2", json={"text": "  "})
    assert empty.status_code == 400 and empty.json()["status"]["code"] == "40004"
    chat_only = start()  # the default config: one chat model and no embedding model
    none = httpx.post(chat_only.url + "/v1/api-tools/embedding/v2", json={"text": "안녕"})
    assert none.status_code == 400 and none.json()["status"]["code"] == "40084"
    assert "kind: embedding" in none.json()["status"]["message"]


def test_a_remote_spec_cannot_embed() -> None:
    from tunestudio.errors import ModelError

    with pytest.raises(ModelError, match="is a chat model; it cannot embed"):
        load_embedder("clova:HCX-005")
