"""Measuring answers for text scorers: sentences (kiwi, line by line) and token counts.

Tokens are kiwi morphemes by default, or a model's own tokenizer when one is named.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tunestudio.errors import ConfigError
from tunestudio.korean import kiwi

if TYPE_CHECKING:
    from kiwipiepy import Sentence

KIWI_UNIT = "kiwi morphemes"


def split_sentences(texts: Sequence[str]) -> list[list[Sentence]]:
    """Every text's sentences with their morphemes, analysed in one kiwi call.

    Every line is split on its own: a line break ends a sentence in lists and headings
    (``## 요약``), which kiwi's splitter alone would run into the next line.
    """
    lines = [[line.strip() for line in text.splitlines() if line.strip()] for text in texts]
    flat = [line for group in lines for line in group]
    split = iter(kiwi().split_into_sents(flat, return_tokens=True))
    return [[sentence for _ in group for sentence in next(split)] for group in lines]


@dataclass(frozen=True)
class TokenCounter:
    """Counts tokens of many texts at once; ``unit`` says what a token is, for reports."""

    unit: str
    count: Callable[[Sequence[str]], list[int]]


def token_counter(tokenizer: str | None = None) -> TokenCounter:
    """Kiwi morphemes, or the Hugging Face tokenizer at ``tokenizer`` (a folder or cached id).

    Kiwi morphemes are a model-free measure of Korean length (조사 and 어미 count apart);
    a model's tokenizer gives the numbers its context window and price are in.
    """
    if tokenizer is None:
        return TokenCounter(KIWI_UNIT, _kiwi_counts)
    return TokenCounter(f"{tokenizer} tokens", _hf_counts(tokenizer))


def _kiwi_counts(texts: Sequence[str]) -> list[int]:
    # One call for all texts: kiwi analyses a list far faster than text by text.
    return [len(tokens) for tokens in kiwi().tokenize(list(texts))]


def _hf_counts(name: str) -> Callable[[Sequence[str]], list[int]]:
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(name, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"cannot load a tokenizer from {name!r}: {exc}".splitlines()[0],
            where="tokenizer",
            hint="give a folder with tokenizer.json (e.g. a model saved by `tunestudio tune`) "
            "or a hub id already in the local cache",
        ) from None

    def count(texts: Sequence[str]) -> list[int]:
        return [len(ids) for ids in tok(list(texts), add_special_tokens=False)["input_ids"]]

    return count
