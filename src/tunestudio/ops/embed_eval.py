"""How well an embedder tells paraphrases from look-alikes, on a labelled pair set.

The set is a table with columns ``a``, ``b``, ``label`` (``paraphrase`` for same-meaning pairs;
any other label is a kind of non-paraphrase), e.g. ``examples/paraphrase/pairs.csv``. For each
pair the score is the cosine similarity of the two vectors (a dot product: embedders return
unit vectors). Reported, with scikit-learn's metrics:

- ROC AUC of paraphrase against each other label, and against all of them together: the
  chance that a random paraphrase pair scores above a random pair of that label (0.5 = no
  better than chance, 1.0 = always);
- the threshold with the best F1 for "is a paraphrase" over all pairs, and the precision and
  recall there — what a semantic cache with that threshold would do.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from tunestudio.data.table import read_table
from tunestudio.errors import DataFormatError
from tunestudio.ops.embeddings import Embedder

POSITIVE = "paraphrase"
PAIR_FIELDS = ("a", "b", "label")


@dataclass(frozen=True)
class LabelledPair:
    """Two texts and how they relate."""

    a: str
    b: str
    label: str


@dataclass
class PairScores:
    """An embedder's result on a pair set."""

    embedder: str
    auc: dict[str, float] = field(default_factory=dict)  # label (or "all") → ROC AUC
    threshold: float = 0.0
    f1: float = 0.0
    precision: float = 0.0
    recall: float = 0.0
    texts_per_second: float = 0.0


def read_pairs(path: Path | str) -> list[LabelledPair]:
    """The pairs of a table file; a missing column or empty cell is a DataFormatError."""
    table = read_table(path)
    missing = [c for c in PAIR_FIELDS if c not in table.columns]
    if missing:
        raise DataFormatError(
            f"열이 없습니다: {', '.join(missing)}",
            where=str(path),
            hint="a pair set needs the columns a, b, label (see examples/paraphrase/README.md)",
        )
    pairs = []
    for row, number in zip(table.rows, table.row_numbers, strict=True):
        values = [str(row.get(c) or "").strip() for c in PAIR_FIELDS]
        if not all(values):
            empty = PAIR_FIELDS[values.index("")]
            raise DataFormatError(
                f"{number}행의 {empty} 값이 비어 있습니다",
                where=f"{path}:{number}",
                hint=f"fill in {empty} or delete the row",
            )
        pairs.append(LabelledPair(*values))
    return pairs


def cosine_scores(embedder: Embedder, pairs: list[LabelledPair]) -> tuple[list[float], float]:
    """The cosine of each pair, and the embedding speed in texts per second."""
    texts = sorted({t for p in pairs for t in (p.a, p.b)})
    started = time.perf_counter()
    vectors = dict(zip(texts, embedder.embed(texts), strict=True))
    speed = len(texts) / max(time.perf_counter() - started, 1e-9)
    scores = [sum(x * y for x, y in zip(vectors[p.a], vectors[p.b], strict=True)) for p in pairs]
    return scores, speed


def score_pairs(embedder: Embedder, pairs: list[LabelledPair]) -> PairScores:
    """AUC per label and the best-F1 operating point of ``embedder`` on ``pairs``."""
    from sklearn.metrics import precision_recall_curve, roc_auc_score

    scores, speed = cosine_scores(embedder, pairs)
    result = PairScores(embedder.name, texts_per_second=speed)
    positive = [s for s, p in zip(scores, pairs, strict=True) if p.label == POSITIVE]
    labels = sorted({p.label for p in pairs} - {POSITIVE})
    for label in [*labels, "all"]:
        negative = [
            s
            for s, p in zip(scores, pairs, strict=True)
            if p.label != POSITIVE and label in ("all", p.label)
        ]
        truth = [1] * len(positive) + [0] * len(negative)
        result.auc[label] = float(roc_auc_score(truth, positive + negative))
    truth = [int(p.label == POSITIVE) for p in pairs]
    precision, recall, thresholds = precision_recall_curve(truth, scores)
    f1 = 2 * precision * recall / (precision + recall).clip(min=1e-12)
    best = int(f1[:-1].argmax())  # the last point has no threshold
    result.threshold, result.f1 = float(thresholds[best]), float(f1[best])
    result.precision, result.recall = float(precision[best]), float(recall[best])
    return result
