"""The sliding window: drop the oldest whole turns until the prompt fits the context window.

:func:`trim_to_fit` is the one implementation, used by the ``window`` pipeline stage
(:class:`SlidingWindow`) and by the server's CLOVA sliding-window endpoint. Its rules:

* every system message is kept (placed first, in their order);
* the rest is cut into *turns*: a user message and everything after it up to the next user
  message (assistant answers, ``tool`` results), so a tool call and its result are dropped
  together; messages before the first user message form a turn of their own;
* the oldest turns are dropped, whole, until prompt + ``max_tokens`` fits ``context_length``;
* the newest turn is always kept; if it cannot fit, :class:`ContextLengthError` (CLOVA 40003,
  OpenAI ``context_length_exceeded``) — a message is never cut in the middle.

Counting is token-exact with the model's own ``count_tokens`` (chat template included; CLOVA's
chat-tokenize endpoint for ``clova:`` models). Recounting the whole window after every dropped
turn costs O(turns²) tokenizer work, seconds at 1,000 turns. Instead each turn is counted once,
from the newest back, only until the budget is spent; because the estimate assumes a chat
template adds the same tokens per message wherever it sits, two exact counts of the chosen
window (and of one turn more) then confirm it, stepping a turn at a time where a template is
not additive. So the result is exact: its count fits, and one more turn would not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from tunestudio.config import validate_model
from tunestudio.errors import ConfigError, ContextLengthError
from tunestudio.models.base import Backend, Capabilities, StreamChunk
from tunestudio.ops.wrapper import Wrapper
from tunestudio.types import ChatResult, GenParams, Message

if TYPE_CHECKING:
    from tunestudio.ops.pipeline import StageContext

TokenCounter = Callable[[Sequence[Message]], int]


@dataclass(frozen=True)
class Trimmed:
    """What :func:`trim_to_fit` keeps: the messages, how many turns went, their exact count."""

    messages: list[Message]
    dropped_turns: int
    prompt_tokens: int


def split_turns(messages: Sequence[Message]) -> tuple[list[Message], list[list[Message]]]:
    """The system messages, and the other messages cut into turns at each user message."""
    system: list[Message] = []
    turns: list[list[Message]] = []
    for message in messages:
        if message.role == "system":
            system.append(message)
        elif message.role == "user" or not turns:
            turns.append([message])
        else:  # an answer, a tool call or a tool result belongs to the turn it follows
            turns[-1].append(message)
    return system, turns


def trim_to_fit(
    messages: Sequence[Message],
    count_tokens: TokenCounter,
    context_length: int,
    max_tokens: int,
) -> Trimmed:
    """System messages and the newest whole turns whose prompt fits with ``max_tokens``.

    ``count_tokens`` counts a list of messages exactly as the model sees them. Raises
    :class:`ContextLengthError` when ``max_tokens`` leaves no room, or when the system messages
    and the newest turn alone do not fit.
    """
    room = context_length - max_tokens
    if room <= 0:
        raise ContextLengthError(
            f"max_tokens ({max_tokens}) leaves no room for a prompt in the context window of "
            f"{context_length} tokens",
            where="max_tokens",
            hint=f"lower max_tokens below {context_length}",
        )
    system, turns = split_turns(messages)
    if not turns:
        return Trimmed(system, 0, _check_newest(system, [], count_tokens, room, max_tokens))
    try:
        newest = _check_newest(system, turns[-1], count_tokens, room, max_tokens)
    except ContextLengthError as exc:
        start, end = _newest_start(messages), len(messages)
        exc.where = f"message {end}" if start == end else f"messages {start}-{end}"
        raise
    keep = _estimate(system, turns, count_tokens, room, newest)
    return _settle(system, turns, keep, count_tokens, room)


def _newest_start(messages: Sequence[Message]) -> int:
    """Where the newest turn starts, 1-based as a person counts messages."""
    users = [i for i, m in enumerate(messages) if m.role == "user"]
    start = users[-1] if users else next(i for i, m in enumerate(messages) if m.role != "system")
    return start + 1


def _check_newest(
    system: list[Message],
    newest: list[Message],
    count_tokens: TokenCounter,
    room: int,
    max_tokens: int,
) -> int:
    """The exact count of system + newest turn, or ContextLengthError when it cannot fit."""
    tokens = count_tokens(system + newest)
    if tokens <= room:
        return tokens
    if not newest:
        what = f"the system messages need {tokens} prompt tokens"
    else:
        with_system = " with the system messages" if system else ""
        what = f"the newest turn needs {tokens} prompt tokens{with_system}"
    raise ContextLengthError(
        f"{what} but only {room} fit: "
        f"the context window of {room + max_tokens} tokens minus max_tokens ({max_tokens})",
        where="messages",
        hint="shorten the last message or the system prompt, lower max_tokens, "
        "or use a model with a longer context window",
    )


def _estimate(
    system: list[Message],
    turns: list[list[Message]],
    count_tokens: TokenCounter,
    room: int,
    newest_tokens: int,
) -> int:
    """How many of the newest turns fit, counting each older turn once until the room is spent.

    A turn's cost is what it adds next to the system messages (or, with none, next to the
    newest turn: some templates add a default system prompt to any conversation without one,
    and the difference cancels it).
    """
    anchor, after = (system, []) if system else ([], turns[-1])
    anchor_tokens = count_tokens(anchor) if system else newest_tokens
    total = newest_tokens
    for kept in range(1, len(turns)):
        turn = turns[-1 - kept]
        total += count_tokens(anchor + turn + after) - anchor_tokens
        if total > room:
            return kept
    return len(turns)


def _settle(
    system: list[Message],
    turns: list[list[Message]],
    keep: int,
    count_tokens: TokenCounter,
    room: int,
) -> Trimmed:
    """Make the estimate exact: the window's count fits and one turn more would not."""
    tokens = count_tokens(_window(system, turns, keep))
    while tokens > room:  # the template is not additive: the estimate was generous
        keep -= 1  # keep == 1 is system + newest turn, known to fit: the loop ends there
        tokens = count_tokens(_window(system, turns, keep))
    while keep < len(turns):  # ... or it was stingy
        more = count_tokens(_window(system, turns, keep + 1))
        if more > room:
            break
        keep, tokens = keep + 1, more
    return Trimmed(_window(system, turns, keep), len(turns) - keep, tokens)


def _window(system: list[Message], turns: list[list[Message]], keep: int) -> list[Message]:
    return system + [message for turn in turns[len(turns) - keep :] for message in turn]


class SlidingWindow(Wrapper):
    """A Backend that trims every conversation to fit ``inner``'s context window.

    ``max_tokens`` (optional) is the answer budget to keep free; by default each call's own
    ``max_tokens``. When set, a call's ``max_tokens`` is lowered to what the trimmed prompt
    leaves if it would not fit, so a large default budget does not cost history.

    The stage reports no context length of its own: it accepts a conversation of any length,
    so callers (the server's pre-check) must not reject long ones before it has trimmed them.
    """

    def __init__(
        self,
        inner: Backend,
        *,
        context_length: int,
        max_tokens: int | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(inner, name=name)
        self.context_length = context_length
        self.max_tokens = max_tokens

    @property
    def capabilities(self) -> Capabilities:
        return replace(self.inner.capabilities, context_length=None)

    def fit(
        self, messages: Sequence[Message], params: GenParams
    ) -> tuple[list[Message], GenParams]:
        """The trimmed messages and the params to send them with."""
        reserve = self.max_tokens or params.max_tokens
        trimmed = trim_to_fit(messages, self.inner.count_tokens, self.context_length, reserve)
        left = self.context_length - trimmed.prompt_tokens
        if params.max_tokens > left:  # only with a configured reserve smaller than the call's
            params = replace(params, max_tokens=left)
        return trimmed.messages, params

    def chat(self, messages: Sequence[Message], params: GenParams = GenParams()) -> ChatResult:
        return self.inner.chat(*self.fit(messages, params))

    def chat_batch(
        self, conversations: Sequence[Sequence[Message]], params: GenParams = GenParams()
    ) -> list[ChatResult]:
        """Trim each conversation, then one batched call (a local model batches on the device)."""
        fitted = [
            self._fit_one(index, messages, params) for index, messages in enumerate(conversations)
        ]
        # One params for the whole batch: the smallest budget any conversation left.
        budget = min((p.max_tokens for _, p in fitted), default=params.max_tokens)
        return self.inner.chat_batch(
            [messages for messages, _ in fitted], replace(params, max_tokens=budget)
        )

    def stream(
        self, messages: Sequence[Message], params: GenParams = GenParams()
    ) -> Iterator[StreamChunk]:
        return self.inner.stream(*self.fit(messages, params))

    def _fit_one(
        self, index: int, messages: Sequence[Message], params: GenParams
    ) -> tuple[list[Message], GenParams]:
        try:
            return self.fit(messages, params)
        except ContextLengthError as exc:  # name the conversation, as a batch run reports rows
            exc.where = f"conversation {index + 1}" + (f", {exc.where}" if exc.where else "")
            raise


class WindowOptions(BaseModel):
    """The ``window`` stage's options in a pipeline file."""

    model_config = ConfigDict(extra="forbid")

    context_length: int | None = Field(
        default=None, gt=0, description="the model's context window; default: what it reports"
    )
    max_tokens: int | None = Field(
        default=None, gt=0, description="answer budget to keep free; default: each call's"
    )


def from_config(inner: Backend | None, options: dict[str, Any], context: StageContext) -> Backend:
    """The ``window`` stage of a pipeline file (see :mod:`tunestudio.ops.pipeline`)."""
    opts = validate_model(WindowOptions, options, context.where)
    if inner is None:
        raise ConfigError(
            "the window stage needs a model inside it",
            where=context.where,
            hint="set `model: <spec>` in the pipeline file, or put the window before a cascade",
        )
    context_length = opts.context_length or inner.capabilities.context_length
    if context_length is None:
        raise ConfigError(
            f"the context window of {inner.name!r} is unknown",
            where=context.where,
            hint="set it: `- window: {context_length: 8192}`",
        )
    if opts.max_tokens is not None and opts.max_tokens >= context_length:
        raise ConfigError(
            f"max_tokens ({opts.max_tokens}) must be less than context_length ({context_length})",
            where=context.where,
            hint="lower max_tokens: it is the part of the window kept free for the answer",
        )
    return SlidingWindow(inner, context_length=context_length, max_tokens=opts.max_tokens)
