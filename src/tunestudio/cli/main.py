"""``tunestudio``: the entry point. Command modules import heavy libraries only when run."""

from __future__ import annotations

from tunestudio.cli import chat, infer, run, serve, stats  # noqa: F401  (each registers a command)
from tunestudio.cli.app import app
from tunestudio.cli.common import fail
from tunestudio.cli.data import app as data_app
from tunestudio.cli.eval import app as eval_app
from tunestudio.cli.keys import app as keys_app
from tunestudio.cli.tune import app as tune_app
from tunestudio.errors import TuneStudioError

app.add_typer(data_app, name="data")
app.add_typer(tune_app, name="tune")
app.add_typer(eval_app, name="eval")
app.add_typer(keys_app, name="keys")


def main() -> None:
    """Console-script entry point: run the app and turn our errors into messages."""
    try:
        app()
    except TuneStudioError as exc:
        fail(exc)


if __name__ == "__main__":
    main()
