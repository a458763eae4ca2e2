"""``tunestudio chat``: the playground loop fed through stdin, against a real HTTP model."""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_runner import Result, run_cli
from tests.http_servers import LiveServer, OpenAIServer
from tests.unit.inference.local_models import (  # noqa: F401  (fixtures)
    tiny_built_fixture,
    tiny_home_fixture,
)
from tests.unit.inference.scripted import ScriptedBackend, answer_for


@pytest.fixture
def served() -> Iterator[tuple[OpenAIServer, str]]:
    """An OpenAI-compatible server on 127.0.0.1 streaming ``답: <question>``."""
    server = OpenAIServer(ScriptedBackend(), model="fixture")
    with LiveServer(server.app) as live:
        yield server, f"openai:{live.url}/v1#fixture"


def _chat(monkeypatch: pytest.MonkeyPatch, *args: str, typed: str) -> Result:
    monkeypatch.setattr(sys, "stdin", io.StringIO(typed))
    return run_cli("chat", *args)


def _input_tokens(stdout: str) -> list[int]:
    return [int(n) for n in re.findall(r"in (\d+) tok · out \d+ tok", stdout)]


def test_message_option_answers_once_for_scripts(served: tuple[OpenAIServer, str]) -> None:
    server, spec = served
    result = run_cli("chat", spec, "-m", "환불은 언제 되나요?", "--system", "짧게")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == answer_for("환불은 언제 되나요?") + "\n"  # the answer alone
    assert re.search(r"in \d+ tok · out \d+ tok · [\d.]+ s", result.stderr)
    assert server.seen.last.body["messages"][0] == {"role": "system", "content": "짧게"}
    assert server.seen.last.body["stream"] is True


def test_history_grows_and_reset_really_clears_it(
    served: tuple[OpenAIServer, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, spec = served
    typed = "안녕\n안녕\n/reset\n안녕\n/history\n/exit\n"
    result = _chat(monkeypatch, spec, typed=typed)
    assert result.exit_code == 0, result.stderr
    first, second, after_reset = _input_tokens(result.stdout)
    assert second > first and after_reset == first
    assert "history cleared (2 turn(s) forgotten)" in result.stdout
    assert "1. user: 안녕" in result.stdout and "2. user" not in result.stdout
    assert [len(seen.body["messages"]) for seen in server.seen.requests] == [1, 3, 1]
    assert result.stdout.count(answer_for("안녕")) == 3 + 1  # three answers, one in /history


def test_system_and_set_change_the_next_request(
    served: tuple[OpenAIServer, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, spec = served
    typed = "/system 한 단어로 답하세요\n/set temperature 0.3\n/set maxTokens 12\n/set\n질문\n"
    result = _chat(monkeypatch, spec, "--temperature", "0.9", typed=typed)
    assert result.exit_code == 0, result.stderr  # end of input leaves cleanly
    body = server.seen.last.body
    assert body["messages"][0] == {"role": "system", "content": "한 단어로 답하세요"}
    assert (body["temperature"], body["max_tokens"]) == (0.3, 12)
    assert "temperature = 0.3" in result.stdout and "max_tokens = 12" in result.stdout


def test_bad_commands_and_failed_calls_do_not_end_the_session(
    served: tuple[OpenAIServer, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, spec = served
    server.faults.add(status=400, message="이 질문은 받을 수 없습니다")
    typed = "첫 질문\n/set temperature hot\n/set warmth 1\n/teleport\n두 번째\n/exit\n"
    result = _chat(monkeypatch, spec, typed=typed)
    assert result.exit_code == 0
    assert "이 질문은 받을 수 없습니다" in result.stderr
    assert "temperature: 'hot' is not a number ≥ 0" in result.stderr
    assert "unknown parameter 'warmth'" in result.stderr
    assert "unknown command /teleport" in result.stdout
    assert answer_for("두 번째") in result.stdout
    assert len(server.seen.requests[-1].body["messages"]) == 1  # the failed turn was not kept
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_tiny_chats_offline_and_reset_clears_its_history(
    tiny_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    once = run_cli("chat", "tiny", "-m", "안녕하세요")
    assert once.exit_code == 0, once.stderr
    assert once.stdout.strip() and re.search(r"in \d+ tok · out \d+ tok", once.stderr)
    typed = "안녕하세요\n안녕하세요\n/reset\n안녕하세요\n/exit\n"
    result = _chat(monkeypatch, "tiny", "--max-tokens", "24", typed=typed)
    assert result.exit_code == 0, result.stderr
    first, second, after_reset = _input_tokens(result.stdout)
    assert second > first and after_reset == first  # counted by tiny's own tokenizer
