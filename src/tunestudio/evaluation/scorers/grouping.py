"""The country-grouping task of the cookbook (seed 003): which countries went wrong, and how.

Every country of an item is judged once: ``correct`` (under its continent), ``misclassified``
(under another one), ``missing`` (in the input, not in the answer). Names in the answer that are
not in the input are ``extra``; a country listed again is a ``duplicate``. An example is an error
when any of those happened (``match`` 0), and its ``error_class`` names the kinds, e.g.
``missing+misclassified``. An answer without a single ``대륙: …`` block is ``format_invalid`` and
is kept out of the per-country counts.

The truth is the expected text when the row has one that parses, else the generator's table of
UN members (:data:`~tunestudio.data.generators.countries.COUNTRY_CONTINENT`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tunestudio.data.generators.countries import COUNTRY_CONTINENT
from tunestudio.evaluation.predictions import Prediction
from tunestudio.evaluation.scorers.base import (
    CORRECT,
    FORMAT_INVALID,
    GENERATION_FAILED,
    RowDataError,
    RowScore,
    ScoreReport,
)
from tunestudio.evaluation.scorers.common import class_table, rate, scored
from tunestudio.evaluation.scorers.grouping_parse import (
    continent_of,
    input_countries,
    key,
    parse_blocks,
)

ITEM_CLASSES = ("missing", "misclassified", "extra", "duplicate")
SLICES = ("n_countries", "n_continents")


@dataclass
class ItemCounts:
    """What went wrong in one answer, country by country."""

    correct: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    misclassified: list[str] = field(default_factory=list)  # "일본 → 유럽"
    extra: list[str] = field(default_factory=list)
    duplicate: list[str] = field(default_factory=list)
    unjudged: list[str] = field(default_factory=list)  # no continent known for it

    def error_kinds(self) -> list[str]:
        return [kind for kind in ITEM_CLASSES if getattr(self, kind)]


class Grouping:
    """Score ``대륙: 나라, 나라`` answers item by item."""

    name = "grouping"

    def score(self, items: Sequence[Prediction]) -> ScoreReport:
        """Score every item; raises :class:`RowDataError` for rows with no countries to judge."""
        truths = item_truths(items)
        rows = [_verdict(item, truth) for item, truth in zip(items, truths, strict=True)]
        slices = [_slice_values(item, truth) for item, truth in zip(items, truths, strict=True)]
        metrics = _metrics(rows)
        return ScoreReport(self.name, rows, metrics, _tables(rows, slices, metrics))


def item_truths(items: Sequence[Prediction]) -> list[dict[str, str]]:
    """Every item's countries and their continents; every unusable row named in one error."""
    truths: list[dict[str, str]] = []
    bad: list[tuple[int, str, str | None]] = []  # (index, problem, column)
    for item in items:
        countries, problem = input_countries(item.meta, item.input)
        truth = {} if problem else _truth(item.expected or "", countries)
        if problem:
            bad.append((item.index, problem, "countries"))
        elif not truth:
            bad.append(
                (item.index, "채점할 나라 목록이 없습니다 (countries 열, 질문, 정답 모두)", None)
            )
        truths.append(truth)
    if bad:
        index, problem, column = bad[0]
        more = f" (이런 행이 모두 {len(bad)}개)" if len(bad) > 1 else ""
        raise RowDataError(
            problem + more,
            index=index,
            column=column,
            hint='countries 열은 ["일본", "케냐"] 처럼 JSON 목록으로, 질문에는 "나라, 나라" 목록을 쓰세요',
        )
    return truths


def _verdict(item: Prediction, truth: dict[str, str]) -> RowScore:
    if item.answer is None:
        return RowScore(0, GENERATION_FAILED)
    blocks = parse_blocks(item.answer)
    if not blocks:
        return RowScore(0, FORMAT_INVALID, {"parsed_blocks": 0})
    counts = judge(truth, blocks)
    kinds = counts.error_kinds()
    return RowScore(int(not kinds), "+".join(kinds) or CORRECT, _details(counts, blocks))


def judge(truth: dict[str, str], blocks: list[tuple[str, list[str]]]) -> ItemCounts:
    """Sort every country of ``truth`` (name → continent) and every name of the answer."""
    names = {key(name): name for name in truth}
    counts = ItemCounts()
    seen: set[str] = set()
    for written_continent, listed in blocks:
        continent = continent_of(written_continent) or written_continent
        for written in listed:
            k = key(written)
            if k in seen:  # a name listed again, whether or not it was in the input
                counts.duplicate.append(names.get(k, written))
            elif k not in names:
                seen.add(k)
                counts.extra.append(written)
            else:
                seen.add(k)
                _place(counts, names[k], continent, truth[names[k]])
    counts.missing = [name for k, name in names.items() if k not in seen]
    return counts


def _place(counts: ItemCounts, name: str, answered: str, true: str) -> None:
    if not true:
        counts.unjudged.append(name)
    elif answered == true:
        counts.correct.append(name)
    else:
        counts.misclassified.append(f"{name} → {answered}")


def _truth(expected: str, countries: list[str]) -> dict[str, str]:
    """Country → continent for the item ("" where nobody knows), in input order."""
    from_expected = {
        key(name): continent_of(cont) or cont
        for cont, names in parse_blocks(expected)
        for name in names
    }
    if not countries:
        countries = [name for _, names in parse_blocks(expected) for name in names]
    table = {key(name): cont for name, cont in COUNTRY_CONTINENT.items()}
    return {c: from_expected.get(key(c)) or table.get(key(c), "") for c in countries}


def _details(counts: ItemCounts, blocks: list[tuple[str, list[str]]]) -> dict[str, Any]:
    details: dict[str, Any] = {"parsed_blocks": len(blocks), "correct": len(counts.correct)}
    for kind in (*ITEM_CLASSES, "unjudged"):
        details[kind] = len(getattr(counts, kind))
    for kind in ITEM_CLASSES:  # the names after the counts, so spreadsheet columns line up
        details[f"{kind}_items"] = ", ".join(getattr(counts, kind))
    return details


def _slice_values(item: Prediction, truth: dict[str, str]) -> dict[str, str]:
    """The item's country and continent counts: the columns when present, else from the truth."""
    derived = {
        "n_countries": str(len(truth)),
        "n_continents": str(len({c for c in truth.values() if c})),
    }
    return {name: str(item.meta.get(name) or derived[name]).strip() for name in SLICES}


def _metrics(rows: list[RowScore]) -> dict[str, float]:
    judged = scored(rows)
    parsed = [row for row in judged if row.error_class not in (FORMAT_INVALID, GENERATION_FAILED)]
    items = sum(row.details.get("correct", 0) + _judged_wrong(row) for row in parsed)
    accuracy = rate(sum(row.match or 0 for row in judged), len(judged))
    metrics = {
        "n": float(len(judged)),
        "accuracy": accuracy,
        "error_rate": 1 - accuracy if judged else 0.0,
        "format_invalid_rate": rate(
            sum(r.error_class == FORMAT_INVALID for r in judged), len(judged)
        ),
        "generation_failed_rate": rate(
            sum(r.error_class == GENERATION_FAILED for r in judged), len(judged)
        ),
        "countries": float(items),
    }
    for kind in ITEM_CLASSES:
        count = sum(row.details.get(kind, 0) for row in parsed)
        metrics[kind] = float(count)
        metrics[f"{kind}_rate"] = rate(count, items)  # per country of the parsed answers
    return metrics


def _judged_wrong(row: RowScore) -> int:
    # Every input country is exactly one of correct, missing, misclassified or unjudged.
    return sum(row.details.get(kind, 0) for kind in ("missing", "misclassified", "unjudged"))


def _tables(
    rows: list[RowScore], slices: list[dict[str, str]], metrics: dict[str, float]
) -> dict[str, list[dict[str, Any]]]:
    judged = scored(rows)
    return {
        "item_classes": [
            {"class": kind, "count": int(metrics[kind]), "rate": metrics[f"{kind}_rate"]}
            for kind in ITEM_CLASSES
        ],
        "error_classes": class_table(judged),
        **{f"by_{name}": _by_slice(rows, slices, name) for name in SLICES},
    }


def _by_slice(
    rows: list[RowScore], slices: list[dict[str, str]], name: str
) -> list[dict[str, Any]]:
    """Examples, errors and the error probability per value of ``name`` (the seed's analysis)."""
    groups: dict[str, list[RowScore]] = {}
    for row, values in zip(rows, slices, strict=True):
        if row.match is not None:
            groups.setdefault(values[name], []).append(row)
    out = []
    for value in sorted(groups, key=_number_first):
        group = groups[value]
        errors = sum(1 - (row.match or 0) for row in group)
        entry = {"examples": len(group), "errors": errors, "error_rate": rate(errors, len(group))}
        kinds = {kind: sum(row.details.get(kind, 0) for row in group) for kind in ITEM_CLASSES}
        out.append({name: _as_number(value), **entry, **kinds})
    return out


def _as_number(value: str) -> int | float | str:
    """``"20"`` → 20 (CSV cells are text; reports and charts want numbers)."""
    try:
        number = float(value)
    except ValueError:
        return value
    return int(number) if number.is_integer() else number


def _number_first(value: str) -> tuple[int, float, str]:
    try:
        return (0, float(value), value)
    except ValueError:
        return (1, 0.0, value)
