"""The router stage and its history, over small test models and a character-count embedder."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.unit.ops.cascade_doubles import DictModel, ask
from tunestudio.data.table import write_table
from tunestudio.errors import ConfigError, DataError
from tunestudio.ops.router import Router
from tunestudio.ops.router_history import History, history_from_scored

ALPHABET = "가나다라마바사아자차"


class CharEmbedder:
    """Counts of a few Hangul syllables, normalised: texts sharing syllables are close."""

    name = "chars"
    dimensions = len(ALPHABET)

    def __init__(self) -> None:
        self.embedded = 0

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.embedded += len(texts)
        vectors = []
        for text in texts:
            counts = [float(text.count(c)) + 1e-3 for c in ALPHABET]
            norm = math.sqrt(sum(v * v for v in counts))
            vectors.append([v / norm for v in counts])
        return vectors

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(t) for t in texts]

    def close(self) -> None:
        return None


def router(tmp_path: Path, **options: object) -> tuple[Router, DictModel, DictModel, History]:
    cheap, large = DictModel("cheap", default="싼"), DictModel("large", default="큰")
    history = History(tmp_path / "router.sqlite")
    built = Router([cheap, large], CharEmbedder(), history, k=3, **options)  # type: ignore[arg-type]
    return built, cheap, large, history


def test_without_enough_history_everything_goes_to_the_cheap_model(tmp_path: Path) -> None:
    built, _cheap, large, history = router(tmp_path)
    history.add(["가가가", "가가나"], [1, 1])  # 2 < k = 3
    assert built.chat(ask("가가가")).model == "cheap"
    assert large.calls == 0


def test_requests_like_ones_that_needed_the_large_model_go_straight_to_it(tmp_path: Path) -> None:
    built, cheap, large, history = router(tmp_path)
    history.add(["가가가", "가가나", "가나가", "바바바", "바바사", "사바바"], [1, 1, 1, 0, 0, 0])
    results = built.chat_batch([ask("가가"), ask("바사"), ask("나가가")])
    assert [r.model for r in results] == ["large", "cheap", "large"]
    assert cheap.batches == [1] and large.batches == [2]  # one batch per chosen model
    assert built.stats() == {"routed": {"cheap": 1, "large": 2}}
    assert "".join(c.delta for c in built.stream(ask("가나"))) == "큰"


def test_the_router_rereads_history_that_grew_and_embeds_each_row_once(tmp_path: Path) -> None:
    built, _, _, history = router(tmp_path)
    history.add(["바바바", "바바사", "사바바"], [0, 0, 0])
    assert built.choose([ask("바바")]) == [0]
    history.add(["바바", "바바", "바바"], [1, 1, 1])  # the query itself, needing the large one
    assert built.choose([ask("바바")]) == [1]
    assert isinstance(built.embedder, CharEmbedder)
    assert built.embedder.embedded == 6 + 2  # every history row once, plus the two queries
    again = History(tmp_path / "router.sqlite").matrix(CharEmbedder())
    assert again[0].shape == (6, len(ALPHABET)) and again[1].tolist() == [0, 0, 0, 1, 1, 1]


def test_threshold_decides_how_many_neighbours_must_have_needed_the_large_model(
    tmp_path: Path,
) -> None:
    strict, _, _, history = router(tmp_path, threshold=0.7)
    history.add(["가가가", "가가나", "가나가"], [1, 1, 0])  # 2 of 3 needed the large model
    assert strict.choose([ask("가가")]) == [0]
    loose, *_ = router(tmp_path, threshold=0.5)
    assert loose.choose([ask("가가")]) == [1]


def test_history_from_a_scored_run(tmp_path: Path) -> None:
    scored = write_table(
        tmp_path / "scored.csv",
        ["user", "content", "match"],
        [
            {"user": "가가", "content": "x", "match": 1},
            {"user": "나나", "content": "y", "match": 0},
            {"user": "다다", "content": "", "match": ""},  # a failed generation: skipped
        ],
    )
    assert history_from_scored(scored, tmp_path / "h.sqlite") == 2
    _, needed = History(tmp_path / "h.sqlite").matrix(CharEmbedder())
    assert needed.tolist() == [0, 1]


def test_history_from_scored_names_the_bad_row_and_column(tmp_path: Path) -> None:
    scored = write_table(
        tmp_path / "scored.csv",
        ["user", "match"],
        [{"user": "가", "match": 1}, {"user": "나", "match": "maybe"}],
    )
    with pytest.raises(DataError, match="match 값 'maybe'") as info:
        history_from_scored(scored, tmp_path / "h.sqlite")
    assert info.value.where == "scored.csv row 3, column match"
    no_user = write_table(tmp_path / "s2.csv", ["text", "match"], [{"text": "가", "match": 1}])
    with pytest.raises(DataError, match="user 열이 없습니다"):
        history_from_scored(no_user, tmp_path / "h.sqlite")


def test_an_unwritable_history_path_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="cannot open the router history"):
        History(blocker / "h.sqlite")


def test_a_router_needs_exactly_two_models_counting_the_pipeline_model(tmp_path: Path) -> None:
    from tunestudio.config import Settings
    from tunestudio.ops.ledger import Ledger, Prices
    from tunestudio.ops.pipeline import StageContext
    from tunestudio.ops.router import router_from_options

    context = StageContext(
        where="p.yaml, pipeline[0] (router)",
        base_dir=tmp_path,
        settings=Settings.from_env(),
        ledger=Ledger(f"sqlite:///{tmp_path / 'l.db'}"),
        prices=Prices(),
        pipeline_name="p",
    )
    context.load = lambda spec, **_: DictModel(spec)  # type: ignore[method-assign]
    options = {"models": ["cheap", "large"]}
    with pytest.raises(ConfigError, match=r"exactly 2 models, found 3 \(its `models:`") as info:
        router_from_options(DictModel("core"), options, context)
    assert info.value.where == "p.yaml, pipeline[0] (router)"
    with pytest.raises(ConfigError, match=r"k: Input should be greater than or equal to 1"):
        router_from_options(None, {**options, "k": 0}, context)
