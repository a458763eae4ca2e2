"""Fixtures for the experiment tests: a random Llama (answers are garbage, fast) and small
inquiry-style data written on the spot; recipes are written as YAML like a user would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.model_fixtures import build_random_llama
from tunestudio.data.table import write_table

SYSTEM = "문의를 분류하세요. 카테고리: 결제, 배송, 계정"
LABELS = ("결제", "배송", "계정")
QUESTIONS = {
    "결제": ["결제가 두 번 됐어요", "환불은 언제 되나요", "카드 결제가 안 돼요"],
    "배송": ["택배가 안 와요", "배송 조회가 안 돼요", "주소를 바꾸고 싶어요"],
    "계정": ["비밀번호를 잊었어요", "로그인이 안 돼요", "아이디를 바꾸고 싶어요"],
}


@pytest.fixture(scope="session")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random Llama (hidden 32, 2 layers) in HF layout: ``hf:<dir>``."""
    return build_random_llama(tmp_path_factory.mktemp("experiment-llama"))


def train_rows(count: int) -> list[dict[str, Any]]:
    """``count`` CLOVA rows over three labels, each text unique, with a ``group`` column."""
    rows = []
    for i in range(count):
        label = LABELS[i % 3]
        text = f"{QUESTIONS[label][(i // 3) % 3]} ({i}번 문의)"
        rows.append(
            {
                "System_Prompt": SYSTEM,
                "C_ID": i,
                "T_ID": 0,
                "Text": text,
                "Completion": label,
                "group": "short" if i % 2 else "long",
            }
        )
    return rows


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """``train.csv`` (120 CLOVA rows) and ``test.csv`` (9 rows: system,user,expected,size)."""
    folder = tmp_path / "data"
    columns = ["System_Prompt", "C_ID", "T_ID", "Text", "Completion", "group"]
    write_table(folder / "train.csv", columns, train_rows(120))
    tests = [
        {"system": SYSTEM, "user": f"{q} (테스트 {n})", "expected": label, "size": str(1 + n % 2)}
        for n, (label, qs) in enumerate(QUESTIONS.items())
        for q in qs
    ]
    write_table(folder / "test.csv", ["system", "user", "expected", "size"], tests)
    return folder


def write_recipe(folder: Path, recipe: dict[str, Any], name: str = "recipe.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(recipe, allow_unicode=True), "utf-8")
    return path


def base_recipe(
    llama: Path | str = "/no/model", kind: str = "tune-and-compare", **changes: Any
) -> dict[str, Any]:
    """A recipe over ``data_dir``'s files (relative paths) with fast tuning and generation.

    ``llama`` is the model folder; tests that only parse the recipe need no real one.
    """
    recipe: dict[str, Any] = {
        "kind": kind,
        "name": "t",
        "test": "test.csv",
        "models": [{"name": "rand", "spec": f"hf:{llama}"}],
        "generation": {"max_tokens": 6, "batch_size": 16},
        "scorers": ["exact", {"name": "classification"}],
    }
    if kind != "compare":
        recipe["train"] = "train.csv"
        recipe["tune"] = {
            "epochs": 1,
            "learning_rate": 1e-2,
            "batch_size": 32,
            "max_length": 256,
            "warmup_ratio": 0.0,
        }
    return recipe | changes
