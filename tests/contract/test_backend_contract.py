"""The contract every Backend keeps, run against each backend in ``conftest.CASES``.

Local backends run in-process; remote ones talk over real HTTP to local servers that answer
with the same random hf model, so a remote backend must also agree with that model.
"""

from __future__ import annotations

import unicodedata

import pytest

from tests.contract.conftest import Case
from tunestudio.models import Backend, Capabilities
from tunestudio.types import ChatResult, GenParams, Message

GREEDY = GenParams(max_tokens=16)
KOREAN = [
    Message("system", "너는 친절한 상담원이다. 한국어로 짧게 답한다."),
    Message("user", "결제 내역을 확인하고 싶어요. 환불은 언제 되나요?"),
]
CONVERSATIONS = [
    KOREAN,
    [Message("user", "안녕하세요")],
    [Message("user", "hello world")],
    [Message("user", "사진이"), Message("assistant", "네"), Message("user", "업로드되지 않아요")],
]


def is_hangul(char: str) -> bool:
    return "가" <= char <= "힣"


def looks_like_mojibake(text: str) -> bool:
    """UTF-8 bytes read as Latin-1 (e.g. "ì\\x95\\x88" for "안") re-decode to something else."""
    try:
        return text.encode("latin-1").decode("utf-8") != text
    except (UnicodeEncodeError, UnicodeDecodeError):
        return False


def clean_stop(answer: str) -> tuple[str, int]:
    """A two-character stop string from inside ``answer`` (no U+FFFD, no blanks), at its first
    occurrence."""
    for start in range(1, len(answer) - 1):
        candidate = answer[start : start + 2]
        if "\ufffd" in candidate or not candidate.strip() or len(candidate.strip()) < 2:
            continue
        if answer.index(candidate) == start:
            return candidate, start
    pytest.fail(f"no usable stop string in {answer!r}")


def test_is_a_backend(case: Case) -> None:
    assert isinstance(case.backend, Backend)
    assert isinstance(case.backend.capabilities, Capabilities)
    assert case.backend.name


def test_chat_returns_content_usage_and_finish_reason(case: Case) -> None:
    result = case.backend.chat(KOREAN, GREEDY)
    assert isinstance(result, ChatResult)
    assert result.content
    assert result.usage.input_tokens > 0
    assert 0 < result.usage.output_tokens <= GREEDY.max_tokens
    assert result.finish_reason in {"stop", "length"}
    assert result.model == case.backend.name


def test_temperature_zero_is_deterministic(case: Case) -> None:
    assert case.backend.chat(KOREAN, GREEDY) == case.backend.chat(KOREAN, GREEDY)


def test_max_tokens_is_respected(case: Case) -> None:
    long = case.backend.chat(KOREAN, GenParams(max_tokens=16))
    assert long.usage.output_tokens > 3, "the fixture model should talk for more than 3 tokens"
    short = case.backend.chat(KOREAN, GenParams(max_tokens=3))
    assert short.usage.output_tokens == 3
    assert short.finish_reason == "length"
    assert long.content.startswith(short.content.rstrip("\ufffd"))


def test_stop_strings_are_honoured(case: Case) -> None:
    full = case.backend.chat(KOREAN, GenParams(max_tokens=24)).content
    stop, at = clean_stop(full)
    cut = case.backend.chat(KOREAN, GenParams(max_tokens=24, stop=(stop,)))
    assert cut.content == full[:at]
    assert cut.finish_reason == "stop"


def test_chat_batch_keeps_order_and_equals_chat(case: Case) -> None:
    one_by_one = [case.backend.chat(messages, GREEDY) for messages in CONVERSATIONS]
    batched = case.backend.chat_batch(CONVERSATIONS, GREEDY)
    assert [r.content for r in batched] == [r.content for r in one_by_one]
    assert [r.usage for r in batched] == [r.usage for r in one_by_one]


def test_stream_concatenates_to_chat_and_ends_with_usage(case: Case) -> None:
    chunks = list(case.backend.stream(KOREAN, GREEDY))
    result = case.backend.chat(KOREAN, GREEDY)
    assert "".join(chunk.delta for chunk in chunks) == result.content
    assert [c.finish_reason is not None for c in chunks] == [False] * (len(chunks) - 1) + [True]
    assert chunks[-1].finish_reason == result.finish_reason
    assert chunks[-1].usage == result.usage
    assert len(chunks) > 2, "a stream should arrive in pieces"


def test_count_tokens_is_positive_and_grows(case: Case) -> None:
    one = case.backend.count_tokens(KOREAN[:1])
    two = case.backend.count_tokens(KOREAN)
    three = case.backend.count_tokens(
        [*KOREAN, Message("assistant", "영업일 기준 3일 이내입니다.")]
    )
    assert 0 < one < two < three
    if case.backend.capabilities.exact_token_count and case.reference is not case.backend:
        assert two == case.reference.count_tokens(KOREAN)


def test_korean_round_trips_intact(case: Case) -> None:
    answer = case.backend.chat(KOREAN, GREEDY).content
    assert not looks_like_mojibake(answer)
    assert unicodedata.is_normalized("NFC", answer)
    assert "".join(chunk.delta for chunk in case.backend.stream(KOREAN, GREEDY)) == answer
    if case.server is not None:
        # The server got the Korean exactly as sent, and the client got the model's answer to it
        # exactly as the model gave it.
        messages, params = case.served_params()
        assert messages == KOREAN
        assert answer == case.reference.chat(messages, params).content
    syllable = next((ch for ch in answer[1:] if is_hangul(ch)), None)
    assert syllable is not None, f"expected Hangul in the fixture model's answer {answer!r}"
    cut = case.backend.chat(KOREAN, GenParams(max_tokens=GREEDY.max_tokens, stop=(syllable,)))
    assert cut.content == answer[: answer.index(syllable)]


def test_close_is_idempotent(case: Case) -> None:
    backend = case.make()
    assert backend.chat(KOREAN, GenParams(max_tokens=2)).content is not None
    backend.close()
    backend.close()
