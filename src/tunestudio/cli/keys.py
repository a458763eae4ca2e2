"""``tunestudio keys``: the server's API keys — create (shown once), list, revoke.

``keys create --iam`` adds an NCP IAM access key and secret key to the new key, for clients
that sign their requests the older NCP way (CLOVA's tuning cookbook); see server/iam.py.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from tunestudio.cli.common import console

if TYPE_CHECKING:
    from tunestudio.server.iam import NewIamKey
    from tunestudio.server.keystore import KeyInfo, NewKey

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
    iam: Annotated[
        bool,
        typer.Option(
            "--iam",
            help="Also issue an IAM access key and secret key, for clients that sign requests "
            "with X-NCP-APIGW-SIGNATURE-V2 (the secret is stored encrypted).",
        ),
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Create a key and print it, with its client id and secret (and IAM pair), this once."""
    from tunestudio.server.iam import IamKeyStore
    from tunestudio.server.keystore import KeyStore, parse_scopes
    from tunestudio.server.secretbox import MASTER_KEY_ENV, master_key_path

    scopes = parse_scopes(scope.split(","))
    made_master = iam and not os.environ.get(MASTER_KEY_ENV) and not master_key_path().exists()
    if iam:
        pair = IamKeyStore(KeyStore()).create(name, scopes, rate_limit)
        new = pair.key
    else:
        pair, new = None, KeyStore().create(name, scopes, rate_limit)
    if as_json:
        console.print_json(data=_created_dict(new, pair))
        return
    _print_created(new, pair)
    if made_master:
        console.print(
            f"made the master key {master_key_path()}: back it up apart from the store "
            f"(or set {MASTER_KEY_ENV}); without it the IAM secret keys cannot be read",
            highlight=False,
            soft_wrap=True,
        )


def _created_dict(new: NewKey, pair: NewIamKey | None) -> dict[str, Any]:
    data = key_dict(new.info, pair.access_key if pair else None)
    data |= {"apiKey": new.key, "clientSecret": new.client_secret}
    if pair is not None:
        data["iamSecretKey"] = pair.secret_key
    return data


def _print_created(new: NewKey, pair: NewIamKey | None) -> None:
    info = new.info
    console.print(
        f"created key [bold]{info.id}[/] ({escape(info.name)}; scopes "
        f"{', '.join(info.scopes)}; {_limit(info.rate_limit)})",
        highlight=False,
    )
    console.print(f"  API key        {new.key}", highlight=False, soft_wrap=True)
    console.print(f"  client id      {info.client_id}", highlight=False, soft_wrap=True)
    console.print(f"  client secret  {new.client_secret}", highlight=False, soft_wrap=True)
    kept = "the store keeps only hashes"
    if pair is not None:
        console.print(f"  access key     {pair.access_key}", highlight=False, soft_wrap=True)
        console.print(f"  secret key     {pair.secret_key}", highlight=False, soft_wrap=True)
        kept = "the store keeps hashes, and the secret key encrypted"
    console.print(f"[yellow]Copy them now: they are not shown again[/] ({kept}).", highlight=False)


@app.command("list")
def list_keys(as_json: AsJson = False) -> None:
    """List the keys (never their secrets), oldest first."""
    from tunestudio.server.iam import IamKeyStore
    from tunestudio.server.keystore import KeyStore

    store = KeyStore()
    keys, access_keys = store.list_keys(), IamKeyStore(store).access_keys()
    if as_json:
        console.print_json(data=[key_dict(key, access_keys.get(key.id)) for key in keys])
        return
    if not keys:
        console.print("no API keys yet: [bold]tunestudio keys create --name my-app[/]")
        return
    table = Table(
        "ID", "Name", "Key", "IAM access key", "Scopes", "Rate limit", "Created", "Status"
    )
    for key in keys:
        status = "[green]active[/]" if key.active else f"[red]revoked {_local(key.revoked_at)}[/]"
        table.add_row(
            key.id,
            escape(key.name),
            f"{key.hint}…",
            access_keys.get(key.id, "-"),
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
    """Revoke a key (and its access tokens and IAM access key); requests with it are refused
    from now on."""
    from tunestudio.server.iam import IamKeyStore
    from tunestudio.server.keystore import KeyStore

    store = KeyStore()
    before = store.get(key_id)
    key = store.revoke(key_id)
    access_key = IamKeyStore(store).access_keys().get(key.id)
    also = f" and its IAM access key {access_key}" if access_key else ""
    if before.active:
        console.print(f"revoked key [bold]{key.id}[/] ({escape(key.name)}){also}", highlight=False)
    else:
        console.print(
            f"key [bold]{key.id}[/] was already revoked on {_local(key.revoked_at)}",
            highlight=False,
        )


def key_dict(key: KeyInfo, iam_access_key: str | None = None) -> dict[str, Any]:
    """A key as JSON (camelCase like the rest of the CLI's JSON); no secret in it."""
    return {
        "id": key.id,
        "name": key.name,
        "keyHint": key.hint,
        "clientId": key.client_id,
        "iamAccessKey": iam_access_key,
        "scopes": [scope.value for scope in key.scopes],
        "rateLimit": key.rate_limit,
        "createdAt": key.created_at.isoformat(),
        "revokedAt": key.revoked_at.isoformat() if key.revoked_at else None,
    }


def _limit(per_minute: int) -> str:
    return f"{per_minute}/min" if per_minute else "no limit"


def _local(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M") if moment else ""
