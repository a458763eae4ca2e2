"""The sliding window's rules, checked against a brute-force reference with simple counters.

A counter here is a real token count of a made-up chat template (characters plus a per-message
overhead), which lets a test choose an additive template or one that is not; the tests on the
real ``tiny`` tokenizer are in test_window_tiny.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tunestudio.errors import ContextLengthError
from tunestudio.ops.window import split_turns, trim_to_fit
from tunestudio.types import Message

SYSTEM = Message("system", "당신은 친절한 상담원입니다.")


def additive(messages: Sequence[Message]) -> int:
    """A ChatML-like template: 4 tokens around each message, 3 for the answer's opening."""
    return sum(len(m.content) + 4 for m in messages) + 3


def default_system(messages: Sequence[Message]) -> int:
    """Like Qwen's template: a 20-token default system prompt when there is no system message."""
    extra = 0 if messages and messages[0].role == "system" else 20
    return additive(messages) + extra


def growing(messages: Sequence[Message]) -> int:
    """Not additive: a message costs more the later it sits (position markers grow)."""
    return sum(len(m.content) + 4 + i // 10 for i, m in enumerate(messages)) + 3


def front_loaded(messages: Sequence[Message]) -> int:
    """Not additive the other way: the first four messages cost 2 tokens more (a preamble)."""
    return additive(messages) + 2 * min(len(messages), 4)


COUNTERS = [additive, default_system, growing, front_loaded]


Counter = Callable[[Sequence[Message]], int]


class Counted:
    """Wraps a counter and records the size of every list it was asked to count."""

    def __init__(self, counter: Counter = additive) -> None:
        self.counter = counter
        self.sizes: list[int] = []

    def __call__(self, messages: Sequence[Message]) -> int:
        self.sizes.append(len(messages))
        return self.counter(messages)


def turn(i: int, length: int = 20) -> list[Message]:
    return [
        Message("user", f"{i}번 질문 " + "가" * length),
        Message("assistant", f"{i}번 답변 " + "나" * length),
    ]


def conversation(n: int, length: int = 20) -> list[Message]:
    return [SYSTEM] + [m for i in range(n) for m in turn(i, length)] + turn(n, length)[:1]


def reference_keep(messages: list[Message], counter: Counter, room: int) -> int:
    """Brute force: the most newest turns whose exact count fits."""
    system, turns = split_turns(messages)
    best = 0
    for keep in range(1, len(turns) + 1):
        window = system + [m for t in turns[len(turns) - keep :] for m in t]
        if counter(window) <= room:
            best = keep
    return best


def test_a_conversation_that_fits_is_unchanged() -> None:
    messages = conversation(3)
    trimmed = trim_to_fit(messages, additive, 10_000, 256)
    assert trimmed.messages == messages
    assert trimmed.dropped_turns == 0
    assert trimmed.prompt_tokens == additive(messages)


def test_the_system_message_stays_and_the_oldest_whole_turns_go() -> None:
    messages = conversation(10)  # 10 answered turns + the question being asked
    last_four = [SYSTEM, *messages[-7:]]  # 3 answered turns + the question
    assert last_four[1].role == "user"
    room = additive(last_four) + 10  # less than one more turn
    trimmed = trim_to_fit(messages, additive, room + 100, 100)
    assert trimmed.messages == last_four
    assert trimmed.messages[1].role == "user"
    assert trimmed.messages == [SYSTEM, *messages[len(messages) - len(trimmed.messages) + 1 :]]
    assert trimmed.dropped_turns == 7
    assert trimmed.prompt_tokens == additive(trimmed.messages)


def test_a_tool_call_and_its_result_are_dropped_with_their_turn() -> None:
    tool_turn = [
        Message("user", "주문 12번 배송 상태 알려줘"),
        Message("assistant", '{"tool": "track", "order": 12}'),
        Message("tool", '{"status": "배송 중", "eta": "내일"}'),
        Message("assistant", "내일 도착 예정입니다."),
    ]
    messages = [SYSTEM, *turn(0), *tool_turn, *turn(1), *turn(2)[:1]]
    keep_two = additive([SYSTEM, *turn(1), *turn(2)[:1]])
    seen = set()
    for room in range(keep_two, additive(messages)):
        kept = trim_to_fit(messages, additive, room + 50, 50).messages
        assert kept == [SYSTEM, *messages[len(messages) - len(kept) + 1 :]]
        assert kept[1].role == "user"  # never a tool result or an answer without its question
        seen.add(len(kept))
    assert seen == {4, 8}  # the last two turns, then the tool turn with them, whole


def test_the_newest_turn_that_cannot_fit_is_an_error_naming_the_numbers() -> None:
    messages = [SYSTEM, *turn(0), Message("user", "가" * 500)]
    need = additive([SYSTEM, messages[-1]])
    with pytest.raises(ContextLengthError) as caught:
        trim_to_fit(messages, additive, need + 99, 100)
    error = caught.value
    assert f"the newest turn needs {need} prompt tokens with the system" in error.message
    assert f"only {need - 1} fit" in error.message
    assert "max_tokens (100)" in error.message
    assert error.where == "message 4"
    assert error.hint and "lower max_tokens" in error.hint
    assert trim_to_fit(messages, additive, need + 100, 100).messages == [SYSTEM, messages[-1]]
    with_tool = [
        *messages[:3],
        *messages[3:],
        Message("assistant", "확인 중"),
        Message("tool", "{}"),
    ]
    with pytest.raises(ContextLengthError) as caught:
        trim_to_fit(with_tool, additive, need + 99, 100)
    assert caught.value.where == "messages 4-6"


def test_max_tokens_as_large_as_the_context_is_an_error() -> None:
    with pytest.raises(ContextLengthError, match=r"max_tokens \(512\) leaves no room"):
        trim_to_fit(conversation(1), additive, 512, 512)


def test_system_messages_are_kept_and_messages_before_the_first_question_form_a_turn() -> None:
    greeting = Message("assistant", "안녕하세요! 무엇을 도와드릴까요?")
    late_system = Message("system", "존댓말을 쓰세요.")
    messages = [greeting, *turn(0), late_system, *turn(1)[:1]]
    system, turns = split_turns(messages)
    assert system == [late_system]
    assert turns == [[greeting], turn(0), turn(1)[:1]]
    room = additive([late_system, *turn(0), *turn(1)[:1]])
    kept = trim_to_fit(messages, additive, room + 10, 10).messages
    assert kept == [late_system, *turn(0), *turn(1)[:1]]


def test_a_conversation_of_only_system_messages_is_counted_or_refused() -> None:
    assert trim_to_fit([SYSTEM], additive, 1000, 10).messages == [SYSTEM]
    with pytest.raises(
        ContextLengthError, match="the system messages need 22 prompt tokens but only 10 fit"
    ):
        trim_to_fit([SYSTEM], additive, 20, 10)


@settings(max_examples=150, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 60), min_size=1, max_size=40),
    room=st.integers(40, 1500),
    counter=st.sampled_from(COUNTERS),
    with_system=st.booleans(),
)
def test_the_window_is_exact_for_any_template(
    lengths: list[int], room: int, counter: Counter, with_system: bool
) -> None:
    """Whatever the template: the count fits, and one turn more would not (brute force)."""
    messages = [m for i, n in enumerate(lengths) for m in turn(i, n)]
    messages = [SYSTEM, *messages] if with_system else messages
    best = reference_keep(messages, counter, room)
    if best == 0:
        with pytest.raises(ContextLengthError):
            trim_to_fit(messages, counter, room + 64, 64)
        return
    trimmed = trim_to_fit(messages, counter, room + 64, 64)
    assert len(split_turns(trimmed.messages)[1]) == best
    assert trimmed.prompt_tokens == counter(trimmed.messages) <= room
    assert trimmed.dropped_turns == len(lengths) - best


def test_a_thousand_turns_are_counted_once_each_only_as_far_as_the_window_reaches() -> None:
    """The work is in the turns kept, not the conversation's length (no O(n²) recounting)."""
    messages = conversation(1000)
    counted = Counted()
    trimmed = trim_to_fit(messages, counted, 2048, 256)
    kept = len(split_turns(trimmed.messages)[1])
    assert 10 < kept < 100 and trimmed.dropped_turns == 1001 - kept
    # the newest turn, the system alone, one count per turn looked at, two exact checks
    assert len(counted.sizes) == 1 + 1 + kept + 2
    assert sum(counted.sizes) < 5 * len(trimmed.messages)
