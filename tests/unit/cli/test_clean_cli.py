"""`tunestudio data clean`: files written, the removed-rows file, reports and clean errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli_runner import run_cli
from tests.conftest import EXAMPLES
from tunestudio.cli.common import console
from tunestudio.data import load_dataset, read_table, save_dataset
from tunestudio.types import Conversation, Turn

SYSTEM = "- 고객 문의를 카테고리로 분류한다."
ROWS = [
    ("네이버 밴드 알림이 안 와요 어케 해야 하나요ㅠㅠㅠㅠ", "네이버밴드 오류 해결"),
    ("MYBOX 사진 백업 방법 알려주세요!!!!", "MYBOX 기능문의 및 사용방법"),
    ("MYBOX 사진 백업 방법 알려주세요", "MYBOX 기능문의 및 사용방법"),
    ("111 !!bjaowjd@@", "판별불가"),
    ("연락처는 010-1234-5678 입니다 😀", "네이버플러스멤버십 결제"),
    ("😀👍", "MYBOX 결제"),
]


@pytest.fixture
def train(tmp_path: Path) -> Path:
    convs = [Conversation(SYSTEM, [Turn(t, c)]) for t, c in ROWS]
    convs.append(
        Conversation(SYSTEM, [Turn("결제 취소는요?", "네"), Turn("카드 환불은 언제 되나요", "3일")])
    )
    return save_dataset(convs, tmp_path / "train.csv")


def test_clean_writes_output_and_removed_file(train: Path, tmp_path: Path) -> None:
    out = tmp_path / "train.clean.csv"
    result = run_cli("data", "clean", train, out, "--config", EXAMPLES / "inquiry" / "clean.yaml")
    assert result.exit_code == 0, result.stderr
    kept = load_dataset(out).conversations
    assert [c.turns[0].user for c in kept] == [
        "네이버 밴드 알림이 안 와요 어떻게 해야 하나요ㅠㅠ",
        "MYBOX 사진 백업 방법 알려주세요!",
        "연락처는 [전화번호] 입니다",
        "결제 취소는요?",
    ]
    assert kept[0].turns[0].assistant == "네이버밴드 오류해결"  # relabelled by the recipe
    assert len(kept[3].turns) == 2  # the multi-turn conversation stays whole
    assert [row["C_ID"] for row in read_table(out).rows] == ["0", "1", "2", "3", "3"]

    removed = read_table(tmp_path / "train.clean.removed.csv")
    assert removed.columns[-3:] == ["source_rows", "removed_step", "removed_reason"]
    by_row = {row["source_rows"]: row for row in removed.rows}
    assert set(by_row) == {"4", "5", "7"}  # file rows: the header is row 1
    assert by_row["4"]["removed_reason"] == "3행의 근사 중복 (유사도 1.00)"
    assert by_row["4"]["Text"] == "MYBOX 사진 백업 방법 알려주세요"  # as it was read
    assert by_row["5"]["removed_step"] == "9. drop_labels"
    assert by_row["7"]["removed_step"] == "4. remove_emoji"
    assert by_row["7"]["Text"] == "😀👍"

    # nothing lost: kept + removed rows = input rows
    assert len(read_table(out).rows) + len(removed.rows) == len(read_table(train).rows)
    assert "rows in: 8 (7 conversations) → rows out: 5 (4 conversations)" in result.stdout
    assert "train.clean.removed.csv" in result.stdout
    for step in ("mask_pii", "squash_repeats", "dedup", "drop_labels"):
        assert step in result.stdout


def test_dry_run_writes_nothing(train: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    result = run_cli("data", "clean", train, out, "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "dry run: nothing written" in result.stdout
    assert not out.exists()
    assert not (tmp_path / "out.removed.csv").exists()


def test_json_report_removed_path_and_output_format(tmp_path: Path) -> None:
    convs = [Conversation("", [Turn(t, "라벨")]) for t in ("환불 문의", "환불  문의 ", "요금")]
    src = save_dataset(convs, tmp_path / "in.jsonl")
    out, side = tmp_path / "out.jsonl", tmp_path / "gone" / "removed.jsonl"
    result = run_cli("data", "clean", src, out, "--to", "openai", "--removed", side, "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)  # stdout holds the JSON and nothing else
    assert (report["rows_in"], report["rows_out"]) == (3, 2)
    assert [s["name"] for s in report["steps"]] == ["nfc", "whitespace", "dedup"]
    assert report["removed"][0]["source_rows"] == [2]  # JSONL: the line number
    assert report["removed"][0]["reason"] == "1행의 정확한 중복"
    assert report["removed_file"] == str(side)
    assert load_dataset(out).format == "openai"
    record = json.loads(side.read_text(encoding="utf-8").splitlines()[0])
    assert record["metadata"]["removed_step"] == "3. dedup"


def test_bad_config_is_a_clean_message(train: Path, tmp_path: Path) -> None:
    config = tmp_path / "clean.yaml"
    config.write_text("steps:\n  - nfc\n  - step: squash\n    max: 2\n", encoding="utf-8")
    result = run_cli("data", "clean", train, tmp_path / "out.csv", "--config", config)
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
    assert str(config) in result.stderr
    assert "step 2: unknown step 'squash'" in result.stderr
    assert "squash_repeats" in result.stderr
    assert not (tmp_path / "out.csv").exists()


def test_refuses_to_overwrite_the_input(train: Path) -> None:
    result = run_cli("data", "clean", train, train)
    assert result.exit_code == 2
    assert "would overwrite the input" in result.stderr


def test_missing_config_file(train: Path, tmp_path: Path) -> None:
    result = run_cli("data", "clean", train, tmp_path / "o.csv", "-c", tmp_path / "nope.yaml")
    assert result.exit_code == 2
    assert "file not found" in result.stderr


def test_step_fields_stay_on_one_line(train: Path, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(console, "_width", 100)  # the width docs/data.md is printed at
    result = run_cli("data", "clean", train, tmp_path / "o.csv", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert any("│ text, completion, system │" in line for line in result.stdout.splitlines())
