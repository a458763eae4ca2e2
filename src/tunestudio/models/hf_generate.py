"""Generation helpers for the ``hf`` backend: GenParams → generate() arguments, stop handling,
turning generated ids into answers, and holding back streamed text that may begin a stop string.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tunestudio.types import GenParams

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase, StoppingCriteria


@dataclass(frozen=True)
class Generated:
    """One generated answer before it becomes a ChatResult."""

    text: str
    finish_reason: str
    input_tokens: int
    output_tokens: int
    logprobs: tuple[float, ...] | None = None  # per output token, when asked for


@dataclass(frozen=True)
class StopPlan:
    """Stop strings split by how they are caught.

    A stop string that is exactly one special or added token (``<|stop|>``) is caught as an extra
    end-of-sequence id, because decoding with ``skip_special_tokens`` would hide it from a text
    search; every other stop string is caught by text.
    """

    token_ids: tuple[int, ...]
    strings: tuple[str, ...]


def plan_stops(stop: Sequence[str], tokenizer: PreTrainedTokenizerBase) -> StopPlan:
    """Split ``stop`` into single-token stops and text stops."""
    added = tokenizer.get_added_vocab()
    token_ids = tuple(added[s] for s in stop if s in added)
    strings = tuple(s for s in stop if s and s not in added)
    return StopPlan(token_ids, strings)


def eos_ids(model_eos: int | list[int] | None, tokenizer_eos: int | None) -> list[int]:
    """Every id that ends an answer: the model's generation config ones, else the tokenizer's."""
    if model_eos is None:
        model_eos = tokenizer_eos
    if model_eos is None:
        return []
    return list(model_eos) if isinstance(model_eos, list) else [int(model_eos)]


def generate_kwargs(params: GenParams, max_new_tokens: int) -> dict[str, Any]:
    """GenParams in generate()'s words. Temperature 0 is greedy; top_k 0 and top_p 1 are off."""
    kwargs: dict[str, Any] = {
        "max_new_tokens": max_new_tokens,
        "repetition_penalty": params.repetition_penalty,
        "num_beams": 1,
    }
    if params.temperature <= 0:
        return {**kwargs, "do_sample": False}
    # Explicit values, so a model's own generation_config.json defaults cannot leak in.
    return {
        **kwargs,
        "do_sample": True,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "top_k": params.top_k,
    }


def stop_recorder(tokenizer: PreTrainedTokenizerBase, strings: Sequence[str]) -> StopRecorder:
    """A stopping criterion for text stops that remembers when each row first stopped."""
    from transformers import StopStringCriteria

    return StopRecorder(StopStringCriteria(tokenizer=tokenizer, stop_strings=list(strings)))


class StopRecorder:
    """Wraps StopStringCriteria and records, per row, how many tokens it had when it first fired.

    generate() only calls its criteria, so a plain callable will do. It keeps calling them after
    a row is done (it pads that row), so only the first firing tells where the answer ended; the
    count gives exact output-token usage.
    """

    def __init__(self, inner: StoppingCriteria) -> None:
        self.inner = inner
        self.prompt_width = 0
        self.stopped_at: dict[int, int] = {}

    def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
        done: torch.Tensor = self.inner(input_ids, scores, **kwargs)
        generated = input_ids.shape[1] - self.prompt_width
        for row in done.nonzero().flatten().tolist():
            self.stopped_at.setdefault(row, generated)
        return done


class CancelCriteria:
    """Stops every row once ``event`` is set (a streaming caller went away)."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
        import torch

        return torch.full((input_ids.shape[0],), self.event.is_set(), device=input_ids.device)


def chosen_logprobs(logits: Sequence[torch.Tensor], ids: torch.Tensor) -> list[list[float]]:
    """Per row, the log-probability of each generated token under the model's raw logits.

    ``logits`` is generate()'s ``output_logits``: one (batch, vocab) tensor per step; ``ids``
    the (batch, steps) generated ids.
    """
    import torch

    steps = torch.stack(list(logits), dim=1).float().log_softmax(dim=-1)
    chosen = steps.gather(-1, ids[:, : steps.shape[1]].unsqueeze(-1)).squeeze(-1)
    return [[float(v) for v in row] for row in chosen.tolist()]


def cut_at_stop(text: str, strings: Sequence[str]) -> tuple[str, bool]:
    """``text`` up to the earliest stop string, and whether one was found."""
    hits = [i for i in (text.find(s) for s in strings) if i >= 0]
    return (text[: min(hits)], True) if hits else (text, False)


def finish_row(
    ids: list[int],
    *,
    ends: set[int],
    stopped_at: int | None,
    max_new_tokens: int,
    stop_strings: Sequence[str],
    tokenizer: PreTrainedTokenizerBase,
) -> tuple[str, str, int]:
    """(text, finish_reason, output tokens) for one row of generated ids.

    Output tokens count up to and including the end token or the token that completed a stop
    string; padding after a finished row is not counted.
    """
    end = next((i for i, tok in enumerate(ids) if tok in ends), None)
    count = len(ids) if end is None else end + 1
    if stopped_at is not None:
        count = min(count, stopped_at)
    body = ids[:end] if end is not None and end < count else ids[:count]
    text = str(tokenizer.decode(body, skip_special_tokens=True))
    text, cut = cut_at_stop(text, stop_strings)
    if (end is not None and end < count) or cut or stopped_at is not None:
        return text, "stop", count
    return text, "length" if count >= max_new_tokens else "stop", count


class StopHoldback:
    """Streams text while holding back any tail that could still grow into a stop string."""

    def __init__(self, strings: Sequence[str]) -> None:
        self.strings = tuple(strings)
        self.keep = max((len(s) for s in self.strings), default=1) - 1
        self.buffer = ""
        self.sent = 0
        self.stopped = False

    def feed(self, piece: str) -> str:
        """Take new text; return the part that is safe to send now."""
        if self.stopped:
            return ""
        self.buffer += piece
        text, self.stopped = cut_at_stop(self.buffer, self.strings)
        safe = len(text) if self.stopped else max(self.sent, len(text) - self.keep)
        out = text[self.sent : safe]
        self.sent = safe
        return out

    def rest(self, final: str) -> str:
        """What is left to send so that everything sent equals ``final``."""
        sent = self.buffer[: self.sent]
        return final[len(sent) :] if final.startswith(sent) else ""
