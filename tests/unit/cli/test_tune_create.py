"""``tunestudio tune create``: settings from --config and options, and the data checked first."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from tests.cli_runner import run_cli
from tests.conftest import EXAMPLES
from tests.unit.tuning.conftest import classification_rows, write_clova
from tunestudio.cli.tune import app
from tunestudio.tuning.jobs import JobStore
from tunestudio.tuning.spec import TuneSpec, load_spec


def _spec_of(result: Any) -> TuneSpec:
    assert result.exit_code == 0, result.stdout + result.stderr
    return JobStore().get(json.loads(result.stdout)["id"]).spec


def test_config_file_with_options_on_top() -> None:
    config = EXAMPLES / "inquiry" / "tune.yaml"
    fields = yaml.safe_load(config.read_text(encoding="utf-8"))
    spec = _spec_of(run_cli("tune", "create", "--config", config, "--json"))
    assert spec.data == (EXAMPLES / "inquiry" / "train.csv").resolve()
    assert spec.model == fields["model"] == "tiny"
    assert spec.learning_rate == fields["learning_rate"]
    assert spec.epochs == fields["epochs"]

    changed = run_cli("tune", "create", "--config", config, "--epochs", "1", "--lr", "0.01")
    assert changed.exit_code == 0, changed.stderr
    newest = JobStore().list_jobs()[0].spec
    assert (newest.epochs, newest.learning_rate) == (1, 0.01)
    assert newest.batch_size == fields["batch_size"]  # the rest still from the file


def test_data_in_a_config_is_relative_to_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "recipe"
    folder.mkdir()
    write_clova(folder / "mine.csv", classification_rows(30))
    (folder / "tune.yaml").write_text("model: tiny\ndata: mine.csv\nepochs: 2\n", "utf-8")
    monkeypatch.chdir(tmp_path)  # not the YAML's folder
    spec = _spec_of(run_cli("tune", "create", "--config", "recipe/tune.yaml", "--json"))
    assert spec.data == (folder / "mine.csv").resolve() and spec.epochs == 2
    assert load_spec(folder / "tune.yaml", epochs=3).data == spec.data


def test_bad_settings_name_the_file_or_the_option(tmp_path: Path) -> None:
    config = tmp_path / "tune.yaml"
    write_clova(tmp_path / "train.csv", classification_rows(30))
    config.write_text("model: tiny\ndata: train.csv\nlora_r: 0\n", "utf-8")
    from_file = run_cli("tune", "create", "--config", config)
    assert from_file.exit_code == 2
    assert (
        f"{config}: lora_r" in from_file.stderr and "greater than or equal to 1" in from_file.stderr
    )
    from_option = run_cli("tune", "create", "--config", config, "--lora-r", "4", "--epochs", "0")
    assert from_option.exit_code == 2 and "--epochs:" in from_option.stderr

    config.write_text("data: train.csv\n", "utf-8")
    no_model = run_cli("tune", "create", "--config", config)
    assert no_model.exit_code == 2 and "--model: no model given" in no_model.stderr
    config.write_text("model: tiny\ndata: nowhere.csv\n", "utf-8")
    missing = run_cli("tune", "create", "--config", config)
    assert missing.exit_code == 2 and f"{config}: data" in missing.stderr
    assert JobStore().list_jobs() == []


def test_invalid_data_is_refused_with_the_validator_report(tmp_path: Path) -> None:
    rows = classification_rows(30)
    rows[4] = (rows[4][0], 4, 0, rows[4][3], "")  # an empty Completion on CSV row 6
    data = write_clova(tmp_path / "bad.csv", rows)
    result = run_cli("tune", "create", "--model", "tiny", "--data", data)
    assert result.exit_code == 1
    assert re.search(r"\b6 +Completion +Completion 값이 비어 있습니다", result.stdout)
    assert "내용을 채우거나 이 행을 지우세요" in result.stdout  # the problem's own hint
    assert "데이터셋에 오류가 1개 있어 튜닝 작업을 만들지 않았습니다" in result.stderr
    assert JobStore().list_jobs() == []

    as_json = run_cli("tune", "create", "--model", "tiny", "--data", data, "--json")
    assert as_json.exit_code == 1
    [problem] = [p for p in json.loads(as_json.stdout)["problems"] if p["severity"] == "error"]
    assert (problem["code"], problem["row"], problem["column"]) == (
        "empty-completion",
        6,
        "Completion",
    )


def test_fewer_than_100_rows_tune_locally_but_fail_clova_validation(tmp_path: Path) -> None:
    data = write_clova(tmp_path / "small.csv", classification_rows(50))
    created = run_cli("tune", "create", "--model", "tiny", "--data", data)
    assert created.exit_code == 0, created.stderr
    assert "created job" in created.stdout and "데이터 경고" in created.stdout
    clova = run_cli("data", "validate", data)
    assert clova.exit_code == 1 and "CLOVA Studio 튜닝에는 최소 100개가 필요합니다" in clova.stdout


def test_shown_defaults_are_the_spec_defaults() -> None:
    command = typer.main.get_command(app).commands["create"]  # type: ignore[attr-defined]
    fields = TuneSpec.model_fields
    names = {"lr": "learning_rate"}
    checked = 0
    for param in command.params:
        field = names.get(param.name, param.name)
        if field not in fields or not isinstance(param.show_default, str):
            continue
        default = fields[field].default
        shown = ("yes" if default else "no") if isinstance(default, bool) else str(default)
        assert param.show_default == shown, field
        checked += 1
    assert checked >= 12
