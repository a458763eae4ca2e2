"""The data check local tuning runs: CLOVA Studio's upload minimum is a warning, errors stay errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.tuning.conftest import classification_rows, write_clova
from tunestudio.data.validate import validate_file
from tunestudio.errors import ConfigError, DatasetInvalidError
from tunestudio.tuning.dataset import validate_and_read, validate_data
from tunestudio.tuning.spec import TuneSpec


def test_fewer_than_100_rows_warn_for_local_tuning_and_fail_for_clova(tmp_path: Path) -> None:
    data = write_clova(tmp_path / "small.csv", classification_rows(50))
    [clova] = [p for p in validate_file(data).problems if p.code == "too-few-rows"]
    assert clova.severity == "error" and "최소 100개" in clova.message

    report = validate_data(TuneSpec(model="tiny", data=data))  # does not raise
    [local] = [p for p in report.problems if p.code == "too-few-rows"]
    assert local.severity == "warning" and local.message == clova.message
    assert "로컬 튜닝은 진행합니다" in local.hint
    assert validate_and_read(TuneSpec(model="tiny", data=data)).data_rows == 50


def test_an_empty_dataset_is_an_error_for_local_tuning_too(tmp_path: Path) -> None:
    data = write_clova(tmp_path / "empty.csv", [])
    with pytest.raises(DatasetInvalidError) as caught:
        validate_data(TuneSpec(model="tiny", data=data))
    [problem] = caught.value.report.errors  # type: ignore[attr-defined]
    assert problem.code == "too-few-rows" and problem.message == "학습 예제가 하나도 없습니다"


def test_other_errors_still_stop_local_tuning(tmp_path: Path) -> None:
    rows = classification_rows(50)
    rows[7] = (rows[7][0], 7, 0, "", rows[7][4])
    data = write_clova(tmp_path / "bad.csv", rows)
    with pytest.raises(DatasetInvalidError) as caught:
        validate_data(TuneSpec(model="tiny", data=data))
    assert "[empty-text]" in caught.value.message and "row 9" in caught.value.message


def test_unknown_target_is_refused(tmp_path: Path) -> None:
    data = write_clova(tmp_path / "d.csv", classification_rows(10))
    with pytest.raises(ConfigError, match="unknown target"):
        validate_file(data, target="cloud")  # type: ignore[arg-type]
