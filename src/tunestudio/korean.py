"""One Korean morphological analyser per process, and a cache of its analyses.

Scorers, the ``hash-ko`` embedder, the semantic cache's look-alike guard and the compressor all
use :func:`kiwi` (one ~100 MB model per process). The semantic cache analyses each question
twice — the embedder reads its morphemes, the guard its negators, numbers and names — and
batch runs repeat the same texts, so both read :func:`tokens`, which analyses a text once.
"""

from __future__ import annotations

import threading
from functools import cache, lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiwipiepy import Kiwi, Token

LOCK = threading.Lock()  # Kiwi is not documented as thread-safe: every user takes this


@cache
def kiwi() -> Kiwi:
    """The shared analyser (loaded on first use, a second or two)."""
    from kiwipiepy import Kiwi

    # The typo and multi-word dictionaries double the load time and changed no score on the
    # paraphrase set (bench/bench_embeddings.py), so they are left out.
    return Kiwi(load_typo_dict=False, load_multi_dict=False)


@lru_cache(maxsize=8192)
def tokens(text: str) -> tuple[Token, ...]:
    """Kiwi's morphemes of ``text`` (cached: callers must not change them)."""
    analyser = kiwi()
    with LOCK:
        return tuple(analyser.tokenize(text))
