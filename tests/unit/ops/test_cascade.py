"""The cascade and fallback stages over small test models; the stage code is the real one."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import pytest

from tests.unit.ops.cascade_doubles import DictModel, ask, ledger_rows
from tunestudio.config import Settings
from tunestudio.errors import ConfigError, ModelUnavailableError
from tunestudio.ops.cascade import Cascade, Fallback, cascade_from_config, fallback_from_config
from tunestudio.ops.gates import GatesConfig, GateSet, build_gates
from tunestudio.ops.ledger import ERROR, REJECTED, Ledger, Prices
from tunestudio.ops.pipeline import StageContext
from tunestudio.ops.router_history import History
from tunestudio.types import GenParams

LABELS = ["MYBOX 계정", "MYBOX 결제"]


def gates(**options: object) -> GateSet:
    config = GatesConfig.model_validate({"labels": LABELS, **options})
    return GateSet(build_gates(config, where="test", base_dir=Path(".")))


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(f"sqlite:///{tmp_path / 'ledger.db'}", pipeline="test")


def models() -> tuple[DictModel, DictModel]:
    cheap = DictModel("cheap", answers={"q1": "MYBOX 계정", "q2": "잘 모르겠어요"})
    large = DictModel("large", answers={"q1": "MYBOX 결제", "q2": "MYBOX 결제"})
    return cheap, large


def test_a_passing_cheap_answer_is_kept_and_the_large_model_never_called(ledger: Ledger) -> None:
    cheap, large = models()
    cascade = Cascade([cheap, large], gates(), ledger=ledger)
    result = cascade.chat(ask("q1"))
    assert (result.content, result.model) == ("MYBOX 계정", "cheap")
    assert large.calls == 0
    assert ledger_rows(ledger) == []


def test_a_rejected_answer_escalates_and_is_recorded(ledger: Ledger) -> None:
    cheap, large = models()
    cascade = Cascade([cheap, large], gates(), ledger=ledger)
    result = cascade.chat(ask("q2"))
    assert (result.content, result.model) == ("MYBOX 결제", "large")
    (row,) = ledger_rows(ledger)
    assert (row.model, row.outcome, row.pipeline) == ("cheap", REJECTED, "test")
    assert row.detail is not None and row.detail.startswith("gate=labels: 답 '잘 모르겠어요'")
    assert cascade.stats() == {
        "answered_by": {"cheap": 0, "large": 1},
        "gates": {"cheap": {"checked": 1, "rejected": {"labels": 1}, "reject_rate": {"labels": 1}}},
    }


def test_the_last_models_answer_is_returned_even_when_it_fails_the_gates() -> None:
    cheap = DictModel("cheap", default="몰라요")
    large = DictModel("large", default="그것도 몰라요")
    result = Cascade([cheap, large], gates()).chat(ask("q"))
    assert result.content == "그것도 몰라요"


def test_chat_batch_sends_only_rejected_rows_to_the_next_model_in_one_batch() -> None:
    cheap = DictModel("cheap", answers={f"q{i}": "MYBOX 계정" for i in range(0, 10, 2)})
    large = DictModel("large", default="MYBOX 결제")
    cascade = Cascade([cheap, large], gates())
    results = cascade.chat_batch([ask(f"q{i}") for i in range(10)])
    assert [r.model for r in results] == ["cheap", "large"] * 5  # input order kept
    assert cheap.batches == [10]
    assert large.batches == [5]
    assert cascade.stats()["answered_by"] == {"cheap": 5, "large": 5}


def test_confidence_gate_asks_for_logprobs_and_hides_them_from_the_caller() -> None:
    cheap = DictModel(
        "cheap",
        answers={"sure": "MYBOX 계정", "unsure": "MYBOX 계정"},
        logprob={"sure": math.log(0.95), "unsure": math.log(0.4)},
    )
    large = DictModel("large", default="MYBOX 결제")
    cascade = Cascade([cheap, large], gates(min_confidence=0.9))
    sure, unsure = cascade.chat_batch([ask("sure"), ask("unsure")])
    assert (sure.model, unsure.model) == ("cheap", "large")
    assert sure.logprobs is None  # the caller did not ask
    asked = cascade.chat(ask("sure"), GenParams(logprobs=True))
    assert asked.logprobs == pytest.approx((math.log(0.95),) * 2)
    assert cascade.stats()["gates"]["cheap"]["rejected"] == {"min_confidence": 1}


def test_stream_sends_only_the_accepted_answer() -> None:
    cheap, large = models()
    chunks = list(Cascade([cheap, large], gates()).stream(ask("q2")))
    assert "".join(c.delta for c in chunks) == "MYBOX 결제"
    assert chunks[-1].finish_reason == "stop" and chunks[-1].usage is not None


def test_an_error_of_a_cheap_model_escalates_but_the_last_ones_is_raised() -> None:
    cheap = DictModel("cheap", fail=True)
    large = DictModel("large", default="MYBOX 결제")
    assert Cascade([cheap, large], gates()).chat(ask("q")).model == "large"
    unsure = DictModel("unsure", default="모름")  # fails the gate, so the failing model is asked
    with pytest.raises(ModelUnavailableError, match="cheap is down"):
        Cascade([unsure, cheap], gates()).chat(ask("x"))


def test_a_timeout_escalates_and_is_recorded_as_an_error(ledger: Ledger) -> None:
    slow = DictModel("slow", default="MYBOX 계정", delay=0.5)
    large = DictModel("large", default="MYBOX 결제")
    result = Cascade([slow, large], gates(), timeout=0.05, ledger=ledger).chat(ask("q"))
    assert result.model == "large"
    (row,) = [r for r in ledger_rows(ledger) if r.outcome == ERROR]
    assert row.model == "slow" and row.detail == "timeout: no answer within 0.05 s"


def test_the_cascade_writes_which_model_each_request_needed(tmp_path: Path) -> None:
    cheap, large = models()
    history = History(tmp_path / "h.sqlite")
    Cascade([cheap, large], gates(), history=history).chat_batch([ask("q1"), ask("q2")])
    assert history.count() == 2
    with sqlite3.connect(tmp_path / "h.sqlite") as db:
        rows = db.execute("SELECT text, needed FROM requests ORDER BY id").fetchall()
    assert rows == [("q1", 0), ("q2", 1)]


def test_fallback_calls_the_next_model_only_on_errors() -> None:
    down = DictModel("down", fail=True)
    up = DictModel("up", default="네")
    fallback = Fallback([down, up], name=None, timeout=None, ledger=None)
    assert fallback.chat(ask("q")).model == "up"
    assert [r.model for r in fallback.chat_batch([ask("a"), ask("b")])] == ["up", "up"]
    assert "".join(c.delta for c in fallback.stream(ask("q"))) == "네"
    healthy = Fallback([up, down], name=None, timeout=None, ledger=None)
    assert healthy.chat(ask("q")).model == "up" and down.calls == 3


def test_fallback_raises_the_last_error() -> None:
    fallback = Fallback(
        [DictModel("a", fail=True), DictModel("b", fail=True)], name=None, timeout=None, ledger=None
    )
    with pytest.raises(ModelUnavailableError, match="b is down"):
        fallback.chat(ask("q"))


def context(tmp_path: Path, ledger: Ledger) -> StageContext:
    return StageContext(
        where="p.yaml, pipeline[0] (cascade)",
        base_dir=tmp_path,
        settings=Settings.from_env(),
        ledger=ledger,
        prices=Prices(),
        pipeline_name="p",
    )


def test_the_pipeline_model_is_the_cascades_last_resort(tmp_path: Path, ledger: Ledger) -> None:
    large = DictModel("large")
    options = {"gates": {"labels": LABELS}}
    with pytest.raises(ConfigError, match="needs at least 2 models, found 1"):
        cascade_from_config(large, options, context(tmp_path, ledger))
    with pytest.raises(ConfigError, match="needs at least one gate"):
        cascade_from_config(large, {"models": []}, context(tmp_path, ledger))
    with pytest.raises(ConfigError, match=r"gates\.bogus: Extra inputs") as info:
        cascade_from_config(large, {"gates": {"bogus": 1}}, context(tmp_path, ledger))
    assert info.value.where == "p.yaml, pipeline[0] (cascade)"
    with pytest.raises(ConfigError, match="needs at least 2 models"):
        fallback_from_config(large, {}, context(tmp_path, ledger))


def test_confidence_gates_refuse_models_without_logprobs(tmp_path: Path, ledger: Ledger) -> None:
    ctx = context(tmp_path, ledger)
    options = {"models": ["tiny"], "gates": {"min_logprob": -1}}
    ctx.load = lambda spec, **_: DictModel(spec)  # type: ignore[method-assign]
    with pytest.raises(ConfigError, match="which tiny cannot return"):
        cascade_from_config(DictModel("large"), options, ctx)


def test_fallback_moves_on_after_a_timeout(ledger: Ledger) -> None:
    slow = DictModel("slow", default="늦음", delay=0.5)
    fast = DictModel("fast", default="빠름")
    fallback = Fallback([slow, fast], name=None, timeout=0.05, ledger=ledger)
    assert fallback.chat(ask("q")).content == "빠름"
    assert [r.outcome for r in ledger_rows(ledger)] == [ERROR]
