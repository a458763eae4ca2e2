"""CLOVA's segmentation tool over HTTP, on real Korean paragraphs: by sizes and blank lines
without an embedding model, by sentence-embedding similarity with one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.live_app import MODEL, LiveApp
from tunestudio.config import Settings
from tunestudio.server import ModelEntry, ServerConfig, build_app

DELIVERY = (
    "주문한 상품은 보통 이틀 안에 도착합니다. 제주와 도서 지역은 하루 이틀 더 걸립니다. "
    "배송 조회는 주문 내역에서 할 수 있습니다."
)
REFUND = "환불은 상품을 받은 뒤 7일 안에 신청하세요. 반품 상품이 확인되면 사흘 안에 환불됩니다."
TEXT = f"{DELIVERY}\n\n{REFUND}"
SENTENCES = [
    "주문한 상품은 보통 이틀 안에 도착합니다.",
    "제주와 도서 지역은 하루 이틀 더 걸립니다.",
    "배송 조회는 주문 내역에서 할 수 있습니다.",
    "환불은 상품을 받은 뒤 7일 안에 신청하세요.",
    "반품 상품이 확인되면 사흘 안에 환불됩니다.",
]
PATH = "/v1/api-tools/segmentation"


@pytest.fixture(scope="module")
def servers(llama_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Two servers: ``plain`` serves only a chat model, ``embed`` also an embedding model."""
    spec = f"hf:{llama_dir}"
    configs = {
        "plain": [ModelEntry(name=MODEL, spec=spec)],
        "embed": [
            ModelEntry(name=MODEL, spec=spec),
            ModelEntry(name="e5", spec=spec, kind="embedding"),
        ],
    }
    apps = {
        name: LiveApp(
            build_app(
                ServerConfig(models=models, worker=False),
                settings=Settings(home=tmp_path_factory.mktemp(name)),
            )
        ).__enter__()
        for name, models in configs.items()
    }
    yield {name: app.url for name, app in apps.items()}
    for app in apps.values():
        app.__exit__()


def segment(url: str, path: str = PATH, **body: Any) -> dict[str, Any]:
    answer = httpx.post(url + path, json={"text": TEXT} | body, timeout=60)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"]["code"] == "20000"
    result: dict[str, Any] = answer.json()["result"]
    return result


def covers_in_order(result: dict[str, Any], count: int) -> bool:
    flat = [i for span in result["span"] for i in span]
    joined = [s for seg in result["topicSeg"] for s in seg]
    return flat == list(range(count)) and joined == SENTENCES[:count] and all(result["span"])


def test_blank_lines_break_paragraphs_without_an_embedder(servers: dict[str, str]) -> None:
    result = segment(servers["plain"])
    assert result["span"] == [[0, 1, 2], [3, 4]]
    assert result["topicSeg"] == [SENTENCES[:3], SENTENCES[3:]]
    assert result["inputTokens"] > len(SENTENCES)  # Kiwi morphemes, several per sentence


def test_seg_cnt_without_an_embedder_cuts_equal_parts(servers: dict[str, str]) -> None:
    result = segment(servers["plain"], segCnt=3)
    assert len(result["span"]) == 3 and covers_in_order(result, 5)


def test_post_process_keeps_paragraphs_within_max_size(servers: dict[str, str]) -> None:
    result = segment(
        servers["plain"], postProcess=True, postProcessMaxSize=50, postProcessMinSize=0
    )
    assert covers_in_order(result, 5)
    assert all(sum(len(s) for s in seg) <= 50 for seg in result["topicSeg"])
    assert len(result["span"]) > 2  # the blank-line paragraphs were split further


def test_post_process_merges_small_paragraphs(servers: dict[str, str]) -> None:
    result = segment(servers["plain"], postProcess=True, postProcessMinSize=200)
    assert result["span"] == [[0, 1, 2, 3, 4]]  # both under 200 characters, together ≤ 1000


def test_with_an_embedder_seg_cnt_is_honoured(servers: dict[str, str]) -> None:
    for count in (1, 2, 4):
        result = segment(servers["embed"], segCnt=count)
        assert len(result["span"]) == count and covers_in_order(result, 5)


def test_with_an_embedder_higher_alpha_gives_no_fewer_paragraphs(servers: dict[str, str]) -> None:
    counts = [len(segment(servers["embed"], alpha=alpha)["span"]) for alpha in (-1.5, 0.0, 1.5)]
    assert counts == sorted(counts)
    auto = segment(servers["embed"], alpha=-100)
    assert covers_in_order(auto, 5)
    assert auto["inputTokens"] > len(SENTENCES)  # the embedding model's tokens


def test_app_id_and_prefix_paths(servers: dict[str, str]) -> None:
    url = servers["plain"]
    for path in (f"{PATH}/my-app", f"/testapp{PATH}", f"/serviceapp{PATH}/x"):
        assert segment(url, path)["span"] == [[0, 1, 2], [3, 4]]


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        ({"text": " \n "}, "40004", "text is empty"),
        ({"alpha": 3}, "40001", "alpha"),
        ({"segCnt": 0}, "40001", "segCnt"),
        ({"postProcessMinSize": 2000}, "40001", "postProcessMinSize"),
    ],
)
def test_bad_requests_in_the_clova_envelope(
    servers: dict[str, str], body: dict[str, Any], code: str, words: str
) -> None:
    answer = httpx.post(servers["plain"] + PATH, json={"text": TEXT} | body)
    assert answer.status_code == 400
    assert answer.json()["status"]["code"] == code and words in answer.json()["status"]["message"]


def test_long_text_is_packed_to_the_max_size(servers: dict[str, str]) -> None:
    text = " ".join([DELIVERY, REFUND] * 20)  # one line, 100 sentences
    body = httpx.post(servers["plain"] + PATH, json={"text": text, "postProcessMaxSize": 300})
    result = body.json()["result"]
    assert [i for span in result["span"] for i in span] == list(range(100))
    assert all(sum(len(s) for s in seg) <= 300 for seg in result["topicSeg"])
