"""``tunestudio stats`` over the ledger that a pipeline run through ``infer`` wrote."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli_runner import run_cli
from tests.unit.inference.local_models import llama_dir_fixture  # noqa: F401
from tunestudio.data.table import write_table


def test_infer_through_a_pipeline_then_stats(tmp_path: Path, llama_dir: Path) -> None:
    assert "no calls recorded yet" in run_cli("stats").stdout
    spec = tmp_path / "gateway.yaml"
    spec.write_text(
        f"name: gateway\nmodel: hf:{llama_dir}\n"
        f"prices:\n  hf:{llama_dir}: {{input_per_1k: 1.0, output_per_1k: 4.0}}\n",
        encoding="utf-8",
    )
    questions = tmp_path / "q.csv"
    write_table(
        questions, ["user"], [{"user": "배송 조회는 어디서 하나요?"}, {"user": "환불 되나요?"}]
    )
    answered = run_cli(
        "infer", f"pipeline:{spec}", str(questions), "-o", str(tmp_path / "a.csv"),
        "--max-tokens", "3",
    )  # fmt: skip
    assert answered.exit_code == 0, answered.stderr
    assert "cost ledger" in answered.stdout  # infer shows what its pipeline calls cost

    by_run = json.loads(run_cli("stats", "--by", "run", "--json").stdout)
    assert [row["group"] for row in by_run] == ["infer:a.csv"]
    assert by_run[0]["requests"] == 2 and by_run[0]["calls"] == 2
    assert by_run[0]["cost"] > 0
    table = run_cli("stats", "--by", "pipeline", "--since", "1h").stdout
    assert "gateway" in table and "p50 ms" in table
    assert json.loads(run_cli("stats", "--run", "other", "--json").stdout) == []


def test_stats_option_errors() -> None:
    since = run_cli("stats", "--since", "yesterday")
    assert since.exit_code == 2 and "--since" in since.stderr and "30m, 12h or 7d" in since.stderr
    by = run_cli("stats", "--by", "colour")
    assert by.exit_code == 2 and "cannot group by 'colour'" in by.stderr
