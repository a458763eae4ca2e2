"""The ``data`` sub-app object, shared by the command modules beside it."""

import typer

app = typer.Typer(
    help="Build, check, clean, split, describe and generate tuning datasets.",
    no_args_is_help=True,
)
