"""judge_single / judge_pairwise against rule-based judges over real HTTP, and tiny as a judge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.http_servers import Fault
from tests.unit.evaluation.rule_judges import (
    AFTER,
    BEFORE,
    ChattyJudge,
    DriftingJudge,
    FirstJudge,
    ReferenceJudge,
    served,
    write_predictions,
)
from tests.unit.inference.local_models import (  # noqa: F401  (fixtures)
    tiny_built_fixture,
    tiny_home_fixture,
)
from tunestudio.errors import ConfigError, DataError
from tunestudio.evaluation.judge import DifferentTestSetsError, judge_pairwise, judge_single
from tunestudio.evaluation.judge_rubric import load_rubric
from tunestudio.evaluation.predictions import Prediction, read_predictions
from tunestudio.inference import BatchProgress
from tunestudio.models import load_backend

RUBRIC = load_rubric("general-ko")


def _items(tmp_path: Path, name: str, answers: list[str | None]) -> list[Prediction]:
    return read_predictions(write_predictions(tmp_path / f"{name}.csv", answers)).items


def test_single_scores_every_answer_and_keeps_candidate_failures_apart(tmp_path: Path) -> None:
    items = _items(tmp_path, "before", BEFORE)
    with served(ReferenceJudge()) as (judge, server, spec):
        report = judge_single(judge, items, RUBRIC)
    assert [row.score for row in report.rows] == [9, 2, 9, 2, 2, None]
    assert [row.status for row in report.rows][-2:] == ["scored", "candidate_failed"]
    assert len(server.seen.requests) == 5  # the failed answer is never sent
    m = report.metrics
    assert (m["scored"], m["judge_failed"], m["candidate_failed"]) == (5, 0, 1)
    assert m["mean_score"] == pytest.approx(24 / 5)
    assert m["judge_failure_rate"] == 0 and m["candidate_failure_rate"] == pytest.approx(1 / 6)
    assert report.rows[0].reason == "참고 답변과 비교함"
    sent = server.seen.requests[0].body
    assert sent["temperature"] == 0.0 and sent["max_tokens"] == 512
    shown = [r.body["messages"][-1]["content"] for r in server.seen.requests]
    assert (
        sum(
            "[질문]\n환불은 언제 되나요?\n\n[참고 답변]\n환불\n\n[평가할 답변]\n배송" in text
            for text in shown
        )
        == 1
    )
    assert report.judge == spec and report.warnings == []


def test_unreadable_replies_are_judge_failures_not_low_scores(tmp_path: Path) -> None:
    items = _items(tmp_path, "after", AFTER)
    with served(ChattyJudge()) as (judge, _, _):
        report = judge_single(judge, items, RUBRIC)
    assert all(row.status == "judge_failed" and row.score is None for row in report.rows)
    assert "no score in the judge's reply: '좋은 답변입니다." in report.rows[0].judge_error
    assert report.metrics["judge_failure_rate"] == 1.0
    assert "mean_score" not in report.metrics
    assert report.columns()["judge_status"] == ["judge_failed"] * 6


def test_pairwise_asks_both_orders_and_maps_the_swapped_verdict_back(tmp_path: Path) -> None:
    before, after = _items(tmp_path, "before", BEFORE), _items(tmp_path, "after", AFTER)
    with served(ReferenceJudge()) as (judge, server, _):
        report = judge_pairwise(judge, before, after, RUBRIC, names=("before", "after"))
    assert [row.final for row in report.rows] == ["tie", "b", "tie", "b", "tie", "candidate_failed"]
    assert [(r.verdict_ab, r.verdict_ba) for r in report.rows[:2]] == [
        ("tie", "tie"),
        ("b", "b"),
    ]
    shown = [r.body["messages"][-1]["content"] for r in server.seen.requests]
    assert len(shown) == 10
    assert sum("[답변 A]\n배송\n\n[답변 B]\n환불" in text for text in shown) == 1
    assert sum("[답변 A]\n환불\n\n[답변 B]\n배송" in text for text in shown) == 1
    m = report.metrics
    assert (m["judged"], m["b_wins"], m["ties"], m["a_wins"]) == (5, 2, 3, 0)
    assert m["swap_consistency"] == 1.0 and m["b_win_rate"] == pytest.approx(0.4)
    assert m["b_score"] == pytest.approx((2 + 1.5) / 5)
    assert report.columns()["final"][:2] == ["tie", "after"]


def test_a_judge_that_always_picks_the_first_answer_is_inconsistent_everywhere(
    tmp_path: Path,
) -> None:
    before, after = _items(tmp_path, "before", BEFORE), _items(tmp_path, "after", AFTER)
    with served(FirstJudge()) as (judge, _, _):
        report = judge_pairwise(judge, before, after, RUBRIC)
    judged = [row for row in report.rows if row.final != "candidate_failed"]
    assert {(r.verdict_ab, r.verdict_ba, r.final) for r in judged} == {("a", "b", "inconsistent")}
    m = report.metrics
    assert m["swap_consistency"] == 0.0 and m["inconsistent_rate"] == 1.0
    assert m["a_wins"] == m["b_wins"] == 0


def test_two_runs_of_different_test_sets_are_refused(tmp_path: Path) -> None:
    before = _items(tmp_path, "before", BEFORE)
    shuffled = [*before[1:], before[0]]
    with served(ReferenceJudge()) as (judge, server, _):
        with pytest.raises(DifferentTestSetsError) as caught:
            judge_pairwise(judge, before, shuffled, RUBRIC)
        assert caught.value.index == 0 and "같은 자리의 질문이 다릅니다" in caught.value.message
        with pytest.raises(DifferentTestSetsError, match="행 수가 다릅니다"):
            judge_pairwise(judge, before, before[:3], RUBRIC)
    assert server.seen.requests == []


def test_a_killed_judge_run_resumes_from_its_journal(tmp_path: Path) -> None:
    items = _items(tmp_path, "after", AFTER)
    journal = tmp_path / "judge.journal.jsonl"

    def stop_after_three(state: BatchProgress) -> None:
        if state.done >= 3:
            raise KeyboardInterrupt

    with served(ReferenceJudge()) as (judge, server, _):
        with pytest.raises(KeyboardInterrupt):
            judge_single(
                judge, items, RUBRIC, journal_path=journal, concurrency=1, progress=stop_after_three
            )
        assert len(server.seen.requests) == 3
        report = judge_single(judge, items, RUBRIC, journal_path=journal)
        assert len(server.seen.requests) == 6 and report.batch.resumed == 3
        again = judge_single(judge, items, RUBRIC, journal_path=journal, repeats=2)
    # A second repeat extends the journal: only the six new calls are made.
    assert len(server.seen.requests) == 12 and again.batch.resumed == 6
    assert [row.score for row in report.rows] == [9, 9, 9, 9, 2, 9]
    header = json.loads(journal.read_text(encoding="utf-8").splitlines()[0])
    assert header["model"] == judge.name


def test_server_errors_are_retried_and_a_rejected_call_is_a_judge_failure(tmp_path: Path) -> None:
    items = _items(tmp_path, "after", AFTER)
    journal = tmp_path / "judge.journal.jsonl"
    with served(ReferenceJudge()) as (judge, server, _):
        server.faults.add(Fault(status=503, message="busy"), times=2)
        retried = judge_single(judge, items, RUBRIC, concurrency=1)
        assert retried.metrics["scored"] == 6 and len(server.seen.requests) == 8
        server.faults.add(Fault(status=400, message="prompt rejected"))
        report = judge_single(judge, items, RUBRIC, concurrency=1, journal_path=journal)
        failed = [row for row in report.rows if row.status == "judge_failed"]
        assert len(failed) == 1 and "the judge call failed: " in failed[0].judge_error
        assert "prompt rejected" in failed[0].judge_error
        assert report.metrics["judge_failure_rate"] == pytest.approx(1 / 6)
        fixed = judge_single(judge, items, RUBRIC, journal_path=journal, retry_failed=True)
    assert fixed.metrics["scored"] == 6 and fixed.batch.called == 1


def test_repeats_report_how_much_the_judge_varies(tmp_path: Path) -> None:
    items = _items(tmp_path, "after", AFTER)
    with served(DriftingJudge()) as (judge, _, _):
        report = judge_single(judge, items, RUBRIC, repeats=3)
    # Calls run concurrently, so which repeat drew the 8 varies; the multiset does not.
    assert {tuple(sorted(row.scores)) for row in report.rows} == {(7, 7, 8)}
    assert report.rows[0].score == pytest.approx(22 / 3)
    assert report.rows[0].spread == pytest.approx(0.57735, abs=1e-4)
    m = report.metrics
    assert m["repeat_variance"] == pytest.approx(1 / 3) and m["repeat_agreement"] == 0.0
    assert sorted(report.columns()["judge_scores"][0].split(", ")) == ["7", "7", "8"]
    assert any("temperature 0" in w for w in report.warnings)


def test_a_judge_of_the_candidates_family_is_warned_about(tmp_path: Path) -> None:
    items = _items(tmp_path, "after", AFTER)
    with served(ReferenceJudge()) as (judge, _, spec):
        report = judge_single(judge, items, RUBRIC, candidates={"after": spec})
    assert len(report.warnings) == 1 and "is also the candidate 'after'" in report.warnings[0]


def test_rubric_problems_stop_the_run_before_any_call(tmp_path: Path) -> None:
    items = _items(tmp_path, "after", AFTER)
    rubric = tmp_path / "typo.yaml"
    rubric.write_text(
        "name: typo\nsingle:\n  prompt: '{{ question }} {{ answr }} {{ skill }}'\n",
        encoding="utf-8",
    )
    no_questions = [Prediction(i, "", "x", "y") for i in range(2)]
    with served(ReferenceJudge()) as (judge, server, _):
        with pytest.raises(ConfigError, match=r"uses \{\{ answr \}\}") as caught:
            judge_single(judge, items, load_rubric(rubric))
        assert "columns: " in (caught.value.hint or "") and "skill" in (caught.value.hint or "")
        with pytest.raises(ConfigError, match="has no `pairwise` template"):
            judge_pairwise(judge, items, items, load_rubric(rubric))
        with pytest.raises(DataError, match="질문을 찾지 못했습니다"):
            judge_single(judge, no_questions, RUBRIC)
        with pytest.raises(ConfigError, match="repeats must be at least 1"):
            judge_single(judge, items, RUBRIC, repeats=0)
    assert server.seen.requests == []


@pytest.mark.slow
def test_tiny_cannot_judge_and_its_replies_are_counted_as_judge_failures(
    tmp_path: Path, tiny_home: Path
) -> None:
    before, after = _items(tmp_path, "before", BEFORE), _items(tmp_path, "after", AFTER)
    tiny = load_backend("tiny")
    try:
        single = judge_single(tiny, after, RUBRIC)
        pairs = judge_pairwise(tiny, before, after, RUBRIC, candidates={"after": "tiny"})
    finally:
        tiny.close()
    assert single.metrics["scored"] == 0 and single.metrics["judge_failed"] == 6
    # Its replies are labels and questions from its pre-training, quoted in judge_error.
    assert all("score" in row.judge_error for row in single.rows)
    assert pairs.metrics["judged"] == 0 and pairs.metrics["judge_failed"] == 5
    assert pairs.metrics["candidate_failed"] == 1 and "swap_consistency" not in pairs.metrics
    assert "is also the candidate 'after'" in pairs.warnings[0]
