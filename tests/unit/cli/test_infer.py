"""``tunestudio infer``: real models (tiny, openai over HTTP), real files, real kills."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_runner import run_cli
from tests.http_servers import LiveServer, OpenAIServer
from tests.unit.inference.local_models import (  # noqa: F401  (fixtures)
    llama_dir_fixture,
    tiny_built_fixture,
    tiny_home_fixture,
)
from tests.unit.inference.scripted import ScriptedBackend, answer_for
from tunestudio.data.table import read_table, write_table
from tunestudio.inference import OUTPUT_COLUMNS, journal_beside, read_batch_input
from tunestudio.models import load_backend
from tunestudio.types import GenParams


def _no_traceback(text: str) -> None:
    assert "Traceback" not in text


def test_a_missing_user_column_is_a_clear_error(tmp_path: Path) -> None:
    source = write_table(tmp_path / "q.csv", ["system", "question"], [{"question": "환불?"}])
    result = run_cli("infer", "tiny", source, "-o", tmp_path / "out.csv")
    assert result.exit_code == 2
    assert f"error: {source}: 질문 열을 찾지 못했습니다. 이 파일의 열: system, question" in (
        " ".join(result.stderr.split())
    )
    assert "hint:" in result.stderr and "`user`" in result.stderr
    _no_traceback(result.stderr)
    assert not (tmp_path / "out.csv").exists()


def test_an_unreadable_input_and_a_bad_output_name_are_clear_errors(tmp_path: Path) -> None:
    missing = run_cli("infer", "tiny", tmp_path / "nope.csv", "-o", tmp_path / "out.csv")
    assert missing.exit_code == 2 and "file not found" in missing.stderr
    source = write_table(tmp_path / "t.csv", ["user"], [{"user": "질문"}])
    bad = run_cli("infer", "tiny", source, "-o", tmp_path / "out.txt")
    assert bad.exit_code == 2 and "cannot tell the format from the extension" in bad.stderr
    same = run_cli("infer", "tiny", source, "-o", source)
    assert same.exit_code == 2 and "overwrite the input" in same.stderr
    spec = run_cli("infer", "gpt5", source, "-o", tmp_path / "out.csv")
    assert spec.exit_code == 2 and "unknown model spec 'gpt5'" in spec.stderr
    for result in (missing, bad, same, spec):
        _no_traceback(result.stderr)


QUESTIONS = [f"{i}번 문의: 결제가 두 번 됐어요" for i in range(30)]


@pytest.fixture
def served() -> Iterator[tuple[OpenAIServer, str]]:
    """An OpenAI-compatible server on 127.0.0.1 answering ``답: <question>``."""
    server = OpenAIServer(ScriptedBackend(), model="fixture")
    with LiveServer(server.app) as live:
        yield server, f"openai:{live.url}/v1#fixture"


def _asked(server: OpenAIServer) -> Counter[str]:
    """How often the server was asked each question."""
    return Counter(seen.body["messages"][-1]["content"] for seen in server.seen.requests)


def _testset(path: Path, questions: list[str]) -> Path:
    rows = [{"system": "분류하세요", "user": q, "expected": "결제"} for q in questions]
    return write_table(path, ["system", "user", "expected"], rows)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".jsonl"])
def test_output_has_every_input_row_and_column_plus_the_answers(
    served: tuple[OpenAIServer, str], tmp_path: Path, suffix: str
) -> None:
    server, spec = served
    source = _testset(tmp_path / f"test{suffix}", QUESTIONS[:7])
    out = tmp_path / f"answers{suffix}"
    result = run_cli("infer", spec, source, "-o", out, "--concurrency", "4")
    assert result.exit_code == 0, result.stderr
    table = read_table(out)
    assert table.columns == ["system", "user", "expected", *OUTPUT_COLUMNS]
    assert [r["user"] for r in table.rows] == QUESTIONS[:7]
    assert [r["content"] for r in table.rows] == [answer_for(q) for q in QUESTIONS[:7]]
    assert {str(r["role"]) for r in table.rows} == {"assistant"}
    assert all(str(r["error"]) == "" and int(r["input_tokens"]) > 0 for r in table.rows)
    assert sum(_asked(server).values()) == 7
    assert "7 (ok 7)" in result.stdout and "rows/s" in result.stdout
    assert journal_beside(out).exists() and str(journal_beside(out)) in result.stdout


def test_kill_9_and_rerun_finishes_without_calling_a_finished_row_again(
    served: tuple[OpenAIServer, str], tmp_path: Path
) -> None:
    server, spec = served
    server.latency = 0.1  # ~1.5 s for 30 rows two at a time: time to kill it half-way
    source = _testset(tmp_path / "test.csv", QUESTIONS)
    out = tmp_path / "answers.xlsx"
    args = ["infer", spec, str(source), "-o", str(out), "--concurrency", "2"]
    command = [sys.executable, "-m", "tunestudio.cli.main", *args]
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    journal = journal_beside(out)
    finished = _wait_for_rows(journal, 5, child)
    child.kill()  # SIGKILL: no clean-up of any kind
    child.wait(timeout=10)
    assert not out.exists() and 5 <= len(_journaled(journal)) < 30
    finished = _journaled(journal)
    with journal.open("ab") as fh:
        fh.write(b'{"i": 29, "input": "3f2a')  # as if killed in the middle of a write
    result = run_cli(*args)
    assert result.exit_code == 0, result.stderr
    assert f"has {len(finished)} of 30 rows" in result.stdout
    asked = _asked(server)
    assert all(asked[QUESTIONS[i]] == 1 for i in finished)  # never called twice
    assert set(asked) == set(QUESTIONS)
    table = read_table(out)
    assert [r["user"] for r in table.rows] == QUESTIONS  # every row once, in input order
    assert [r["content"] for r in table.rows] == [answer_for(q) for q in QUESTIONS]


def _wait_for_rows(journal: Path, count: int, child: subprocess.Popen[bytes]) -> list[int]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise AssertionError(
                f"infer ended early: {child.stderr.read() if child.stderr else ''}"
            )
        if len(done := _journaled(journal)) >= count:
            return done
        time.sleep(0.01)
    raise AssertionError("the journal never got rows")


def _journaled(journal: Path) -> list[int]:
    if not journal.exists():
        return []
    lines = journal.read_bytes().split(b"\n")[1:-1]  # header first; the last piece may be torn
    return [json.loads(line)["i"] for line in lines]


def test_failed_rows_are_kept_with_their_error_and_retried_on_request(
    served: tuple[OpenAIServer, str], tmp_path: Path
) -> None:
    server, spec = served
    server.faults.add(status=400, message="이 질문은 거절합니다")
    source = _testset(tmp_path / "test.csv", QUESTIONS[:4])
    out = tmp_path / "answers.csv"
    args = ["infer", spec, source, "-o", out, "--concurrency", "1"]
    first = run_cli(*args)
    assert first.exit_code == 1
    assert "1 row(s) failed" in first.stdout and "--retry-failed" in first.stdout
    rows = read_table(out).rows
    assert rows[0]["content"] == "" and "이 질문은 거절합니다" in rows[0]["error"]
    assert [r["content"] for r in rows[1:]] == [answer_for(q) for q in QUESTIONS[1:4]]
    again = run_cli(*args)  # failed rows are finished rows: not called again by default
    assert again.exit_code == 1 and sum(_asked(server).values()) == 4
    retried = run_cli(*args, "--retry-failed")
    assert retried.exit_code == 0, retried.stderr
    assert _asked(server) == Counter({QUESTIONS[0]: 2, **{q: 1 for q in QUESTIONS[1:4]}})
    rows = read_table(out).rows
    assert [r["content"] for r in rows] == [answer_for(q) for q in QUESTIONS[:4]]
    assert all(r["error"] == "" for r in rows)


def test_a_journal_of_another_run_or_input_is_refused_until_fresh(
    served: tuple[OpenAIServer, str], tmp_path: Path
) -> None:
    server, spec = served
    source = _testset(tmp_path / "test.csv", QUESTIONS[:3])
    out = tmp_path / "answers.jsonl"
    assert run_cli("infer", spec, source, "-o", out).exit_code == 0
    hotter = run_cli("infer", spec, source, "-o", out, "--temperature", "0.5")
    assert hotter.exit_code == 2
    text = " ".join(hotter.stderr.split())
    assert "the journal belongs to another run: temperature 0.0 → 0.5" in text
    assert "--fresh" in text
    _no_traceback(hotter.stderr)
    _testset(source, [QUESTIONS[0], "바뀐 질문", QUESTIONS[2]])
    changed = run_cli("infer", spec, source, "-o", out)
    assert changed.exit_code == 2
    assert "test.csv row 3: this row is not the row the journal" in " ".join(changed.stderr.split())
    assert sum(_asked(server).values()) == 3  # refused before any call
    fresh = run_cli("infer", spec, source, "-o", out, "--fresh")
    assert fresh.exit_code == 0, fresh.stderr
    assert [r["content"] for r in read_table(out).rows][1] == answer_for("바뀐 질문")


def test_a_local_model_answers_in_batches_exactly_as_one_by_one(
    llama_dir: Path, tmp_path: Path
) -> None:
    spec = f"hf:{llama_dir}"
    source = _testset(tmp_path / "test.csv", QUESTIONS[:9])
    out = tmp_path / "answers.jsonl"
    result = run_cli("infer", spec, source, "-o", out, "--batch-size", "4", "--max-tokens", "6")
    assert result.exit_code == 0, result.stderr
    assert "batches of up to 4 rows" in result.stdout
    backend = load_backend(spec)
    params = GenParams(max_tokens=6)
    alone = [backend.chat(m, params) for m in read_batch_input(source).conversations]
    rows = read_table(out).rows
    assert [r["content"] for r in rows] == [a.content for a in alone]
    assert [r["input_tokens"] for r in rows] == [a.usage.input_tokens for a in alone]
    assert [r["user"] for r in rows] == QUESTIONS[:9]


@pytest.mark.slow
def test_tiny_answers_the_inquiry_test_set(tiny_home: Path, tmp_path: Path) -> None:
    source = _inquiry_test_set(tmp_path)
    out = tmp_path / "out.xlsx"
    result = run_cli("infer", "tiny", source, "-o", out, "--max-tokens", "24")
    assert result.exit_code == 0, result.stderr
    given, answered = read_table(source), read_table(out)
    assert answered.columns == [*given.columns, *OUTPUT_COLUMNS]
    assert [r["user"] for r in answered.rows] == [r["user"] for r in given.rows]
    assert all(r["content"] and not r["error"] for r in answered.rows)
    assert len(answered.rows) == len(given.rows)


def _inquiry_test_set(tmp_path: Path) -> Path:
    """examples/inquiry/test.xlsx, or the same kind of rows from the inquiry generator."""
    shipped = Path(__file__).resolve().parents[3] / "examples/inquiry/test.xlsx"
    if shipped.exists():
        return shipped
    from tunestudio.data.formats import save_dataset
    from tunestudio.data.generators.inquiries import generate_inquiries

    return save_dataset(generate_inquiries(40, split="test"), tmp_path / "test.xlsx", "testset")


def test_a_clova_dataset_is_answered_turn_by_turn_with_its_history(
    served: tuple[OpenAIServer, str], tmp_path: Path
) -> None:
    server, spec = served
    columns = ["System_Prompt", "C_ID", "T_ID", "Text", "Completion"]
    rows = [
        {"System_Prompt": "상담원", "C_ID": 0, "T_ID": 0, "Text": "안녕", "Completion": "네"},
        {"System_Prompt": "상담원", "C_ID": 0, "T_ID": 1, "Text": "환불?", "Completion": "가능"},
        {"System_Prompt": "상담원", "C_ID": 1, "T_ID": 0, "Text": "사진", "Completion": "MYBOX"},
    ]
    source = write_table(tmp_path / "train.csv", columns, rows)
    out = tmp_path / "answers.csv"
    result = run_cli("infer", spec, source, "-o", out, "--concurrency", "1")
    assert result.exit_code == 0, result.stderr
    sent = [[m["content"] for m in seen.body["messages"]] for seen in server.seen.requests]
    assert sent == [["상담원", "안녕"], ["상담원", "안녕", "네", "환불?"], ["상담원", "사진"]]
    table = read_table(out)
    assert table.columns == [*columns, *OUTPUT_COLUMNS]
    assert [r["content"] for r in table.rows] == [answer_for(q) for q in ("안녕", "환불?", "사진")]
