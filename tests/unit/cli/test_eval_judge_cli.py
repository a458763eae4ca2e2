"""``tunestudio eval judge`` and ``eval pair`` against rule-based judges over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_runner import Result, run_cli
from tests.http_servers import OpenAIServer
from tests.unit.evaluation.rule_judges import (
    AFTER,
    BEFORE,
    ChattyJudge,
    FirstJudge,
    ReferenceJudge,
    served,
    write_predictions,
)
from tunestudio.data.table import read_table, write_table


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("judge-cli")
    return {
        "before": write_predictions(folder / "before.csv", BEFORE),
        "after": write_predictions(folder / "after.csv", AFTER),
    }


@pytest.fixture(scope="module")
def reference() -> Iterator[tuple[OpenAIServer, str]]:
    with served(ReferenceJudge()) as (_, server, spec):
        yield server, spec


def _text(result: Result) -> str:
    assert "Traceback" not in result.stdout + result.stderr
    return " ".join(result.stdout.split())


def test_judge_scores_slices_and_writes_the_judged_table(
    files: dict[str, Path], reference: tuple[OpenAIServer, str], tmp_path: Path
) -> None:
    server, spec = reference
    out, chart = tmp_path / "judged.xlsx", tmp_path / "by-skill.png"
    args = ("eval", "judge", files["before"], "--judge", spec, "-o", out, "--by", "skill")
    result = run_cli(*args, "--chart", chart)
    text = _text(result)
    assert result.exit_code == 0, result.stderr
    assert "rows 6: scored 5, judge failed 0, candidate failed 1" in text
    assert "mean score 4.80 (sd 3.83)" in text
    assert "평균 점수 by skill" in text and "분류 5.50 2 0" in text and "요약 2.00 1 1" in text
    assert "note: no journal beside before.csv says which model wrote it" in text
    table = read_table(out)
    assert table.columns[:7] == [
        "system",
        "user",
        "expected",
        "skill",
        "difficulty",
        "content",
        "error",
    ]
    assert table.columns[7:] == ["judge_score", "judge_reason", "judge_error", "judge_status"]
    assert [row["judge_score"] for row in table.rows] == ["9", "2", "9", "2", "2", ""]
    assert table.rows[5]["judge_status"] == "candidate_failed"
    assert chart.stat().st_size > 10_000
    calls = len(server.seen.requests)
    again = _text(run_cli(*args))
    assert len(server.seen.requests) == calls  # every verdict came from the journal
    assert "5 from the journal; 0 called" in again


def test_pair_reports_wins_ties_and_swap_consistency(
    files: dict[str, Path], reference: tuple[OpenAIServer, str], tmp_path: Path
) -> None:
    _, spec = reference
    out = tmp_path / "pairs.csv"
    result = run_cli(
        "eval", "pair", files["before"], files["after"], "--judge", spec,
        "--names", "before,after", "-o", out, "--by", "difficulty", "--chart", tmp_path / "p.png",
    )  # fmt: skip
    text = _text(result)
    assert result.exit_code == 0, result.stderr
    assert "pairs 6: judged in both orders 5, judge failed 0, candidate failed 1" in text
    assert "before wins 0 (0.0%) after wins 2 (40.0%) ties 3 (60.0%)" in text
    assert "swap consistency 100.0% of 5 pairs judged in both orders" in text
    assert (
        "after 승률 by difficulty" in text
        and "1 0.50 3 0" in text
        and "2 1.00 2 0" in text
        and "3 — 0 1" in text
    )
    table = read_table(out)
    assert table.columns == [
        "system", "user", "expected", "skill", "difficulty",
        "answer_before", "answer_after", "error_before",
        "verdict_ab", "verdict_ba", "final", "reason_ab", "reason_ba", "judge_error",
    ]  # fmt: skip
    assert [row["final"] for row in table.rows] == [
        "tie", "after", "tie", "after", "tie", "candidate_failed",
    ]  # fmt: skip
    assert table.rows[5]["error_before"] == "ModelUnavailableError: server down"
    assert (tmp_path / "p.png").exists()


def test_a_position_biased_judge_shows_as_inconsistent(files: dict[str, Path]) -> None:
    with served(FirstJudge()) as (_, _, spec):
        result = run_cli("eval", "pair", files["before"], files["after"], "--judge", spec)
    text = _text(result)
    assert result.exit_code == 0
    assert "before wins 0 (0.0%) after wins 0 (0.0%) ties 0 (0.0%) inconsistent 5 (100.0%)" in text
    assert "swap consistency 0.0% of 5 pairs judged in both orders" in text


def test_a_judge_that_never_scores_exits_1_and_says_so(
    files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "judged.csv"
    with served(ChattyJudge()) as (_, _, spec):
        result = run_cli("eval", "judge", files["after"], "--judge", spec, "-o", out)
    text = _text(result)
    assert result.exit_code == 1
    assert "scored 0, judge failed 6" in text and "mean score — (nothing scored)" in text
    assert "6 row(s) have no score" in text and "not counted as low scores" in text
    assert {row["judge_status"] for row in read_table(out).rows} == {"judge_failed"}


def test_judging_the_judges_own_answers_is_warned_about(
    files: dict[str, Path], reference: tuple[OpenAIServer, str], tmp_path: Path
) -> None:
    _, spec = reference
    questions = write_table(tmp_path / "q.csv", ["user"], [{"user": "배송이 아직 안 왔어요"}])
    answers = tmp_path / "answers.csv"
    assert run_cli("infer", spec, questions, "-o", answers).exit_code == 0
    text = _text(run_cli("eval", "judge", answers, "--judge", spec))
    assert f"warning: the judge {spec} is also the candidate 'answers.csv'" in text


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--rubric", "general"), "rubric: unknown rubric 'general'"),
        (("--by", "domain"), "--by: 열 'domain' 이(가) 예측 파일에 없습니다"),
        (("--chart", "x.jpg"), "the chart is written as PNG"),
        (("--var", "no-equals"), "--var 'no-equals' is not NAME=VALUE"),
        (("--var", "answer=x"), "answer is set by the judge itself"),
        (("--answer-column", "reply"), "답변 열 'reply' 이(가) 없습니다"),
    ],
)
def test_bad_options_fail_before_any_judge_call(
    files: dict[str, Path],
    reference: tuple[OpenAIServer, str],
    extra: tuple[str, ...],
    message: str,
) -> None:
    server, spec = reference
    calls = len(server.seen.requests)
    result = run_cli("eval", "judge", files["after"], "--judge", spec, *extra)
    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split()) and "hint:" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(server.seen.requests) == calls


def test_pair_refuses_bad_names_other_test_sets_and_overwriting_an_input(
    files: dict[str, Path], reference: tuple[OpenAIServer, str], tmp_path: Path
) -> None:
    server, spec = reference
    calls = len(server.seen.requests)
    other = [*AFTER[:2], "결제", *AFTER[3:]]
    changed = write_predictions(tmp_path / "other.csv", other)
    table = read_table(changed)
    table.rows[2]["user"] = "다른 질문"
    write_table(changed, table.columns, table.rows)
    cases = [
        (("--judge", "gpt5"), "unknown model spec 'gpt5'"),
        (("--names", "only"), "--names: --names needs two different names"),
        (("--names", "x,x"), "--names needs two different names"),
        (("-o", files["before"]), "the output would overwrite the input file"),
    ]
    for extra, message in cases:
        result = run_cli("eval", "pair", files["before"], files["after"], "--judge", spec, *extra)
        assert result.exit_code == 2 and message in " ".join(result.stderr.split())
    result = run_cli("eval", "pair", files["before"], changed, "--judge", spec)
    error = " ".join(result.stderr.split())
    assert result.exit_code == 2 and "Traceback" not in error
    assert "before.csv row 4 / other.csv row 4: 같은 자리의 질문이 다릅니다" in error
    assert "'비밀번호를 잊어버렸어요' / '다른 질문'" in error
    assert len(server.seen.requests) == calls
