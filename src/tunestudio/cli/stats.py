"""``tunestudio stats``: what pipelines cost and saved — calls, cache hits, tokens, latency."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from tunestudio.cli.app import app
from tunestudio.cli.common import console
from tunestudio.errors import ConfigError

if TYPE_CHECKING:
    from tunestudio.ops.stats import StatRow

UNITS = {"m": "minutes", "h": "hours", "d": "days"}


@app.command()
def stats(
    by: Annotated[
        str, typer.Option(help="Group by model, pipeline, run, key, outcome, or all.")
    ] = "model",
    run: Annotated[str | None, typer.Option(help="Only this run (as shown with --by run).")] = None,
    key: Annotated[str | None, typer.Option(help="Only this API key id.")] = None,
    pipeline: Annotated[str | None, typer.Option(help="Only this pipeline.")] = None,
    since: Annotated[
        str | None, typer.Option(help="Only the last N minutes/hours/days: 30m, 12h, 7d.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Sum the cost ledger: every call made through a `pipeline:` model (chat, infer, run and
    serve record them), cache hits and the cost they saved, gate rejections, errors, latency."""
    from tunestudio.ops.stats import summarize

    rows = summarize(by, run=run, key=key, pipeline=pipeline, since=_since(since))
    if as_json:
        console.print_json(json.dumps([asdict(r) | {"hit_rate": r.hit_rate} for r in rows]))
        return
    if not rows:
        console.print(
            "no calls recorded yet: calls through a `pipeline:` model are recorded "
            "(see docs/ops.md)",
            highlight=False,
        )
        return
    console.print(stats_table(rows, by))


def stats_table(rows: list[StatRow], by: str) -> Table:
    """The ledger sums as a rich table (also used by `run` and `infer` for their own calls)."""
    table = Table(title="calls through pipelines (cost ledger)", title_justify="left")
    table.add_column(by, overflow="fold")
    for name in ("req", "calls", "hits", "rej", "err", "tokens", "cost", "saved"):
        table.add_column(name, justify="right")
    table.add_column("p50 ms", justify="right")
    for r in rows:
        hits = r.exact_hits + r.semantic_hits
        table.add_row(
            escape(r.group),
            f"{r.requests:,}",
            f"{r.calls:,}",
            f"{hits:,} ({r.hit_rate:.0%})" if hits else "0",
            f"{r.rejected:,}",
            f"{r.errors:,}",
            f"{r.input_tokens + r.output_tokens:,}",
            f"{r.cost:,.4g}",
            f"{r.saved_cost:,.4g}",
            f"{r.latency_p50_ms:,.0f}" if r.latency_p50_ms is not None else "—",
        )
    table.caption = (
        "req: answers given (cache hits included); calls: model calls made; rej: answers "
        "a cascade gate refused; err: failed calls; "
        "hits: exact + semantic cache hits; cost/saved: by the pipeline's prices"
    )
    return table


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    number, unit = value[:-1], value[-1:]
    if unit not in UNITS or not number.isdigit():
        raise ConfigError(
            f"cannot read {value!r} as a time span",
            where="--since",
            hint="write e.g. 30m, 12h or 7d",
        )
    return datetime.now(UTC) - timedelta(**{UNITS[unit]: int(number)})
