"""The command line: one Typer sub-app per stage. Only this package turns errors into exit codes."""
