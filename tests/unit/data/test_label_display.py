"""Labels as reports show them: an empty label is visible, and advice fits the kind of file."""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

import pytest

from tests.cli_runner import run_cli
from tests.conftest import EXAMPLES
from tunestudio.data import save_dataset
from tunestudio.data.clean import parse_clean_config, run_pipeline
from tunestudio.data.problems import EMPTY_LABEL, shown_label
from tunestudio.data.split import split_conversations
from tunestudio.data.validate import validate_file
from tunestudio.errors import DataError
from tunestudio.types import Conversation, Turn

_SYLLABLES = "가나다라마바사아자차카타파하거너더러머버서어저처커터퍼허고노도로모보소오조초구누두루"


def _texts(count: int, seed: int = 7) -> list[str]:
    """Distinct made-up questions that are not near-duplicates of each other."""
    rng = random.Random(seed)
    return [
        "문의 " + " ".join("".join(rng.choices(_SYLLABLES, k=3)) for _ in range(5)) + "?"
        for _ in range(count)
    ]


def _convs(labels: list[str]) -> list[Conversation]:
    return [
        Conversation("", [Turn(t, label)])
        for t, label in zip(_texts(len(labels)), labels, strict=True)
    ]


def test_shown_label() -> None:
    assert shown_label("MYBOX 결제") == "'MYBOX 결제'"
    assert shown_label("MYBOX 결제", quote=False) == "MYBOX 결제"
    assert shown_label("") == shown_label("  ", quote=False) == EMPTY_LABEL == "(빈 값)"


def test_split_names_an_empty_label_in_the_stratify_error() -> None:
    convs = _convs(["배송"] * 10 + ["환불"] * 10 + [""])
    with pytest.raises(DataError) as err:
        split_conversations(convs, 4, stratify=True)
    assert "(빈 값)" in err.value.message and "''" not in err.value.message


def test_split_table_shows_an_empty_label(tmp_path: Path) -> None:
    src = save_dataset(_convs(["배송"] * 10 + ["환불"] * 10 + ["", ""]), tmp_path / "d.csv")
    result = run_cli("data", "split", src, "--test-size", "4", "--stratify")
    assert result.exit_code == 0, result.stderr
    [line] = [ln for ln in result.stdout.splitlines() if EMPTY_LABEL in ln]
    cells = [cell.strip() for cell in line.split("│")]
    assert cells[1:4] == [EMPTY_LABEL, "2", "0"]  # label, train, test


def test_stats_table_shows_an_empty_label(tmp_path: Path) -> None:
    src = save_dataset(_convs(["배송"] * 4 + ["", ""]), tmp_path / "d.csv")
    result = run_cli("data", "stats", src)
    assert result.exit_code == 0, result.stderr
    assert any(EMPTY_LABEL in ln and "33.3%" in ln for ln in result.stdout.splitlines())


def test_clean_report_shows_an_empty_label(tmp_path: Path) -> None:
    config = parse_clean_config(
        {"steps": [{"step": "drop_labels", "labels": ["", "없는 라벨"]}]}, "t.yaml"
    )
    convs = [Conversation("", [Turn("질문", "")], source_rows=[2]), *_convs(["배송"])]
    report = run_pipeline(convs, config).reports[0]
    assert report.tally == {EMPTY_LABEL: 1}
    assert report.notes == ["label '없는 라벨' matched no row"]
    assert report.examples[0].reason == f"Completion 값이 제거 대상 라벨 {EMPTY_LABEL}입니다"


def test_validate_near_duplicates_name_an_empty_label(tmp_path: Path) -> None:
    convs = _convs(["가", "나"] * 60)
    convs[10] = Conversation("", [Turn(convs[20].turns[0].user + "요", "")])
    report = validate_file(save_dataset(convs, tmp_path / "d.csv"), task="classification")
    [near] = [p for p in report.warnings if p.code == "near-duplicate"]
    assert f"12 {EMPTY_LABEL}" in near.message


def _testset_csv(path: Path, labels: list[str]) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["system", "user", "expected"])
    writer.writerows(
        ["분류하라", t, label] for t, label in zip(_texts(len(labels)), labels, strict=True)
    )
    path.write_text("\ufeff" + buffer.getvalue(), encoding="utf-8")
    return path


def test_a_test_set_gets_no_training_size_label_advice(tmp_path: Path) -> None:
    labels = [f"라벨 {i:02d}" for i in range(20)] * 5 + ["라벨 00 "] * 3  # 20 labels, 5 rows
    report = validate_file(_testset_csv(tmp_path / "test.csv", labels))
    codes = {p.code for p in report.problems}
    assert report.format == "testset" and report.task == "classification"
    assert not codes & {"label-rare", "too-many-labels", "too-few-rows", "few-rows"}
    assert "similar-labels" in codes  # a look-alike label is a mistake in any file
    # the same rows as training data get the advice
    train = save_dataset(_convs(labels), tmp_path / "train.csv")
    assert {"label-rare", "too-many-labels"} <= {p.code for p in validate_file(train).problems}


def test_shipped_test_set_has_no_label_warnings() -> None:
    report = validate_file(EXAMPLES / "inquiry" / "test.xlsx")
    assert report.format == "testset"
    assert [p.code for p in report.warnings] == []


def test_rare_labels_are_one_sentence_and_a_list(tmp_path: Path) -> None:
    src = save_dataset(_convs(["배송 문의"] * 70 + ["환불 요청"] * 40), tmp_path / "d.csv")
    result = run_cli("data", "validate", src)
    out = " ".join(result.stdout.split())
    assert out.count("분류 튜닝은 라벨마다 200개 이상을 권장합니다") == 1
    assert "라벨 2개가 예제 200개 미만입니다" in out
    assert "'배송 문의' 70개, '환불 요청' 40개" in out
    data = run_cli("data", "validate", src, "--json").stdout
    assert data.count('"label-rare"') == 2  # JSON keeps one problem per label
