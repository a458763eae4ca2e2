"""The root Typer app. Command modules register on it; ``main.py`` imports them all."""

import typer

app = typer.Typer(
    name="tunestudio",
    help="Make a language model do one job well and cheaply: data → tune → test → evaluate → serve.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """tunestudio — a self-hosted studio for tuning and serving language models."""
