"""The ``eval`` sub-app object, shared by the command modules beside it."""

import typer

app = typer.Typer(
    help="Score saved predictions, compare two runs, judge answers with a model.",
    no_args_is_help=True,
)
