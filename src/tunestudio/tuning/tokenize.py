"""Chat-template rendering with loss masks: the model learns only what the assistant says.

Each conversation is rendered once with the tokenizer's own chat template. The characters that
belong to assistant answers are found by rendering growing prefixes: the text added by an
assistant message, after the prompt that opens its turn, is that answer plus the template's
end-of-turn markers. Tokens whose characters start inside such a span are trained on; system
prompts, user turns and template scaffolding get the ignore label (-100). This works for any
template whose renderings of prefixes are prefixes of the full rendering (checked, not assumed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from tunestudio.tuning.errors import TuningError
from tunestudio.types import Message

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

IGNORE = -100  # the label torch's cross-entropy skips


@dataclass(frozen=True)
class Example:
    """One tokenized conversation: ids, labels (IGNORE outside assistant text), truncation flag."""

    input_ids: list[int]
    labels: list[int]
    truncated: bool = False

    @cached_property
    def target_tokens(self) -> int:
        """Labelled tokens (the assistant's)."""
        return sum(1 for label in self.labels if label != IGNORE)

    @cached_property
    def loss_tokens(self) -> int:
        """Labelled tokens the loss counts: all but a first one, which nothing can predict."""
        return self.target_tokens - (self.labels[0] != IGNORE if self.labels else 0)


def _render(tokenizer: PreTrainedTokenizerBase, messages: Sequence[Message], gen: bool) -> str:
    text = tokenizer.apply_chat_template(
        [m.to_dict() for m in messages], add_generation_prompt=gen, tokenize=False
    )
    return str(text)


def assistant_spans(
    tokenizer: PreTrainedTokenizerBase, messages: Sequence[Message]
) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the character spans of every assistant answer.

    A span runs from the end of the opened assistant turn to the end of what that message added,
    minus trailing whitespace (the newline between turns is scaffolding, not something the model
    must say before it stops).
    """
    full = _render(tokenizer, messages, gen=False)
    spans: list[tuple[int, int]] = []
    for index, message in enumerate(messages):
        if message.role != "assistant":
            continue
        opened = _render(tokenizer, messages[:index], gen=True)
        closed = _render(tokenizer, messages[: index + 1], gen=False)
        if not (closed.startswith(opened) and full.startswith(closed)):
            raise TuningError(
                "the chat template renders a conversation differently from its prefixes, so the "
                "assistant's tokens cannot be located",
                where="chat_template",
                hint="use a model whose chat template only appends text turn by turn",
            )
        spans.append((len(opened), len(closed.rstrip())))
    return full, spans


def encode(
    tokenizer: PreTrainedTokenizerBase, messages: Sequence[Message], max_length: int
) -> Example:
    """Tokenize a conversation and label only its assistant answers; cut at ``max_length``."""
    text, spans = assistant_spans(tokenizer, messages)
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids: list[int] = encoded["input_ids"]
    labels = [
        token if any(start <= begin < end for start, end in spans) else IGNORE
        for token, (begin, _) in zip(ids, encoded["offset_mapping"], strict=True)
    ]
    truncated = len(ids) > max_length
    return Example(ids[:max_length], labels[:max_length], truncated)
