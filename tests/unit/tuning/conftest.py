"""Fixtures for the tuning tests: a small random model and small CLOVA datasets written on the spot."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.model_fixtures import build_random_llama

SYSTEM = "문의를 분류하세요."
LABELS = ("결제", "배송", "계정")
QUESTIONS = {
    "결제": ["결제가 두 번 됐어요", "환불은 언제 되나요", "카드 결제가 안 돼요"],
    "배송": ["택배가 안 와요", "배송 조회가 안 돼요", "주소를 바꾸고 싶어요"],
    "계정": ["비밀번호를 잊었어요", "로그인이 안 돼요", "아이디를 바꾸고 싶어요"],
}


@pytest.fixture(scope="session")
def random_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random Llama (hidden 32, 2 layers) with the tiny tokenizer and the SEED template."""
    return build_random_llama(tmp_path_factory.mktemp("tune-base"))


def write_clova(path: Path, rows: list[tuple[str, int, int, str, str]]) -> Path:
    """Write CLOVA rows (System_Prompt, C_ID, T_ID, Text, Completion) as a CSV."""
    from tunestudio.data.table import write_table

    columns = ["System_Prompt", "C_ID", "T_ID", "Text", "Completion"]
    write_table(path, columns, [dict(zip(columns, row, strict=True)) for row in rows])
    return path


def classification_rows(count: int = 120) -> list[tuple[str, int, int, str, str]]:
    """``count`` single-turn rows over three labels; texts differ by a number (no duplicates)."""
    rows = []
    for i in range(count):
        label = LABELS[i % 3]
        question = QUESTIONS[label][(i // 3) % 3]
        rows.append((SYSTEM, i, 0, f"{question} ({i}번 문의)", label))
    return rows


@pytest.fixture
def classification_csv(tmp_path: Path) -> Path:
    return write_clova(tmp_path / "train.csv", classification_rows())


@pytest.fixture
def multiturn_csv(tmp_path: Path) -> Path:
    """110 conversations of two turns each."""
    rows = []
    for c in range(110):
        rows.append(("", c, 0, f"안녕하세요 {c}", f"네, 무엇을 도와드릴까요? {c}"))
        rows.append(
            (
                "",
                c,
                1,
                f"결제 내역을 확인하고 싶어요 {c}",
                f"결제 내역은 앱에서 확인할 수 있어요 {c}",
            )
        )
    return write_clova(tmp_path / "multi.csv", rows)
