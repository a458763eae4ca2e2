"""``tunestudio keys``: the server's API keys — create (shown once), list, revoke."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from tunestudio.cli.common import console

if TYPE_CHECKING:
    from tunestudio.server.keystore import KeyInfo

app = typer.Typer(
    help="API keys for `tunestudio serve`: stored hashed, with scopes and rate limits.",
    no_args_is_help=True,
)
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


@app.command()
def create(
    name: Annotated[str, typer.Option(help="A name to recognise the key by.")] = "default",
    scope: Annotated[
        str, typer.Option(help="Comma-separated scopes: chat, tune, admin (admin = all).")
    ] = "chat,tune",
    rate_limit: Annotated[
        int, typer.Option(min=0, help="Requests per minute (0 = no limit).")
    ] = 60,
    as_json: AsJson = False,
) -> None:
    """Create a key and print it, with its client id and secret, this once."""
    from tunestudio.server.keystore import KeyStore, parse_scopes

    new = KeyStore().create(name, parse_scopes(scope.split(",")), rate_limit)
    if as_json:
        data = key_dict(new.info) | {"apiKey": new.key, "clientSecret": new.client_secret}
        console.print_json(data=data)
        return
    info = new.info
    console.print(
        f"created key [bold]{info.id}[/] ({escape(info.name)}; scopes "
        f"{', '.join(info.scopes)}; {_limit(info.rate_limit)})",
        highlight=False,
    )
    console.print(f"  API key        {new.key}", highlight=False, soft_wrap=True)
    console.print(f"  client id      {info.client_id}", highlight=False, soft_wrap=True)
    console.print(f"  client secret  {new.client_secret}", highlight=False, soft_wrap=True)
    console.print(
        "[yellow]Copy them now: they are not shown again[/] (the store keeps only hashes).",
        highlight=False,
    )


@app.command("list")
def list_keys(as_json: AsJson = False) -> None:
    """List the keys (never their secrets), oldest first."""
    from tunestudio.server.keystore import KeyStore

    keys = KeyStore().list_keys()
    if as_json:
        console.print_json(data=[key_dict(key) for key in keys])
        return
    if not keys:
        console.print("no API keys yet: [bold]tunestudio keys create --name my-app[/]")
        return
    table = Table("ID", "Name", "Key", "Scopes", "Rate limit", "Created", "Status")
    for key in keys:
        status = "[green]active[/]" if key.active else f"[red]revoked {_local(key.revoked_at)}[/]"
        table.add_row(
            key.id,
            escape(key.name),
            f"{key.hint}…",
            ", ".join(key.scopes),
            _limit(key.rate_limit),
            _local(key.created_at),
            status,
        )
    console.print(table)


@app.command()
def revoke(
    key_id: Annotated[str, typer.Argument(metavar="KEY_ID", help="Key id, as `keys list` shows.")],
) -> None:
    """Revoke a key (and its access tokens); requests with it are refused from now on."""
    from tunestudio.server.keystore import KeyStore

    store = KeyStore()
    before = store.get(key_id)
    key = store.revoke(key_id)
    if before.active:
        console.print(f"revoked key [bold]{key.id}[/] ({escape(key.name)})", highlight=False)
    else:
        console.print(
            f"key [bold]{key.id}[/] was already revoked on {_local(key.revoked_at)}",
            highlight=False,
        )


def key_dict(key: KeyInfo) -> dict[str, Any]:
    """A key as JSON (camelCase like the rest of the CLI's JSON); no secret in it."""
    return {
        "id": key.id,
        "name": key.name,
        "keyHint": key.hint,
        "clientId": key.client_id,
        "scopes": [scope.value for scope in key.scopes],
        "rateLimit": key.rate_limit,
        "createdAt": key.created_at.isoformat(),
        "revokedAt": key.revoked_at.isoformat() if key.revoked_at else None,
    }


def _limit(per_minute: int) -> str:
    return f"{per_minute}/min" if per_minute else "no limit"


def _local(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M") if moment else ""
