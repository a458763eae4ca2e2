"""Sums over the cost ledger: calls, cache hits, tokens, latency, cost and cost saved.

``tunestudio stats`` prints them per model, pipeline, run, key or outcome; ``tunestudio run``
and ``infer`` show the lines of their own run. Sums are computed in SQL (they stay fast with
millions of records); latency percentiles are computed from the matching rows' latencies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from tunestudio.errors import ConfigError
from tunestudio.ops.ledger import CALL, ERROR, EXACT_HIT, REJECTED, SEMANTIC_HIT
from tunestudio.store.db import get_engine, session_scope
from tunestudio.store.schema import LedgerRow

GROUPS = ("model", "pipeline", "run", "key", "outcome")


@dataclass(frozen=True)
class StatRow:
    """The ledger's sums for one group (``group`` is its model, run, key, … or "all")."""

    group: str
    requests: int  # calls answered: model calls that were accepted + cache hits
    calls: int  # model calls made (accepted or rejected)
    exact_hits: int
    semantic_hits: int
    rejected: int
    errors: int
    input_tokens: int
    output_tokens: int
    cost: float
    saved_cost: float
    saved_tokens: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None

    @property
    def hit_rate(self) -> float:
        hits = self.exact_hits + self.semantic_hits
        return hits / self.requests if self.requests else 0.0


def summarize(
    by: str = "model",
    *,
    run: str | None = None,
    key: str | None = None,
    pipeline: str | None = None,
    since: datetime | None = None,
    url: str | None = None,
) -> list[StatRow]:
    """One row per value of ``by`` (one of :data:`GROUPS`, or "all"), most costly first."""
    if by not in (*GROUPS, "all"):
        raise ConfigError(
            f"cannot group by {by!r}", where="--by", hint=f"one of: {', '.join(GROUPS)}, all"
        )
    filters = [LedgerRow.at >= since] if since else []
    for column, value in (
        (LedgerRow.run, run),
        (LedgerRow.key, key),
        (LedgerRow.pipeline, pipeline),
    ):
        if value is not None:
            filters.append(column == value)
    group_column = getattr(LedgerRow, by) if by != "all" else None

    def count(outcome: str) -> object:
        return func.sum(case((LedgerRow.outcome == outcome, 1), else_=0))

    columns = [
        count(CALL),
        count(EXACT_HIT),
        count(SEMANTIC_HIT),
        count(REJECTED),
        count(ERROR),
        func.sum(LedgerRow.input_tokens),
        func.sum(LedgerRow.output_tokens),
        func.sum(LedgerRow.cost),
        func.sum(LedgerRow.saved_cost),
        func.sum(LedgerRow.saved_tokens),
    ]
    query = select(group_column if group_column is not None else func.count(), *columns)
    if group_column is not None:
        query = query.group_by(group_column)
    query = query.where(*filters)
    rows: list[StatRow] = []
    with session_scope(get_engine(url)) as session:
        for (
            group,
            calls,
            exact,
            semantic,
            rejected,
            errors,
            tin,
            tout,
            cost,
            saved,
            stok,
        ) in session.execute(query):
            if not (calls or exact or semantic or rejected or errors):
                continue
            where = [*filters]
            if group_column is not None:
                where.append(group_column == group if group is not None else group_column.is_(None))
            p50, p95 = _latency(session, where)
            rows.append(
                StatRow(
                    group="all" if group_column is None else (group or "—"),
                    # answers given: accepted model answers and cache hits (a row of only
                    # rejections, as when grouping by outcome, gave none)
                    requests=max(0, int(calls or 0) - int(rejected or 0))
                    + int(exact or 0)
                    + int(semantic or 0),
                    calls=int(calls or 0),
                    exact_hits=int(exact or 0),
                    semantic_hits=int(semantic or 0),
                    rejected=int(rejected or 0),
                    errors=int(errors or 0),
                    input_tokens=int(tin or 0),
                    output_tokens=int(tout or 0),
                    cost=float(cost or 0.0),
                    saved_cost=float(saved or 0.0),
                    saved_tokens=int(stok or 0),
                    latency_p50_ms=p50,
                    latency_p95_ms=p95,
                )
            )
    return sorted(rows, key=lambda r: (-r.cost, r.group))


def _latency(session: Session, where: Sequence[Any]) -> tuple[float | None, float | None]:
    """p50 and p95 latency of the model calls matching ``where``."""
    import numpy as np

    query = select(LedgerRow.latency_ms).where(LedgerRow.outcome == CALL, *where)
    values = [v for (v,) in session.execute(query)]
    if not values:
        return None, None
    p50, p95 = np.percentile(values, [50, 95])
    return float(p50), float(p95)
