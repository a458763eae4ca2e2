"""``tunestudio serve``: the models over HTTP in OpenAI's dialect, and queued tuning jobs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from tunestudio.cli.app import app
from tunestudio.cli.common import console

if TYPE_CHECKING:
    from tunestudio.server.config import ServerConfig

HELP = (
    "Serve models over HTTP: OpenAI's API at /v1 (and /v1/openai, as CLOVA Studio has it).\n\n"
    "Models come from --config (a serve.yaml) and --model NAME=SPEC; with neither, the built-in "
    "tiny model is served as `tiny`. Every SUCCEEDED tuning job is served by its job id. "
    "Without API keys (`tunestudio keys create`) only this machine may connect. Queued tuning "
    "jobs run here too unless --no-worker."
)


@app.command(help=HELP)
def serve(
    host: Annotated[
        str | None,
        typer.Option(
            help="Interface to listen on; 0.0.0.0 = all (needs an API key).",
            show_default="127.0.0.1",
        ),
    ] = None,
    port: Annotated[int | None, typer.Option(help="TCP port.", show_default="8000")] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="A serve.yaml (host, port, models, …).")
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            metavar="NAME=SPEC",
            help="Serve SPEC under NAME (repeatable), e.g. --model HCX-005=tiny.",
        ),
    ] = None,
    ssl_certfile: Annotated[
        Path | None, typer.Option(help="TLS certificate (PEM); serves https.")
    ] = None,
    ssl_keyfile: Annotated[Path | None, typer.Option(help="TLS private key (PEM).")] = None,
    no_worker: Annotated[
        bool,
        typer.Option("--no-worker", help="Leave queued tuning jobs to `tunestudio tune worker`."),
    ] = False,
) -> None:
    """Serve the configured models until Ctrl-C."""
    import uvicorn

    from tunestudio.server import build_app, load_server_config
    from tunestudio.server.app import check_bind
    from tunestudio.server.keystore import KeyStore

    overrides = {
        "host": host,
        "port": port,
        "ssl_certfile": ssl_certfile,
        "ssl_keyfile": ssl_keyfile,
        "worker": False if no_worker else None,
    }
    cfg = load_server_config(config, overrides=overrides, models=model)
    _check_tls_files(cfg)
    keys = KeyStore()
    check_bind(cfg, keys)
    server_app = build_app(cfg)
    _banner(cfg, [key.active for key in keys.list_keys()])
    uvicorn.run(
        server_app,
        host=cfg.host,
        port=cfg.port,
        ssl_certfile=str(cfg.ssl_certfile) if cfg.ssl_certfile else None,
        ssl_keyfile=str(cfg.ssl_keyfile) if cfg.ssl_keyfile else None,
        log_config=_log_config(),
        timeout_graceful_shutdown=10,
    )


def _log_config() -> dict[str, Any]:
    """uvicorn's logging, plus the server's own messages (model loads, tuning jobs) beside it."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["tunestudio"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def _check_tls_files(cfg: ServerConfig) -> None:
    from tunestudio.errors import ConfigError

    for flag, path in (("--ssl-certfile", cfg.ssl_certfile), ("--ssl-keyfile", cfg.ssl_keyfile)):
        if path is not None and not path.is_file():
            raise ConfigError(
                f"file not found: {path}",
                where=flag,
                hint="give a PEM file; for a test certificate: openssl req -x509 -newkey rsa:2048 "
                "-nodes -keyout key.pem -out cert.pem -days 30 -subj /CN=localhost",
            )


def _banner(cfg: ServerConfig, keys: list[bool]) -> None:
    """What is served where, and who may call it. ``keys`` holds each key's active flag."""
    models = cfg.served_models()
    console.print(f"serving {len(models)} model(s) at [bold]{cfg.base_url}/v1[/]", highlight=False)
    if not cfg.loopback:
        console.print(f"  listening on {escape(cfg.host)}:{cfg.port}", highlight=False)
    width = max(len(entry.name) for entry in models)
    for entry in models:
        console.print(f"  {escape(entry.name):<{width}}  {escape(entry.spec)}", highlight=False)
    console.print("  and every SUCCEEDED tuning job, by its job id", highlight=False)
    if keys:
        console.print(f"auth: API key required ({sum(keys)} active)", highlight=False)
    else:
        console.print(
            "auth: open — no API keys, so only this machine may connect "
            "([bold]tunestudio keys create[/] to require one)",
            highlight=False,
        )
    state = "on (queued jobs run here)" if cfg.worker else "off"
    console.print(f"tuning worker: {state}", highlight=False)
