"""Each kind of experiment end to end on a random Llama (its answers are garbage, so these
tests check structure: the files, the report's contents, the workbook, the paired table) and
the resume: a rerun into the same folder calls no model and tunes nothing again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.unit.experiments.conftest import base_recipe, write_recipe
from tunestudio.data.table import read_table
from tunestudio.errors import ConfigError, DataError
from tunestudio.experiments import RunResult, load_recipe, run_experiment


def _run(folder: Path, recipe: dict[str, Any], out: Path, **options: Any) -> RunResult:
    path = write_recipe(folder, recipe)
    return run_experiment(load_recipe(path), where=str(path), output=out, **options)


def _summary(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "run.json").read_text("utf-8"))
    return data


def test_tune_and_compare_writes_the_report_and_sheet_resumes_and_refuses_stale_work(
    data_dir: Path, llama: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    result = _run(data_dir, base_recipe(llama), out)

    assert [e.variant.key for e in result.evaluations] == ["rand", "rand+tuned"]
    tuned = result.evaluation("rand+tuned").variant
    assert tuned.tuned and tuned.spec.startswith(f"hf:{out / 'tuning' / 'rand+tuned'}")
    for name in (
        "recipe.yaml",
        "run.json",
        "report.html",
        "predictions.xlsx",
        "outputs/rand.csv",
        "outputs/rand+tuned.csv",
        "journals/rand.jsonl",
        "charts/accuracy.png",
        "charts/loss.png",
        "tuning/rand+tuned/result.json",
    ):
        assert (out / name).is_file(), name

    html = (out / "report.html").read_text("utf-8")
    assert html.count('src="data:image/png;base64,') == 2  # accuracy and loss charts
    for text in (
        "rand+tuned",
        f"hf:{llama}",
        "Paired comparison",
        "McNemar p",
        "per_label",
        "confusion",
        result.data[0].sha256,
        "Scorer: classification",
        "kind: tune-and-compare",
    ):
        assert text in html, text
    assert len(result.pairs) == 1 and result.pairs[0].comparison.n == 9

    book = load_workbook(out / "predictions.xlsx")
    sheet = book["predictions"]
    groups = [c.value for c in sheet[1] if c.value]
    assert groups == ["rand", "rand+tuned"]
    headers = [c.value for c in sheet[2]]
    assert headers[:4] == ["row", "input", "expected", "size"]
    assert headers.count("answer") == 2 and headers.count("match") == 2
    assert headers.count("error class") == 2
    assert sheet.max_row == 2 + 9 and sheet["A3"].value == 2  # the test file's row 2
    assert sheet["C3"].value == "결제"
    assert {s.title for s in book.worksheets} == {"predictions", "summary", "paired"}

    first = _summary(out)
    assert [v["answered_now"] for v in first["variants"]] == [9, 9]
    journals = {p: p.stat().st_mtime_ns for p in (out / "journals").iterdir()}
    adapter = result.tunings[0].result.adapter_path
    adapter_time = max(p.stat().st_mtime_ns for p in adapter.rglob("*") if p.is_file())

    again = _run(data_dir, base_recipe(llama), out)
    second = _summary(out)
    assert [v["answered_now"] for v in second["variants"]] == [0, 0]
    assert [v["from_journal"] for v in second["variants"]] == [9, 9]
    assert [t["reused"] for t in second["tunings"]] == [True]
    assert {p: p.stat().st_mtime_ns for p in (out / "journals").iterdir()} == journals
    assert max(p.stat().st_mtime_ns for p in adapter.rglob("*") if p.is_file()) == adapter_time
    assert again.evaluation("rand+tuned").matches == result.evaluation("rand+tuned").matches

    # Other tuning settings into the same folder: refused (its answers would be stale) …
    changed = base_recipe(llama)
    changed["tune"]["learning_rate"] = 5e-3
    with pytest.raises(ConfigError) as info:
        _run(data_dir, changed, out)
    assert "learning_rate" in info.value.message and "--fresh" in (info.value.hint or "")
    # … until --fresh removes the run's own files (and nothing else in the folder).
    (out / "notes.txt").write_text("mine", "utf-8")
    fresh = _run(data_dir, changed, out, fresh=True)
    assert fresh.tunings[0].spec.learning_rate == 5e-3 and not fresh.tunings[0].reused
    assert [v["answered_now"] for v in _summary(out)["variants"]] == [9, 9]
    assert (out / "notes.txt").read_text("utf-8") == "mine"


def test_compare_pairs_the_first_model_with_the_others_and_groups_by_metadata(
    data_dir: Path, llama: Path, tmp_path: Path
) -> None:
    recipe = base_recipe(
        llama,
        "compare",
        models=[
            {"name": "plain", "spec": f"hf:{llama}"},
            {"name": "prompted", "spec": f"hf:{llama}", "system": "답만 쓰세요."},
        ],
        group_by=["size"],
    )
    out = tmp_path / "run"
    result = _run(data_dir, recipe, out)
    assert [(p.a, p.b) for p in result.pairs] == [("plain", "prompted")]
    assert not result.tunings and not (out / "tuning").exists()
    assert {(g.variant, g.value, g.n) for g in result.groups} == {
        (v, s, n) for v in ("plain", "prompted") for s, n in (("1", 6), ("2", 3))
    }
    assert (out / "charts" / "by_size.png").is_file()
    html = (out / "report.html").read_text("utf-8")
    assert "Error probability by size" in html and "답만 쓰세요." in html

    # A stopped run: the journal kept 4 of 9 rows of "prompted"; only 5 are asked again.
    journal = out / "journals" / "prompted.jsonl"
    lines = journal.read_text("utf-8").splitlines(keepends=True)
    journal.write_text("".join(lines[: 1 + 4]), "utf-8")
    _run(data_dir, recipe, out)
    variants = {v["model"]: v for v in _summary(out)["variants"]}
    assert (variants["plain"]["answered_now"], variants["prompted"]["answered_now"]) == (0, 5)

    # Scorers run on the saved answers: a bad label list fails naming the test file's row.
    labels = recipe | {"scorers": [{"name": "classification", "options": {"labels": ["결제"]}}]}
    with pytest.raises(DataError) as info:
        _run(data_dir, labels, out)
    assert info.value.where == "test.csv row 5, column expected"
    assert "'배송' (3개 행)" in info.value.message


def test_a_learning_curve_tunes_each_size_and_seed_and_continues_with_new_sizes(
    data_dir: Path, llama: Path, tmp_path: Path
) -> None:
    recipe = base_recipe(
        llama, "learning-curve", sizes=[30], seeds=[0, 1], stratify="Completion", group_by=["size"]
    )
    out = tmp_path / "run"
    result = _run(data_dir, recipe, out)
    assert [e.variant.key for e in result.evaluations] == ["rand", "rand-n30-s0", "rand-n30-s1"]
    assert [(p.size, p.seeds, p.n) for p in result.curve] == [(30, 2, 18)]
    assert [t.spec.seed for t in result.tunings] == [0, 1]

    grown = _run(data_dir, recipe | {"sizes": [30, 60]}, out)
    summary = _summary(out)
    reused = {t["variant"]: t["reused"] for t in summary["tunings"]}
    assert reused == {
        "rand-n30-s0": True,
        "rand-n30-s1": True,
        "rand-n60-s0": False,
        "rand-n60-s1": False,
    }
    answered = {v["model"]: v["answered_now"] for v in summary["variants"]}
    assert answered == {
        "rand": 0,
        "rand-n30-s0": 0,
        "rand-n30-s1": 0,
        "rand-n60-s0": 9,
        "rand-n60-s1": 9,
    }
    assert [p.size for p in grown.curve] == [30, 60]
    small, large = (
        {row["Text"] for row in read_table(out / "data" / f"train-n{n}-s0.csv").rows}
        for n in (30, 60)
    )
    assert len(small) == 30 and small < large  # nested samples
    html = (out / "report.html").read_text("utf-8")
    assert "Learning curve" in html and "crossed bootstrap" in html
    assert {"learning_curve.png", "by_size.png", "loss.png"} <= {
        p.name for p in (out / "charts").iterdir()
    }


def test_bad_settings_fail_before_any_model_work(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    scorer = base_recipe("/no/model", "compare", scorers=[{"name": "style", "options": {}}])
    with pytest.raises(ConfigError) as info:
        _run(data_dir, scorer, out)
    assert info.value.where is not None and info.value.where.endswith(
        "recipe.yaml: scorers.0.options.target"
    )
    grouped = base_recipe("/no/model", "compare", group_by=["skill"])
    with pytest.raises(ConfigError) as info:
        _run(data_dir, grouped, out)
    assert "skill" in info.value.message and "size" in (info.value.hint or "")
    too_big = base_recipe("/no/model", "learning-curve", sizes=[500])
    with pytest.raises(ConfigError) as info:
        _run(data_dir, too_big, out)
    assert "500" in info.value.message and "120" in info.value.message
    assert not (out / "outputs").exists()  # nothing was answered


def test_a_pairwise_judge_judges_each_pair_once_and_is_journaled(
    data_dir: Path, llama: Path, tmp_path: Path
) -> None:
    from tests.unit.evaluation.rule_judges import ReferenceJudge, served

    judge = ReferenceJudge()
    with served(judge) as (_, _server, spec):
        recipe = base_recipe(
            llama,
            "compare",
            models=[
                {"name": "a", "spec": f"hf:{llama}"},
                {"name": "b", "spec": f"hf:{llama}", "system": "답만 쓰세요."},
            ],
            judge={"model": spec, "pairwise": True},
        )
        out = tmp_path / "run"
        result = _run(data_dir, recipe, out)
        calls = sum(judge.seen.values())
        assert calls == 2 * 9  # every pair in both orders
        assert [row["answers"] for row in result.judge] == ["a vs b"]
        assert result.judge[0]["pairs"] == 9 and "swap_consistency" in result.judge[0]
        assert (out / "journals" / "judge-a-vs-b.jsonl").is_file()
        assert "LLM judge" in (out / "report.html").read_text("utf-8")
        _run(data_dir, recipe, out)
        assert sum(judge.seen.values()) == calls  # the rerun asked the judge nothing


def test_a_pairwise_judge_needs_pairs(data_dir: Path) -> None:
    one = base_recipe(kind="compare", judge={"model": "tiny", "pairwise": True})
    with pytest.raises(ConfigError) as info:
        load_recipe(write_recipe(data_dir, one))
    assert "add a second one" in info.value.message
