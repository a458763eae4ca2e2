"""Run the real CLI entry point in-process and capture what a user would see."""

from __future__ import annotations

import contextlib
import io
import sys
from dataclasses import dataclass

from tunestudio.cli.main import main


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


def run_cli(*args: object) -> Result:
    """Invoke ``tunestudio ARGS`` through ``main()`` (errors become messages + exit codes).

    The rich consoles write to whatever ``sys.stdout``/``sys.stderr`` are at print time, so
    redirecting them captures everything.
    """
    out, err = io.StringIO(), io.StringIO()
    old_argv = sys.argv
    sys.argv = ["tunestudio", *map(str, args)]
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = old_argv
    return Result(code, out.getvalue(), err.getvalue())
