"""The recipe end to end on a small random model: learning, events, outputs, resume, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from tests.unit.tuning.conftest import classification_rows, write_clova
from tunestudio.errors import ConfigError, DatasetInvalidError
from tunestudio.models import load_backend
from tunestudio.tuning.errors import TuningCanceled
from tunestudio.tuning.recipe import run_recipe
from tunestudio.tuning.spec import TuneSpec
from tunestudio.types import Message

STEP_KEYS = {
    "currStep",
    "currEpoch",
    "trainLoss",
    "learningRate",
    "tokensPerSecond",
    "elapsedSeconds",
}


def _spec(model: Path, data: Path, **changes: Any) -> TuneSpec:
    settings: dict[str, Any] = {
        "model": f"hf:{model}",
        "data": data,
        "epochs": 6,
        "learning_rate": 1e-2,
        "batch_size": 16,
        "max_length": 128,
        "lora_dropout": 0.0,
        "warmup_ratio": 0.0,
    }
    return TuneSpec(**(settings | changes))


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        self.seen.append((kind, data))

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [data for k, data in self.seen if k == kind]


def test_lora_learns_a_classification_set(
    random_model: Path, classification_csv: Path, tmp_path: Path
) -> None:
    events = Events()
    out = tmp_path / "run"
    spec = _spec(random_model, classification_csv, epochs=10)
    result = run_recipe(spec, out, on_event=events)

    prepared = events.of("prepared")[0]
    assert prepared["dataRows"] == 120 and prepared["taskType"] == "CLASSIFICATION"
    assert prepared["labels"] == ["결제", "배송", "계정"]
    assert prepared["totalTrainSteps"] == 10 * 8 and prepared["totalTrainEpochs"] == 10
    steps = events.of("step")
    assert len(steps) == 80 and all(set(s) >= STEP_KEYS for s in steps)
    assert steps[-1]["currEpoch"] == 10
    assert result.final_loss is not None and result.final_loss < steps[0]["trainLoss"] / 10
    assert events.seen[-1] == (
        "done",
        {"adapterPath": str(out / "adapter"), "mergedPath": None, "modelSpec": result.model_spec},
    )

    assert (out / "adapter" / "adapter_config.json").exists()
    assert (out / "adapter" / "tokenizer_config.json").exists()
    assert TuneSpec.model_validate_json((out / "tune_spec.json").read_text()).epochs == 10
    summary = json.loads((out / "result.json").read_text())
    assert summary["labels"] == ["결제", "배송", "계정"] and summary["steps"] == 80
    assert len(summary["datasetSha256"]) == 64
    lines = (out / "loss_history.jsonl").read_text().splitlines()
    assert [json.loads(line)["trainLoss"] for line in lines] == [s["trainLoss"] for s in steps]

    backend = load_backend(result.model_spec)
    for system, _, _, text, label in classification_rows()[:9]:
        answer = backend.chat([Message("system", system), Message("user", text)]).content
        assert answer == label


def _weights(adapter: Path) -> dict[str, torch.Tensor]:
    return load_file(adapter / "adapter_model.safetensors")


def test_stop_then_rerun_resumes_to_the_same_result(
    random_model: Path, classification_csv: Path, tmp_path: Path
) -> None:
    # dropout and an eval split make the random states and eval path part of what must match
    spec = _spec(
        random_model, classification_csv, epochs=1, lora_dropout=0.1, eval_split=0.1, batch_size=8
    )
    straight = run_recipe(spec, tmp_path / "straight")

    polls = iter(range(1000))
    with pytest.raises(TuningCanceled) as stopped:
        run_recipe(spec, tmp_path / "stopped", should_stop=lambda: next(polls) == 5)
    assert stopped.value.step == 5
    events = Events()
    resumed = run_recipe(spec, tmp_path / "stopped", on_event=events)

    assert events.of("resumed") == [{"step": 5}]
    assert events.of("step")[0]["currStep"] == 6
    assert resumed.loss_history == straight.loss_history
    assert events.of("eval") and "evalLoss" in resumed.loss_history[-1]
    a, b = _weights(straight.adapter_path), _weights(resumed.adapter_path)
    assert a.keys() == b.keys()
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_multi_turn_with_packing_and_accumulation(
    random_model: Path, multiturn_csv: Path, tmp_path: Path
) -> None:
    events = Events()
    spec = _spec(random_model, multiturn_csv, epochs=2, packing=True, max_length=256, grad_accum=2)
    result = run_recipe(spec, tmp_path / "run", on_event=events)
    prepared = events.of("prepared")[0]
    assert prepared["taskType"] == "GENERATION" and "labels" not in prepared
    assert prepared["packedRows"] < prepared["trainRows"] == 110
    losses = [entry["trainLoss"] for entry in result.loss_history]
    assert sum(losses[-3:]) / 3 < losses[0] - 1.0


def test_full_fine_tuning_with_merge_flag(
    random_model: Path, classification_csv: Path, tmp_path: Path
) -> None:
    spec = _spec(
        random_model, classification_csv, epochs=1, method="FULL", learning_rate=1e-3, merge=True
    )
    result = run_recipe(spec, tmp_path / "run")
    assert result.adapter_path == tmp_path / "run" / "model"
    assert (result.adapter_path / "config.json").exists()
    answer = load_backend(result.model_spec).chat([Message("user", "택배가 안 와요")])
    assert answer.usage.output_tokens > 0


def test_lora_merge_writes_a_model_that_answers_like_the_adapter(
    random_model: Path, classification_csv: Path, tmp_path: Path
) -> None:
    spec = _spec(random_model, classification_csv, epochs=1, merge=True)
    result = run_recipe(spec, tmp_path / "run")
    assert result.merged_path == tmp_path / "run" / "merged"
    question = [Message("user", "택배가 안 와요 (4번 문의)")]
    merged = load_backend(f"hf:{result.merged_path}").chat(question).content
    assert merged == load_backend(result.model_spec).chat(question).content


def test_invalid_dataset_stops_before_training(random_model: Path, tmp_path: Path) -> None:
    rows = classification_rows()
    rows[4] = (rows[4][0], 4, 0, rows[4][3], "")  # an empty Completion
    data = write_clova(tmp_path / "bad.csv", rows)
    events = Events()
    with pytest.raises(DatasetInvalidError) as caught:
        run_recipe(_spec(random_model, data), tmp_path / "run", on_event=events)
    assert "empty-completion" in caught.value.message
    assert events.seen == [] and not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"target_modules": ["no_such_layer"]}, "target_modules"),
        ({"eval_split": 500}, "eval_split"),
        ({"max_length": 4096}, "max_length"),
        ({"max_length": 16}, "max_length"),
    ],
)
def test_bad_settings_raise_config_errors(
    random_model: Path,
    classification_csv: Path,
    tmp_path: Path,
    changes: dict[str, Any],
    field: str,
) -> None:
    with pytest.raises(ConfigError) as caught:
        run_recipe(_spec(random_model, classification_csv, **changes), tmp_path / "run")
    assert caught.value.where == field and caught.value.hint
