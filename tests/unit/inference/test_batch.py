"""run_batch: order, the three ways of driving a backend, retries, failures and resuming."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit.inference.scripted import ScriptedBackend, answer_for, conversations
from tunestudio.errors import (
    ConfigError,
    ContextLengthError,
    ModelAuthError,
    ModelRateLimitError,
    ModelUnavailableError,
)
from tunestudio.inference import (
    BatchAbortedError,
    BatchProgress,
    JournalError,
    run_batch,
)
from tunestudio.models import Capabilities
from tunestudio.types import GenParams

QUESTIONS = [f"질문 {i}" + "!" * (i % 7) for i in range(40)]


def _contents(result_rows: list) -> list[str]:
    return [r.content for r in result_rows]


def test_sequential_answers_every_row_in_order() -> None:
    backend = ScriptedBackend()
    result = run_batch(backend, conversations(QUESTIONS))
    assert _contents(result.rows) == [answer_for(q) for q in QUESTIONS]
    assert [r.index for r in result.rows] == list(range(len(QUESTIONS)))
    assert backend.calls == QUESTIONS  # one call per row, in order
    assert backend.most_in_flight == 1
    assert result.ok == 40 and result.failed == 0 and result.resumed == 0
    assert result.input_tokens == sum(len(q) for q in QUESTIONS)


def test_concurrent_backend_gets_threads_and_keeps_order() -> None:
    backend = ScriptedBackend(capabilities=Capabilities(concurrent=True), delay_s=0.02)
    result = run_batch(backend, conversations(QUESTIONS), concurrency=10)
    assert _contents(result.rows) == [answer_for(q) for q in QUESTIONS]
    assert sorted(backend.calls) == sorted(QUESTIONS)
    assert 1 < backend.most_in_flight <= 10


def test_batching_backend_gets_batches_of_similar_length_longest_first() -> None:
    backend = ScriptedBackend(capabilities=Capabilities(batching=True))
    result = run_batch(backend, conversations(QUESTIONS), batch_size=16)
    assert _contents(result.rows) == [answer_for(q) for q in QUESTIONS]
    assert [len(b) for b in backend.batches] == [16, 16, 8]
    lengths = [len(q) for batch in backend.batches for q in batch]
    assert lengths == sorted(lengths, reverse=True)
    assert backend.calls == []  # nothing went row by row


def test_a_failing_row_in_a_batch_costs_its_neighbours_nothing() -> None:
    bad = QUESTIONS[5]
    backend = ScriptedBackend(
        capabilities=Capabilities(batching=True),
        failures={bad: [ContextLengthError("too long", hint="shorten it")]},
    )
    result = run_batch(backend, conversations(QUESTIONS), batch_size=16, retries=0)
    failed = [r for r in result.rows if not r.ok]
    assert [r.index for r in failed] == [5]
    assert failed[0].content == ""
    assert failed[0].error == "ContextLengthError: too long (hint: shorten it)"
    # Halving isolated it (16 → 8 → 4 → 2 → 1) instead of 16 calls of one row each.
    assert bad in backend.calls and len(backend.calls) == 2
    assert len(backend.batches) == 3 + 2 * 3  # each halving level: one failed, one fine
    assert result.ok == 39


def test_batches_that_do_not_fit_in_memory_shrink_and_stay_small() -> None:
    backend = ScriptedBackend(capabilities=Capabilities(batching=True), capacity=10)
    result = run_batch(backend, conversations(QUESTIONS), batch_size=32)
    assert _contents(result.rows) == [answer_for(q) for q in QUESTIONS]
    assert [len(b) for b in backend.batches] == [32, 16, 8, 8, 8, 8, 8]
    assert backend.calls == []


def test_unavailable_rows_are_retried_then_succeed() -> None:
    flaky = QUESTIONS[3]
    backend = ScriptedBackend(
        failures={flaky: [ModelUnavailableError("503"), ModelRateLimitError("429", retry_after=0)]}
    )
    result = run_batch(backend, conversations(QUESTIONS[:5]), retries=2, backoff_s=0.001)
    assert result.failed == 0
    assert result.rows[3].attempts == 3
    assert backend.calls.count(flaky) == 3


def test_a_row_failing_after_retries_keeps_its_error() -> None:
    flaky = QUESTIONS[1]
    backend = ScriptedBackend(failures={flaky: [ModelUnavailableError("503 busy")] * 5})
    result = run_batch(backend, conversations(QUESTIONS[:3]), retries=1, backoff_s=0.001)
    assert result.rows[1].error == "ModelUnavailableError: 503 busy"
    assert result.rows[1].attempts == 2
    assert [r.ok for r in result.rows] == [True, False, True]


def test_request_errors_and_bugs_are_not_retried() -> None:
    backend = ScriptedBackend(
        failures={QUESTIONS[0]: [ContextLengthError("long")], QUESTIONS[1]: [ValueError("boom")]}
    )
    result = run_batch(backend, conversations(QUESTIONS[:2]), retries=3, backoff_s=0.001)
    assert [r.error for r in result.rows] == ["ContextLengthError: long", "ValueError: boom"]
    assert backend.calls == QUESTIONS[:2]


def test_a_rejected_key_stops_the_run_and_keeps_finished_rows(tmp_path: Path) -> None:
    journal = tmp_path / "out.jsonl.journal.jsonl"
    backend = ScriptedBackend(failures={QUESTIONS[2]: [ModelAuthError("401")]})
    with pytest.raises(ModelAuthError):
        run_batch(backend, conversations(QUESTIONS[:5]), journal_path=journal)
    rows = journal.read_text(encoding="utf-8").splitlines()[1:]
    assert [json.loads(line)["i"] for line in rows] == [0, 1]


def test_many_failures_in_a_row_stop_the_run() -> None:
    backend = ScriptedBackend(failures={q: [ValueError("down")] for q in QUESTIONS})
    with pytest.raises(BatchAbortedError, match="last 5 rows all failed") as info:
        run_batch(backend, conversations(QUESTIONS), max_consecutive_failures=5)
    assert "ValueError: down" in info.value.message
    assert len(backend.calls) == 5


def test_resume_calls_only_the_rows_the_journal_lacks(tmp_path: Path) -> None:
    journal = tmp_path / "j.jsonl"
    rows = conversations(QUESTIONS)
    first = ScriptedBackend()

    def stop_after_12(state: BatchProgress) -> None:
        if state.done == 12:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_batch(first, rows, journal_path=journal, progress=stop_after_12)
    second = ScriptedBackend()
    result = run_batch(second, rows, journal_path=journal)
    assert second.calls == QUESTIONS[12:]
    assert result.resumed == 12 and result.called == 28
    assert _contents(result.rows) == [answer_for(q) for q in QUESTIONS]
    third = ScriptedBackend()
    again = run_batch(third, rows, journal_path=journal)
    assert third.calls == [] and again.resumed == 40


def test_retry_failed_calls_only_the_failed_rows(tmp_path: Path) -> None:
    journal = tmp_path / "j.jsonl"
    rows = conversations(QUESTIONS[:6])
    bad = {QUESTIONS[1]: [ValueError("x")], QUESTIONS[4]: [ValueError("y")]}
    first = run_batch(ScriptedBackend(failures=bad), rows, journal_path=journal)
    assert first.failed == 2
    plain = ScriptedBackend()
    assert run_batch(plain, rows, journal_path=journal).failed == 2  # kept, not re-called
    assert plain.calls == []
    retry = ScriptedBackend()
    result = run_batch(retry, rows, journal_path=journal, retry_failed=True)
    assert retry.calls == [QUESTIONS[1], QUESTIONS[4]]
    assert result.failed == 0 and result.resumed == 4
    assert _contents(result.rows) == [answer_for(q) for q in QUESTIONS[:6]]


def test_another_model_or_params_or_input_is_refused(tmp_path: Path) -> None:
    journal = tmp_path / "j.jsonl"
    rows = conversations(QUESTIONS[:4])
    run_batch(ScriptedBackend(), rows, journal_path=journal)
    with pytest.raises(JournalError, match=r"model 'scripted' → 'other'"):
        run_batch(ScriptedBackend(name="other"), rows, journal_path=journal)
    with pytest.raises(JournalError, match=r"temperature 0.0 → 0.7") as info:
        run_batch(ScriptedBackend(), rows, journal_path=journal, params=GenParams(temperature=0.7))
    assert "--fresh" in (info.value.hint or "")
    changed = conversations([*QUESTIONS[:2], "바뀐 질문", QUESTIONS[3]])
    with pytest.raises(JournalError) as row_info:
        run_batch(ScriptedBackend(), changed, journal_path=journal)
    assert row_info.value.index == 2
    backend = ScriptedBackend()
    fresh = run_batch(backend, changed, journal_path=journal, fresh=True)
    assert len(backend.calls) == 4 and fresh.resumed == 0


def test_progress_reports_resumed_rows_first_then_every_row(tmp_path: Path) -> None:
    journal = tmp_path / "j.jsonl"
    rows = conversations(QUESTIONS[:10])
    run_batch(ScriptedBackend(), rows[:4], journal_path=journal)
    seen: list[BatchProgress] = []
    run_batch(ScriptedBackend(), rows, journal_path=journal, progress=seen.append)
    assert (seen[0].done, seen[0].total, seen[0].resumed, seen[0].row) == (4, 10, 4, None)
    assert [s.done for s in seen[1:]] == list(range(5, 11))
    assert [s.row.index for s in seen[1:] if s.row] == list(range(4, 10))


def test_bad_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="concurrency must be at least 1"):
        run_batch(ScriptedBackend(), conversations(["a"]), concurrency=0)
