"""Pipeline files, the cost ledger and its sums: a real model behind a ``pipeline:`` spec."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.unit.inference.local_models import llama_dir_fixture  # noqa: F401
from tunestudio.errors import ConfigError
from tunestudio.inference import run_batch
from tunestudio.models import load_backend
from tunestudio.models.base import BaseBackend, Capabilities
from tunestudio.ops.ledger import CALL, ERROR, Ledger, Metered, Price, Prices, labels
from tunestudio.ops.pipeline import Pipeline
from tunestudio.ops.stats import summarize
from tunestudio.types import ChatResult, GenParams, Message, Usage

HELLO = [Message("user", "배송 조회는 어디서 하나요?")]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_pipeline_spec_loads_the_model_and_meters_every_call(
    tmp_path: Path, llama_dir: Path
) -> None:
    spec = write(
        tmp_path / "gateway.yaml",
        f"name: gw\nmodel: hf:{llama_dir}\n"
        f"prices:\n  hf:{llama_dir}: {{input_per_1k: 2.0, output_per_1k: 10.0}}\n"
        "pipeline: []\n",
    )
    backend = load_backend(f"pipeline:{spec}")
    assert isinstance(backend, Pipeline) and backend.name == "gw"
    with labels(run="unit"):
        one = backend.chat(HELLO, GenParams(max_tokens=4))
        many = backend.chat_batch([HELLO, HELLO], GenParams(max_tokens=4))
    backend.close()  # writes the ledger out
    [row] = summarize("model", run="unit")
    usages = [one.usage, *(r.usage for r in many)]
    assert row.group == f"hf:{llama_dir}"
    assert (row.calls, row.requests, row.errors) == (3, 3, 0)
    assert row.input_tokens == sum(u.input_tokens for u in usages)
    assert row.output_tokens == sum(u.output_tokens for u in usages)
    expected = sum(u.input_tokens * 2.0 + u.output_tokens * 10.0 for u in usages) / 1000
    assert row.cost == pytest.approx(expected)
    assert row.latency_p50_ms is not None and row.latency_p50_ms > 0
    assert summarize("pipeline")[0].group == "gw"
    assert summarize("model", run="another run") == []


@pytest.mark.parametrize(
    ("text", "message", "where"),
    [
        ("model: tiny\npipeline:\n  - windw: {}\n", "unknown stage 'windw'", "pipeline[0]"),
        ("model: tiny\npipeline:\n  - window: 5\n", "must be a mapping", "pipeline[0]"),
        (
            "model: tiny\npipeline:\n  - {window: {}, exact_cache: {}}\n",
            "exactly one kind",
            "pipeline[0]",
        ),
        ("pipeline: []\n", "the pipeline has no model", "p.yaml"),
        ("model: tiny\nprices:\n  tiny: {input: 1}\n", "prices.tiny.input", "p.yaml"),
        ("model: tiny\nstages: []\n", "stages", "p.yaml"),
    ],
)
def test_bad_pipeline_files_are_named_with_the_place(
    tmp_path: Path, text: str, message: str, where: str
) -> None:
    spec = write(tmp_path / "p.yaml", text)
    with pytest.raises(ConfigError) as caught:
        load_backend(f"pipeline:{spec}")
    assert message in str(caught.value)
    assert where in (caught.value.where or "")


class Concurrent(BaseBackend):
    """A model stand-in that answers from threads and says which thread it ran on."""

    def __init__(self) -> None:
        super().__init__("remote", Capabilities(concurrent=True))
        self.threads: set[str] = set()

    def chat(self, messages: Sequence[Message], params: GenParams = GenParams()) -> ChatResult:
        self.threads.add(threading.current_thread().name)
        if messages[-1].content == "fail":
            raise RuntimeError("the model is down")
        return ChatResult("네", Usage(10, 2), model="remote")

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return 10


def test_labels_reach_batch_threads_and_failures_are_recorded() -> None:
    model = Concurrent()
    ledger = Ledger(pipeline="p")
    metered = Metered(model, ledger, Prices({"remote": Price(input_per_1k=1.0)}))
    rows = [[Message("user", f"질문 {i}")] for i in range(6)] + [[Message("user", "fail")]]
    with labels(run="batch", key="k1"):
        run_batch(metered, rows, concurrency=3, retries=0)
    ledger.flush()
    assert any(name.startswith("tunestudio-batch") for name in model.threads)
    [row] = summarize("key", run="batch")
    assert (row.group, row.calls, row.errors) == ("k1", 6, 1)
    assert row.cost == pytest.approx(6 * 10 / 1000)
    outcomes = {r.group: r for r in summarize("outcome", run="batch")}
    assert set(outcomes) == {CALL, ERROR}
