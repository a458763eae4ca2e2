"""Data-parallel training: two CPU processes (torchrun + accelerate, gloo) run the real recipe."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.unit.tuning.conftest import classification_rows, write_clova
from tests.unit.tuning.test_recipe import Events
from tunestudio.errors import DatasetInvalidError
from tunestudio.models import load_backend
from tunestudio.tuning.errors import TuningCanceled, TuningError
from tunestudio.tuning.recipe import run_recipe
from tunestudio.tuning.spec import TuneSpec
from tunestudio.types import Message


def _spec(model: Path, data: Path, **changes: Any) -> TuneSpec:
    settings: dict[str, Any] = {
        "model": f"hf:{model}",
        "data": data,
        "epochs": 4,
        "learning_rate": 2e-2,
        "batch_size": 8,
        "max_length": 128,
        "lora_dropout": 0.0,
        "warmup_ratio": 0.0,
        "num_processes": 2,
    }
    return TuneSpec(**(settings | changes))


@pytest.mark.slow
def test_two_processes_train_resume_and_answer(random_model: Path, tmp_path: Path) -> None:
    data = write_clova(tmp_path / "train.csv", classification_rows(110))
    spec = _spec(random_model, data, checkpoint_every=3)
    out = tmp_path / "run"

    # Stop after a few steps: both ranks stop together, rank 0 saves one checkpoint.
    first = Events()
    with pytest.raises(TuningCanceled) as stopped:
        run_recipe(spec, out, on_event=first, should_stop=lambda: len(first.of("step")) >= 4)
    prepared = first.of("prepared")[0]
    # 110 rows over 2 ranks → 55 each → 7 batches of 8 per rank per epoch.
    assert prepared["numProcesses"] == 2 and prepared["totalTrainSteps"] == 4 * 7
    assert stopped.value.step >= 4 and (out / "checkpoints").is_dir()
    assert not (out / "adapter").exists()

    events = Events()
    result = run_recipe(spec, out, on_event=events)
    assert events.of("resumed") == [{"step": stopped.value.step}]
    assert events.of("step")[0]["currStep"] == stopped.value.step + 1
    assert [e["currStep"] for e in result.loss_history] == list(range(1, 29))
    losses = [e["trainLoss"] for e in result.loss_history]
    assert sum(losses[-4:]) / 4 < sum(losses[:4]) / 4 / 2

    summary = json.loads((out / "result.json").read_text())
    assert summary["numProcesses"] == 2 and summary["steps"] == 28
    ranks = summary["processes"]
    assert [p["rank"] for p in ranks] == [0, 1] and ranks[0]["pid"] != ranks[1]["pid"]
    assert all(p["tokens"] > 0 for p in ranks)
    lines = (out / "loss_history.jsonl").read_text().splitlines()
    assert len(lines) == 28  # written once, by rank 0
    assert [kind for kind, _ in events.seen].count("done") == 1
    assert not list(out.glob(".dist-*"))  # the launch channel is cleaned up

    with pytest.raises(TuningError, match="different settings"):  # its checkpoints need 2
        run_recipe(spec.model_copy(update={"num_processes": 1}), out)

    backend = load_backend(result.model_spec)
    system, _, _, text, label = classification_rows(110)[0]
    answer = backend.chat([Message("system", system), Message("user", text)]).content
    assert answer in {"결제", "배송", "계정"} and answer == label


@pytest.mark.slow
@pytest.mark.parametrize("packing", [False, True])
def test_two_ranks_of_four_match_one_process_of_eight(
    random_model: Path, tmp_path: Path, packing: bool
) -> None:
    # Rank r takes rows r, r+2, … of the shuffled order, so each update of 2 × 4 rows covers the
    # same rows as one of 8 in a single process: the losses must agree (gloo sums in a different
    # order, hence the tolerance). This checks the sharding and the loss scaling together, and
    # with packing, the flat layout with its shared prefix under DDP.
    data = write_clova(tmp_path / "train.csv", classification_rows(110))
    single = run_recipe(
        _spec(random_model, data, epochs=1, num_processes=1, packing=packing), tmp_path / "single"
    )
    double = run_recipe(
        _spec(random_model, data, epochs=1, batch_size=4, packing=packing), tmp_path / "double"
    )
    assert double.steps == single.steps > 1
    assert packing or single.steps == 14
    pairs = zip(single.loss_history, double.loss_history, strict=True)
    assert all(a["trainLoss"] == pytest.approx(b["trainLoss"], rel=1e-4) for a, b in pairs)


def test_bad_data_is_refused_before_any_process_starts(random_model: Path, tmp_path: Path) -> None:
    rows = classification_rows(20)
    rows[3] = (*rows[3][:4], "")  # an empty Completion is an error for any target
    data = write_clova(tmp_path / "bad.csv", rows)
    with pytest.raises(DatasetInvalidError):
        run_recipe(_spec(random_model, data), tmp_path / "run")
    assert not (tmp_path / "run").exists()
