"""``tunestudio chat MODEL``: the playground — a multi-turn chat in the terminal."""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from tunestudio.cli.app import app
from tunestudio.cli.common import console, err_console, print_error
from tunestudio.cli.infer import MODEL_HELP

if TYPE_CHECKING:
    from tunestudio.inference import ChatSession, TurnStats
    from tunestudio.types import GenParams

COMMANDS = """\
/reset              forget the conversation (system prompt and parameters stay)
/system [TEXT]      show the system prompt, or set it to TEXT (/system --clear removes it)
/set [NAME VALUE]   show the parameters, or set one: /set temperature 0.7
/history            show the conversation so far
/help               this list
/exit               leave (or Ctrl-D; Ctrl-C stops an answer, or leaves at the prompt)"""


HELP = (
    "Chat with MODEL: history, streamed answers, token counts and latency per turn.\n\n"
    "Type /help in the chat for its commands. With -m the answer goes to stdout alone and "
    "its costs to stderr, for scripts."
)


@app.command(help=HELP)
def chat(
    model: Annotated[str, typer.Argument(metavar="MODEL", help=MODEL_HELP)],
    system: Annotated[str, typer.Option(help="System prompt.")] = "",
    message: Annotated[
        str | None,
        typer.Option("--message", "-m", help="Ask this once, print the answer and exit."),
    ] = None,
    temperature: Annotated[
        float | None, typer.Option(min=0.0, help="Sampling temperature (0 = greedy).")
    ] = None,
    max_tokens: Annotated[int | None, typer.Option(min=1, help="Longest answer.")] = None,
    top_p: Annotated[float | None, typer.Option(min=0.0, max=1.0, help="Nucleus sampling.")] = None,
    top_k: Annotated[int | None, typer.Option(min=0, help="Top-k sampling (0 = off).")] = None,
    repetition_penalty: Annotated[
        float | None, typer.Option(min=0.0, help="Penalty for repeating tokens (1 = none).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for sampling.")] = None,
) -> None:
    """The playground: a multi-turn chat with MODEL, or one answer with -m."""
    from tunestudio.inference import ChatSession
    from tunestudio.models import load_backend

    params = _params(temperature, max_tokens, top_p, top_k, repetition_penalty, seed)
    with err_console.status(f"loading {model}…"):
        backend = load_backend(model)
    try:
        session = ChatSession(backend, system=system, params=params)
        if message is not None:
            _answer_once(session, message)
        else:
            _loop(session)
    finally:
        backend.close()


def _params(
    temperature: float | None,
    max_tokens: int | None,
    top_p: float | None,
    top_k: int | None,
    repetition_penalty: float | None,
    seed: int | None,
) -> GenParams:
    from tunestudio.types import GenParams

    given: dict[str, Any] = {
        "temperature": temperature,
        "max_tokens": max_tokens,
        "top_p": top_p,
        "top_k": top_k,
        "repetition_penalty": repetition_penalty,
        "seed": seed,
    }
    return GenParams(**{k: v for k, v in given.items() if v is not None})


def _answer_once(session: ChatSession, message: str) -> None:
    for delta in session.ask(message):
        sys.stdout.write(delta)
        sys.stdout.flush()
    sys.stdout.write("\n")
    if session.last is not None:
        err_console.print(stats_line(session.last), style="dim", highlight=False)


def _loop(session: ChatSession) -> None:
    if sys.stdin.isatty():
        with contextlib.suppress(ImportError):  # not on Windows
            import readline  # noqa: F401  (arrow keys, line editing and recall in input())
    console.print(
        f"[bold]{session.backend.name}[/] — /help for commands, /exit or Ctrl-D to leave",
        highlight=False,
    )
    while True:
        try:
            line = console.input("[bold cyan]>>> [/]")
        except (EOFError, KeyboardInterrupt):
            console.print()
            return
        text = line.strip()
        if not text:
            continue
        if text.startswith("/"):
            if not _command(session, text):
                return
            continue
        _reply(session, text)


def _reply(session: ChatSession, text: str) -> None:
    from tunestudio.errors import TuneStudioError

    try:
        for delta in session.ask(text):
            # The model's text as it is: no markup, emoji codes or wrapping by rich.
            console.file.write(delta)
            console.file.flush()
    except KeyboardInterrupt:
        console.print("\n[yellow](answer stopped; it is not kept in the history)[/]")
        return
    except TuneStudioError as exc:  # a failed call ends the turn, not the session
        console.print()
        print_error(exc)
        return
    console.print()
    if session.last is not None:
        console.print(stats_line(session.last), style="dim", highlight=False)


def stats_line(stats: TurnStats) -> str:
    """``in 35 tok · out 12 tok · 0.42 s (first token 0.05 s)`` for one answer."""
    tokens_in = "?" if stats.input_tokens is None else str(stats.input_tokens)
    tokens_out = "?" if stats.output_tokens is None else str(stats.output_tokens)
    line = f"in {tokens_in} tok · out {tokens_out} tok · {stats.latency_s:.2f} s"
    if stats.first_token_s is not None:
        line += f" (first token {stats.first_token_s:.2f} s)"
    if stats.finish_reason == "length":
        line += " · cut at max_tokens"
    return line


def _command(session: ChatSession, text: str) -> bool:
    """Run a /command; False means leave the chat."""
    from tunestudio.errors import ConfigError

    name, _, arg = text.partition(" ")
    name, arg = name.lower(), arg.strip()
    if name in ("/exit", "/quit", "/bye"):
        return False
    try:
        handler = _HANDLERS[name]
    except KeyError:
        console.print(f"unknown command {name}; these work:\n{COMMANDS}", highlight=False)
        return True
    try:
        handler(session, arg)
    except ConfigError as exc:
        print_error(exc)
    return True


def _reset(session: ChatSession, arg: str) -> None:
    dropped = len(session.history)
    session.reset()
    console.print(f"[green]history cleared[/] ({dropped} turn(s) forgotten)")


def _system(session: ChatSession, arg: str) -> None:
    if not arg:
        console.print(f"system: {session.system or '(none)'}", highlight=False, markup=False)
        return
    session.system = "" if arg == "--clear" else arg
    console.print("[green]system prompt " + ("removed" if not session.system else "set") + "[/]")


def _set(session: ChatSession, arg: str) -> None:
    if not arg:
        for key, value in vars(session.params).items():
            console.print(f"{key} = {value!r}", highlight=False, markup=False)
        return
    name, _, value = arg.partition(" ")
    if not value.strip():
        from tunestudio.errors import ConfigError

        raise ConfigError(f"/set {name} needs a value", hint=f"e.g. /set {name} 0.7")
    key, parsed = session.set_param(name, value)
    console.print(f"[green]{key} = {escape(repr(parsed))}[/]", highlight=False)


def _history(session: ChatSession, arg: str) -> None:
    if session.system:
        console.print(f"[bold]system:[/] {escape(session.system)}", highlight=False)
    if not session.history:
        console.print("(no turns yet)")
    for number, turn in enumerate(session.history, start=1):
        console.print(f"[bold]{number}. user:[/] {escape(turn.user)}", highlight=False)
        console.print(f"[bold]{number}. assistant:[/] {escape(turn.assistant)}", highlight=False)


def _help(session: ChatSession, arg: str) -> None:
    console.print(COMMANDS, highlight=False, markup=False)


_HANDLERS = {
    "/reset": _reset,
    "/system": _system,
    "/set": _set,
    "/history": _history,
    "/help": _help,
}
