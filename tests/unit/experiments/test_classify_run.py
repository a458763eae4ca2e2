"""classify-compare end to end on a random Llama, which serves both as the generative model and
(mean-pooled, as ``hf:<dir>``) as the embedder: its answers are garbage and its embeddings
weak, so this checks the plan, the files, the report and the resume, not the accuracies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.cli_runner import run_cli
from tests.unit.experiments.conftest import base_recipe, write_recipe
from tunestudio.data.table import read_table
from tunestudio.errors import ConfigError
from tunestudio.experiments import RunResult, load_recipe, run_experiment
from tunestudio.inference import read_batch_input, row_key


def _recipe(llama: Path, **changes: Any) -> dict[str, Any]:
    recipe = base_recipe(
        llama,
        "classify-compare",
        sizes=[6, 30],
        seeds=[0, 1],
        stratify="Completion",
        classify={"embedders": [{"spec": f"hf:{llama}", "name": "rand"}], "k": 3},
    )
    recipe["tune"] |= {"epochs": 1, "max_length": 128}
    recipe["classify"]["tune_sizes"] = [6]
    return recipe | changes


def _journal_inputs(path: Path) -> set[str]:
    lines = [json.loads(line) for line in path.read_text("utf-8").splitlines()[1:]]
    return {line["input"] for line in lines}


def _run(folder: Path, recipe: dict[str, Any], out: Path) -> RunResult:
    path = write_recipe(folder, recipe)
    return run_experiment(load_recipe(path), where=str(path), output=out)


def test_classify_compare_writes_every_method_and_resumes(
    data_dir: Path, llama: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    result = _run(data_dir, _recipe(llama), out)

    points = {(p.model, p.size): p for p in result.curve}
    knn = [f"kNN rand k={k}" for k in (1, 3)]
    generative = [f"rand ({p})" for p in ("system prompt", "no system prompt")]
    tuned = [f"rand tuned ({p})" for p in ("system prompt", "no system prompt")]
    assert set(points) == {
        *((m, s) for m in knn for s in (6, 30)),
        *((m, 0) for m in generative),
        *((m, 6) for m in tuned),
    }
    assert all(p.n == 9 * p.seeds for p in points.values())  # every test row scored
    assert points["kNN rand k=1", 6].seeds == 2 and points["rand (system prompt)", 0].seeds == 1

    # The kNN answers are labels of the training set, scored by the exact scorer like a model.
    sample = read_table(out / "outputs" / "knn-rand-k1-n6-s0.csv")
    assert {r["content"] for r in sample.rows} <= {"결제", "배송", "계정"}
    ev = result.evaluation("knn-rand-k1-n6-s0")
    matches = [int(r["content"] == r["expected"]) for r in sample.rows]
    assert ev.matches == matches and ev.variant.size == 6

    # Without the system prompt: the untuned model got none, the tuned one trained on none.
    nosys = read_table(out / "data" / "train-n6-s0-nosys.csv")
    assert {r["System_Prompt"] for r in nosys.rows} == {""} and len(nosys.rows) == 6
    assert {r["System_Prompt"] for r in read_table(out / "data" / "train-n6-s0.csv").rows} != {""}
    bare = read_batch_input(data_dir / "test.csv", system="").conversations
    assert all(m.role == "user" for messages in bare for m in messages)
    assert _journal_inputs(out / "journals" / "rand-nosys.jsonl") == {row_key(m) for m in bare}
    assert _journal_inputs(out / "journals" / "rand-nosys-n6-s0.jsonl") == {
        row_key(m) for m in bare
    }
    assert [t.variant.key for t in result.tunings] == [
        "rand-n6-s0",
        "rand-n6-s1",
        "rand-nosys-n6-s0",
        "rand-nosys-n6-s1",
    ]

    for name in ("charts/classify.png", "report.html", "predictions.xlsx", "embeddings/rand.npz"):
        assert (out / name).is_file(), name
    html = (out / "report.html").read_text("utf-8")
    for text in ("Search vs chat completion", "kNN rand k=3", "rand tuned (no system prompt)"):
        assert text in html, text
    summary = json.loads((out / "run.json").read_text("utf-8"))
    assert summary["kind"] == "classify-compare"
    assert len(summary["curve"]) == len(points)
    book = load_workbook(out / "predictions.xlsx")
    groups = [c.value for c in book["predictions"][1] if c.value]
    assert "knn-rand-k3-n30-s1" in groups and "rand-nosys-n6-s0" in groups

    # A rerun (from the command line) embeds, answers and tunes nothing again, and prints the
    # accuracy table: a row per method, a column per training size.
    cli = run_cli("run", data_dir / "recipe.yaml", "--output", out)
    assert cli.exit_code == 0, cli.stderr
    for text in ("method", "untuned", "kNN rand k=3", "rand tuned (no system", "report:"):
        assert text in cli.stdout, text
    second = json.loads((out / "run.json").read_text("utf-8"))
    assert not any(k.startswith("embed ") for k in second["timings"])
    assert all(t["reused"] for t in second["tunings"])
    generated = [v for v in second["variants"] if not v["model"].startswith("knn-")]
    assert generated and all(v["answered_now"] == 0 for v in generated)
    assert [(p["model"], p["size"], p["accuracy"]) for p in second["curve"]] == [
        (p.model, p.size, p.accuracy) for p in result.curve
    ]


def test_a_size_beyond_the_training_set_fails_before_any_model_work(
    data_dir: Path, tmp_path: Path
) -> None:
    recipe = _recipe(Path("/no/model"), sizes=[6, 500])
    recipe["classify"]["tune_sizes"] = [500]
    out = tmp_path / "run"
    with pytest.raises(ConfigError) as info:
        _run(data_dir, recipe, out)
    assert info.value.where is not None and info.value.where.endswith(": sizes")
    assert "500 exceed the 120 conversations" in info.value.message
    assert not (out / "journals").exists() and not (out / "embeddings").exists()
