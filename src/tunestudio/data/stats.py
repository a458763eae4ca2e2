"""Describe a dataset: its size, turns, labels and lengths in characters and tokens.

Lengths are counted per field the way CLOVA Studio bills and truncates them: the system prompt
once per conversation, ``Text`` and ``Completion`` once per turn. Token counts come only from a
real tokenizer; without one there are none (a characters-per-token guess would mislead on
Korean, where the ratio differs several-fold between tokenizers).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from tunestudio.data.normalize import exact_key
from tunestudio.data.problems import shown_label
from tunestudio.errors import ModelError
from tunestudio.types import Conversation

LABEL_SET_MAX = 50
FIELDS = ("System_Prompt", "Text", "Completion")
_TOKEN_BATCH = 512


class Tokenizer(Protocol):
    """What stats needs from a tokenizer: Hugging Face's batch call returning ``input_ids``."""

    def __call__(self, text: list[str], *, add_special_tokens: bool = ...) -> Any: ...


@dataclass(frozen=True)
class LengthSummary:
    """min / mean / median / 95th percentile / max of some lengths, and how many were 0."""

    count: int
    empty: int
    min: int
    mean: float
    p50: float
    p95: float
    max: int

    @classmethod
    def of(cls, lengths: Sequence[int]) -> LengthSummary:
        if not lengths:
            return cls(0, 0, 0, 0.0, 0.0, 0.0, 0)
        data = np.asarray(lengths)
        return cls(
            count=len(lengths),
            empty=int((data == 0).sum()),
            min=int(data.min()),
            mean=float(data.mean()),
            p50=float(np.percentile(data, 50)),
            p95=float(np.percentile(data, 95)),
            max=int(data.max()),
        )


@dataclass
class DatasetStats:
    """What a dataset holds. ``labels`` is empty unless the completions form a label set."""

    rows: int
    conversations: int
    turns: LengthSummary
    labels: dict[str, int]
    distinct_completions: int
    chars: dict[str, list[int]]
    tokens: dict[str, list[int]] | None = None
    tokenizer: str | None = None

    def summary(self, unit: str = "chars") -> dict[str, LengthSummary]:
        """Per field (System_Prompt, Text, Completion), the summary of ``chars`` or ``tokens``."""
        lengths = self.chars if unit == "chars" else (self.tokens or {})
        return {name: LengthSummary.of(values) for name, values in lengths.items()}

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain JSON-ready values (summaries, not the raw length lists)."""
        out: dict[str, Any] = {
            "rows": self.rows,
            "conversations": self.conversations,
            "turns_per_conversation": asdict(self.turns),
            "labels": self.labels or None,
            "distinct_completions": self.distinct_completions,
            "chars": {k: asdict(v) for k, v in self.summary("chars").items()},
            "tokens": None,
            "tokenizer": self.tokenizer,
        }
        if self.tokens is not None:
            out["tokens"] = {k: asdict(v) for k, v in self.summary("tokens").items()}
        return out


def completion_label(conv: Conversation) -> str:
    """The label of a conversation: its last completion, with spacing and Unicode form evened."""
    return exact_key(conv.turns[-1].assistant) if conv.turns else ""


def label_counts(convs: Sequence[Conversation]) -> Counter[str]:
    """How many conversations end with each completion."""
    return Counter(completion_label(c) for c in convs)


def is_label_set(counts: Counter[str]) -> bool:
    """Completions look like classification labels: ≤ 50 distinct, each used more than once."""
    return 0 < len(counts) <= LABEL_SET_MAX and all(n > 1 for n in counts.values())


def load_tokenizer(name_or_path: str) -> Tokenizer:
    """A Hugging Face tokenizer from a local folder or a hub id (transformers imported here).

    A hub id is looked up in the local cache first; the hub itself is only asked when it
    answers a quick connection, because huggingface_hub otherwise retries for about a minute.
    """
    from tunestudio.models.hf_load import looks_like_path

    local = Path(name_or_path).expanduser()
    if looks_like_path(name_or_path) and not local.exists():
        raise ModelError(
            f"no tokenizer folder at {name_or_path}",
            where="--tokenizer",
            hint="check the path (relative paths are from the current directory)",
        )
    from transformers import AutoTokenizer

    if local.exists():
        try:
            return AutoTokenizer.from_pretrained(str(local))
        except Exception as exc:  # transformers raises OSError, ValueError, KeyError, …
            raise _tokenizer_error(name_or_path, exc, local=True) from exc
    try:
        return AutoTokenizer.from_pretrained(name_or_path, local_files_only=True)
    except Exception as exc:
        if not _hub_reachable():
            raise _tokenizer_error(name_or_path, exc, local=False) from exc
    try:
        return AutoTokenizer.from_pretrained(name_or_path)
    except Exception as exc:
        raise _tokenizer_error(name_or_path, exc, local=False) from exc


def _hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the model hub answers a TCP connection (always assumed behind a proxy)."""
    import os
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True  # only the proxy can tell; let huggingface_hub try
    url = urlparse(constants.ENDPOINT)
    try:
        with socket.create_connection((url.hostname or "", url.port or 443), timeout=timeout):
            return True
    except OSError:
        return False


def exception_summary(exc: BaseException, limit: int = 200) -> str:
    """An exception in one line: its type and the first line of its message.

    A message longer than ``limit`` is cut between words and marked ``…``, never inside a word
    or a URL (half a URL looks like a real one and leads nowhere).
    """
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    first = lines[0] if lines else ""
    if len(first) > limit:
        head = first[:limit]
        if not first[limit].isspace():  # the cut falls inside a word: drop that word
            head = head.rsplit(None, 1)[0] if len(head.split()) > 1 else ""
        first = f"{head.rstrip()} …".strip()
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _tokenizer_error(name: str, exc: Exception, *, local: bool) -> ModelError:
    reason = exception_summary(exc)
    if local:
        return ModelError(
            f"cannot load a tokenizer from {name}: {reason}",
            where="--tokenizer",
            hint="give a folder saved with save_pretrained "
            "(it holds tokenizer.json or tokenizer_config.json)",
        )
    return ModelError(
        f"{name!r} is not a local folder, and as a Hugging Face hub id it is neither cached "
        f"nor downloadable: {reason}",
        where="--tokenizer",
        hint="the hub is unreachable offline — give a local path to the model or "
        "tokenizer folder (e.g. ./models/HyperCLOVAX-SEED-Text-Instruct-0.5B)",
    )


def count_tokens(tokenizer: Tokenizer, texts: Sequence[str]) -> list[int]:
    """Tokens per text, without special tokens (what the content itself costs)."""
    counts: list[int] = []
    for start in range(0, len(texts), _TOKEN_BATCH):
        batch = list(texts[start : start + _TOKEN_BATCH])
        counts += [len(ids) for ids in tokenizer(batch, add_special_tokens=False)["input_ids"]]
    return counts


def field_texts(convs: Sequence[Conversation]) -> dict[str, list[str]]:
    """The texts of each CLOVA field: System_Prompt per conversation, Text/Completion per turn."""
    return {
        "System_Prompt": [c.system for c in convs],
        "Text": [t.user for c in convs for t in c.turns],
        "Completion": [t.assistant for c in convs for t in c.turns],
    }


def dataset_stats(
    convs: Sequence[Conversation],
    *,
    rows: int | None = None,
    tokenizer: Tokenizer | None = None,
    tokenizer_name: str | None = None,
) -> DatasetStats:
    """Describe conversations. ``rows`` is the file's row count (default: one row per turn)."""
    texts = field_texts(convs)
    counts = label_counts(convs)
    tokens = None
    if tokenizer is not None:
        tokens = {name: count_tokens(tokenizer, values) for name, values in texts.items()}
    return DatasetStats(
        rows=rows if rows is not None else len(texts["Text"]),
        conversations=len(convs),
        turns=LengthSummary.of([len(c.turns) for c in convs]),
        labels=dict(counts.most_common()) if is_label_set(counts) else {},
        distinct_completions=len({exact_key(t) for t in texts["Completion"]}),
        chars={name: [len(v) for v in values] for name, values in texts.items()},
        tokens=tokens,
        tokenizer=tokenizer_name,
    )


def plot_stats(stats: DatasetStats, path: Path | str, title: str = "") -> Path:
    """A PNG of the Text/Completion length histograms and, for labels, their counts."""
    from tunestudio import charts

    rows = [("chars", "characters")] + ([("tokens", "tokens")] if stats.tokens else [])
    n_labels = len(stats.labels)
    label_height = max(2.4, 0.3 * n_labels + 1.2) if n_labels else 0.0
    heights = [3.4] * len(rows) + ([label_height] if n_labels else [])
    fig = charts.figure(11, sum(heights) + 0.9)
    grid = fig.add_gridspec(len(heights), 2, height_ratios=heights)
    for r, (unit, word) in enumerate(rows):
        lengths = stats.chars if unit == "chars" else (stats.tokens or {})
        for c, name in enumerate(("Text", "Completion")):
            charts.histogram(
                fig.add_subplot(grid[r, c]),
                lengths[name],
                title=f"{name} length ({word})",
                xlabel=word,
                ylabel="turns",
                color=charts.PALETTE[c],
            )
    if n_labels:
        counts = list(stats.labels.values())
        charts.barh(
            fig.add_subplot(grid[len(rows), :]),
            [shown_label(label, quote=False) for label in stats.labels],
            counts,
            title=f"Labels ({n_labels}, by conversation)",
            xlabel="conversations",
            value_labels=[f"{n:,} ({n / stats.conversations:.1%})" for n in counts],
            color=charts.PALETTE[2],
        )
    fig.suptitle(title or f"{stats.conversations:,} conversations, {stats.rows:,} rows")
    return charts.save_png(fig, path)
