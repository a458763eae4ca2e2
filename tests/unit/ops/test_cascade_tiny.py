"""Real local models: token log-probabilities from the hf backend (a small random Llama), and a
``cascade`` stage of ``tiny`` inside a pipeline file (``pipeline:<yaml>``) with prices and the
ledger."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.unit.inference.local_models import (
    llama_dir_fixture,
    tiny_built_fixture,
    tiny_home_fixture,
)
from tests.unit.ops.cascade_doubles import ledger_rows
from tunestudio.models import load_backend
from tunestudio.ops.ledger import CALL, REJECTED
from tunestudio.ops.pipeline import Pipeline
from tunestudio.types import GenParams, Message

__all__ = ["llama_dir_fixture", "tiny_built_fixture", "tiny_home_fixture"]

pytestmark = pytest.mark.slow

QUESTION = [Message("system", "카테고리만 답하세요."), Message("user", "MYBOX 결제가 안 돼요")]


def test_hf_logprobs_are_the_models_own_probabilities_of_its_tokens(llama_dir: Path) -> None:
    import torch

    model = load_backend(f"hf:{llama_dir}")
    try:
        params = GenParams(max_tokens=6, logprobs=True)
        result = model.chat(QUESTION, params)
        assert model.capabilities.logprobs
        assert result.logprobs is not None
        assert len(result.logprobs) == result.usage.output_tokens
        assert model.chat(QUESTION, GenParams(max_tokens=6)).logprobs is None
        # Recompute them with one forward pass over prompt + answer (greedy: the top tokens).
        hf = model.model  # type: ignore[attr-defined]
        prompt = model.prompt_ids(QUESTION)  # type: ignore[attr-defined]
        generated = hf.generate(
            torch.tensor([prompt]), max_new_tokens=6, do_sample=False, num_beams=1
        )[0, len(prompt) :].tolist()[: len(result.logprobs)]
        with torch.inference_mode():
            logits = hf(torch.tensor([prompt + generated])).logits[0].float()
        steps = logits[len(prompt) - 1 : -1].log_softmax(-1)
        expected = [steps[i, tok].item() for i, tok in enumerate(generated)]
        assert result.logprobs == pytest.approx(expected, abs=1e-3)
        batch = model.chat_batch([QUESTION, QUESTION[-1:]], params)
        assert batch[0].logprobs == pytest.approx(result.logprobs, abs=1e-3)
    finally:
        model.close()


def test_a_cascade_pipeline_escalates_and_meters_every_call(
    tiny_home: Path, tmp_path: Path
) -> None:
    # Untuned tiny does not answer with a label, so the gate sends the request on to the
    # pipeline's model (tiny again, standing in for a larger one), whose answer is kept.
    path = tmp_path / "gateway.yaml"
    path.write_text(
        "model: tiny\n"
        "prices:\n"
        "  tiny: {input_per_1k: 1.0, output_per_1k: 2.0}\n"
        "pipeline:\n"
        "  - cascade:\n"
        "      models: [tiny]\n"
        "      gates: {labels: [MYBOX 결제, MYBOX 계정], min_confidence: 0.99}\n",
        encoding="utf-8",
    )
    pipeline = load_backend(f"pipeline:{path}")
    assert isinstance(pipeline, Pipeline)
    try:
        result = pipeline.chat(QUESTION, GenParams(max_tokens=8))
        stream = "".join(c.delta for c in pipeline.stream(QUESTION, GenParams(max_tokens=8)))
    finally:
        pipeline.close()
    assert stream == result.content
    assert result.logprobs is None
    rows = ledger_rows(pipeline.context.ledger)
    calls = [r for r in rows if r.outcome == CALL]
    rejected = [r for r in rows if r.outcome == REJECTED]
    assert len(calls) == 4 and len(rejected) == 2  # (cheap, rejected, last) twice
    assert {r.pipeline for r in rows} == {"gateway"}
    assert rejected[0].model == "tiny"
    assert (rejected[0].detail or "").startswith("gate=labels: ")
    first = calls[0]
    assert first.cost == pytest.approx((first.input_tokens * 1 + first.output_tokens * 2) / 1000)
    assert math.isclose(sum(r.cost for r in rejected), 0.0)  # paid once, as a call
