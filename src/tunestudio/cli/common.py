"""What every command shares: consoles, error printing, and the data-dir settings."""

from __future__ import annotations

import sys
from typing import NoReturn

from rich.console import Console
from rich.markup import escape

from tunestudio.errors import TuneStudioError

console = Console()
err_console = Console(stderr=True)


def print_error(exc: TuneStudioError) -> None:
    """Print an error as a user reads it: where, what, and what to do next."""
    where = f"[bold]{escape(exc.where)}[/]: " if exc.where else ""
    err_console.print(f"[red]error:[/] {where}{escape(exc.message)}", highlight=False)
    if exc.hint:
        err_console.print(f"[yellow]hint:[/] {escape(exc.hint)}", highlight=False)


def fail(exc: TuneStudioError) -> NoReturn:
    print_error(exc)
    sys.exit(exc.exit_code)
