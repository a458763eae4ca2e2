"""Single-label classification: accuracy, per-label precision/recall/F1, a confusion matrix.

Each answer is read as a label when it matches one after normalisation (``MYBOX 결제입니다.`` is
the label ``MYBOX 결제``). An answer that is no known label is ``out_of_label_set`` (a made-up
label) unless it is not label-shaped at all (empty, several lines, much longer than any label),
which is ``format_invalid``; a known but wrong label is ``wrong_label``. The confusion matrix has
one row per expected label and one column per label plus those three failure columns.
``near_miss_rate`` is the share of answers read as a label only after normalisation, right or
wrong (``classification.matched_by`` names the step).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tunestudio.evaluation.normalize import STEPS, is_near_miss, match_step
from tunestudio.evaluation.predictions import Prediction
from tunestudio.evaluation.scorers.base import (
    CORRECT,
    FORMAT_INVALID,
    GENERATION_FAILED,
    NO_EXPECTED,
    RowDataError,
    RowScore,
    ScoreReport,
)
from tunestudio.evaluation.scorers.common import class_table, format_problem, rate, scored
from tunestudio.evaluation.scorers.exact import matched_by

OUT_OF_LABEL_SET = "out_of_label_set"
WRONG_LABEL = "wrong_label"
# Confusion-matrix columns for answers that are no label; parenthesised so no label clashes.
FAILURE_COLUMNS = {
    OUT_OF_LABEL_SET: "(out of label set)",
    FORMAT_INVALID: "(format invalid)",
    GENERATION_FAILED: "(generation failed)",
}


class Classification:
    """Score answers against a fixed label set (given, or every expected value)."""

    name = "classification"

    def __init__(self, labels: Sequence[str] | None = None) -> None:
        self.labels = list(dict.fromkeys(label.strip() for label in labels)) if labels else None

    def score(self, items: Sequence[Prediction]) -> ScoreReport:
        """Score every item; raises :class:`RowDataError` for expected values that are no label."""
        labels = self.labels or sorted({(i.expected or "").strip() for i in items} - {""})
        expected = self._expected_labels(items, labels)
        rows = [
            RowScore(None, NO_EXPECTED) if label is None else _verdict(item, label, labels)
            for item, label in zip(items, expected, strict=True)
        ]
        pairs = [(str(r.details["expected"]), str(r.details["predicted"])) for r in scored(rows)]
        return ScoreReport(
            self.name, rows, _metrics(rows, pairs, labels), _tables(rows, pairs, labels)
        )

    def _expected_labels(self, items: Sequence[Prediction], labels: list[str]) -> list[str | None]:
        """Every item's expected label (None: no expected value); all unknown ones in one error."""
        out: list[str | None] = []
        unknown: dict[str, list[int]] = {}
        for item in items:
            text = (item.expected or "").strip()
            label = find_label(text, labels)[0] if text else None
            if text and label is None:
                unknown.setdefault(text, []).append(item.index)
            out.append(label)
        if unknown:
            listed = ", ".join(f"'{value}' ({len(rows)}개 행)" for value, rows in unknown.items())
            first = min(index for rows in unknown.values() for index in rows)
            raise RowDataError(
                f"레이블 목록에 없는 정답이 {sum(map(len, unknown.values()))}개 행에 있습니다: "
                f"{listed} (레이블: {', '.join(labels)})",
                index=first,
                column="expected",
                hint="--labels 에 빠진 레이블을 더하거나 정답 열의 오타를 고치세요",
            )
        return out


def find_label(text: str, labels: Sequence[str]) -> tuple[str | None, str | None]:
    """The label ``text`` names and the normalisation step that matched it, or (None, None).

    The label matched at the earliest step wins, so ``MYBOX 결제`` stays itself even when
    another label would match it only after removing spaces.
    """
    best: tuple[int, str, str] | None = None
    for label in labels:
        step = match_step(text, label)
        if step is not None and (best is None or STEPS.index(step) < best[0]):
            best = (STEPS.index(step), label, step)
    return (best[1], best[2]) if best else (None, None)


def _verdict(item: Prediction, expected: str, labels: list[str]) -> RowScore:
    if item.answer is None:
        failed = FAILURE_COLUMNS[GENERATION_FAILED]
        return RowScore(0, GENERATION_FAILED, _details(expected, failed, None))
    predicted, step = find_label(item.answer, labels)
    if predicted is not None:
        error = CORRECT if predicted == expected else WRONG_LABEL
        return RowScore(int(predicted == expected), error, _details(expected, predicted, step))
    longest = max(labels, key=len)
    error = FORMAT_INVALID if format_problem(item.answer, longest) else OUT_OF_LABEL_SET
    return RowScore(0, error, _details(expected, FAILURE_COLUMNS[error], None))


def _details(expected: str, predicted: str, step: str | None) -> dict[str, Any]:
    # The same keys in the same order on every row: they become spreadsheet columns.
    return {
        "expected": expected,
        "predicted": predicted,
        "matched_by": matched_by(step),
        "near_miss": int(is_near_miss(step)),
    }


def _metrics(
    rows: list[RowScore], pairs: list[tuple[str, str]], labels: list[str]
) -> dict[str, float]:
    from sklearn.metrics import f1_score

    judged = scored(rows)
    # Macro and weighted F1 over the labels that occur (as expected or predicted), as sklearn
    # does by default: a label the test set never uses would otherwise count as F1 = 0.
    present = [label for label in labels if any(label in pair for pair in pairs)]
    y_true, y_pred = [e for e, _ in pairs], [p for _, p in pairs]

    def f1(average: str) -> float:
        if not present:
            return 0.0
        return float(f1_score(y_true, y_pred, labels=present, average=average, zero_division=0))

    def share(error_class: str) -> float:
        return rate(sum(row.error_class == error_class for row in judged), len(judged))

    return {
        "n": float(len(judged)),
        "n_labels": float(len(labels)),
        "accuracy": rate(sum(row.match or 0 for row in judged), len(judged)),
        "macro_f1": f1("macro"),
        "weighted_f1": f1("weighted"),
        "out_of_label_set_rate": share(OUT_OF_LABEL_SET),
        "format_invalid_rate": share(FORMAT_INVALID),
        "generation_failed_rate": share(GENERATION_FAILED),
        "wrong_label_rate": share(WRONG_LABEL),
        "near_miss_rate": rate(sum(row.details.get("near_miss", 0) for row in judged), len(judged)),
    }


def _tables(
    rows: list[RowScore], pairs: list[tuple[str, str]], labels: list[str]
) -> dict[str, list[dict[str, Any]]]:
    return {
        "per_label": per_label(pairs, labels),
        "confusion": confusion(pairs, labels),
        "error_classes": class_table(scored(rows)),
    }


def per_label(pairs: Sequence[tuple[str, str]], labels: list[str]) -> list[dict[str, Any]]:
    """Precision, recall, F1, support (expected count) and predicted count for every label."""
    from sklearn.metrics import precision_recall_fscore_support

    if not pairs:
        return []
    y_true, y_pred = [e for e, _ in pairs], [p for _, p in pairs]
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    return [
        {
            "label": label,
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
            "predicted": y_pred.count(label),
        }
        for i, label in enumerate(labels)
    ]


def confusion(pairs: Sequence[tuple[str, str]], labels: list[str]) -> list[dict[str, Any]]:
    """One row per expected label: how often each label (or failure column) was answered."""
    from sklearn.metrics import confusion_matrix

    columns = [*labels, *FAILURE_COLUMNS.values()]
    if not pairs:
        return []
    matrix = confusion_matrix([e for e, _ in pairs], [p for _, p in pairs], labels=columns)
    return [
        {"expected": label, **{column: int(matrix[i][j]) for j, column in enumerate(columns)}}
        for i, label in enumerate(labels)
    ]
