"""``tunestudio run``: a real recipe through the real CLI, its summary, and its errors."""

from __future__ import annotations

from pathlib import Path

from tests.cli_runner import run_cli
from tests.unit.experiments.conftest import base_recipe, write_recipe
from tests.unit.inference.local_models import llama_dir_fixture  # noqa: F401  (fixture)
from tunestudio.data.table import write_table

TEST_ROWS = [
    {"system": "분류하세요: 결제, 배송", "user": "환불은 언제 되나요?", "expected": "결제"},
    {"system": "분류하세요: 결제, 배송", "user": "택배가 안 와요", "expected": "배송"},
    {"system": "분류하세요: 결제, 배송", "user": "카드 결제가 두 번 됐어요", "expected": "결제"},
]


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_a_compare_run_prints_the_summary_and_the_report_path(
    tmp_path: Path, llama_dir: Path
) -> None:
    write_table(tmp_path / "test.csv", ["system", "user", "expected"], TEST_ROWS)
    recipe = base_recipe(
        llama_dir,
        "compare",
        models=[
            {"name": "a", "spec": f"hf:{llama_dir}"},
            {"name": "b", "spec": f"hf:{llama_dir}", "system": "한 단어로 답하세요."},
        ],
        report={"title": "두 프롬프트 비교"},
    )
    path = write_recipe(tmp_path, recipe)
    out = tmp_path / "run"
    result = run_cli("run", path, "--output", out, "--set", "generation.max_tokens=4")
    assert result.exit_code == 0, result.stderr
    text = _flat(result.stdout)
    assert f"compare t → {out}" in text
    assert "→ evaluating a" in text and "→ evaluating b" in text
    assert "두 프롬프트 비교 — exact" in text
    for column in ("model", "accuracy", "correct", "format invalid", "generation failed"):
        assert column in text
    assert "a → b:" in text and "McNemar p =" in text
    assert f"report: {out / 'report.html'}" in text
    assert f"predictions: {out / 'predictions.xlsx'}" in text
    assert (out / "report.html").is_file()
    assert "max_tokens: 4" in (out / "recipe.yaml").read_text("utf-8")

    again = run_cli("run", path, "--output", out, "--set", "generation.max_tokens=4")
    assert again.exit_code == 0 and "answering" not in again.stdout  # nothing asked again


def test_recipe_mistakes_are_messages_not_tracebacks(tmp_path: Path) -> None:
    write_table(tmp_path / "test.csv", ["system", "user", "expected"], TEST_ROWS)
    path = write_recipe(tmp_path, base_recipe(kind="compare") | {"colour": "blue"})
    result = run_cli("run", path)
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert f"error: {path}: colour: Extra inputs are not permitted" in _flat(result.stderr)
    assert "hint: fields of Recipe: kind, name, test" in _flat(result.stderr)

    bad = run_cli("run", write_recipe(tmp_path, base_recipe(kind="compare")), "--set", "tune")
    assert bad.exit_code == 2 and "is not of the form key=value" in bad.stderr

    missing = run_cli("run", tmp_path / "nope.yaml")
    assert missing.exit_code == 2 and f"file not found: {tmp_path / 'nope.yaml'}" in missing.stderr

    afile = tmp_path / "taken.txt"
    afile.write_text("x", "utf-8")
    taken = run_cli("run", write_recipe(tmp_path, base_recipe(kind="compare")), "-o", afile)
    assert taken.exit_code == 2 and f"error: {afile}: the output is a file" in _flat(taken.stderr)
