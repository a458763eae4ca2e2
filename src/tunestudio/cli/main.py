"""``tunestudio``: the entry point. Sub-apps import heavy libraries only inside commands."""

from __future__ import annotations

import typer

from tunestudio.cli.common import fail
from tunestudio.cli.data import app as data_app
from tunestudio.errors import TuneStudioError

app = typer.Typer(
    name="tunestudio",
    help="Make a language model do one job well and cheaply: data → tune → test → evaluate → serve.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    add_completion=False,
)
app.add_typer(data_app, name="data")


@app.callback()
def _root() -> None:
    """tunestudio — a self-hosted studio for tuning and serving language models."""


def main() -> None:
    """Console-script entry point: run the app and turn our errors into messages."""
    try:
        app()
    except TuneStudioError as exc:
        fail(exc)


if __name__ == "__main__":
    main()
