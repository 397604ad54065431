"""``tillsynsrisk serve`` and ``tillsynsrisk apikey create|list|revoke``."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.table import Table

from cli.common import console, error_console, fail, load_settings, shown
from engine.personal_data import MaskingFilter

# Descriptors the process needs besides connections: SQLite stores and their WAL files, logs, MLflow.
OPEN_FILES_RESERVE = 64

apikey_app = typer.Typer(help="Manage API keys (stored hashed, with scopes).", no_args_is_help=True)


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    access_log: Annotated[
        bool,
        typer.Option(
            "--access-log/--no-access-log", help="uvicorn's access log (the audit log is always on)."
        ),
    ] = False,
) -> None:
    """Serve the API (uvicorn) on the published scoring snapshot; swaps in newly published ones.

    Connection limits and timeouts come from the settings (``TILLSYNSRISK_SERVER_*``, docs/api.md).
    """
    import uvicorn

    from api.main import create_app
    from api.server import install_accept_error_throttle, raised_open_file_limit, server_options
    from engine.config import ConfigError

    settings = load_settings()
    try:
        app = create_app(settings)
    except ConfigError as error:
        fail(str(error))
    problem = app.state.tillsynsrisk.holder.problem
    if problem:
        error_console.print(f"[yellow]warning:[/] not ready yet: {shown(problem)}")
    console.print(
        f"tillsynsrisk API on http://{shown(host)}:{port} (docs at /docs), home {shown(settings.home)}"
    )
    # uvicorn's own loggers do not propagate to the root handlers: they get the masking filter too
    # (an access-log line quotes the path and query as sent).
    for name in ("uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).addFilter(MaskingFilter())
    install_accept_error_throttle()
    open_files = raised_open_file_limit()
    if open_files < settings.server_limit_concurrency + OPEN_FILES_RESERVE:
        error_console.print(
            f"[yellow]warning:[/] the open-file limit ({open_files}) is below the connection limit "
            f"({settings.server_limit_concurrency}) plus {OPEN_FILES_RESERVE} for the stores; raise it "
            "(`ulimit -n`, systemd's LimitNOFILE) or lower TILLSYNSRISK_SERVER_LIMIT_CONCURRENCY"
        )
    uvicorn.run(
        app, host=host, port=port, access_log=access_log, log_level="info", **server_options(settings)
    )


@apikey_app.command("create")
def create_key(
    name: Annotated[str, typer.Option("--name", help="Who or what uses the key (logged in the audit log).")],
    scopes: Annotated[
        str, typer.Option("--scopes", help="Comma-separated, e.g. read:candidates,write:plans.")
    ] = "read:candidates",
) -> None:
    """Create a key and print it once (only its hash is stored)."""
    from api.security import ApiKeyError, ApiKeyStore, parse_scopes

    store = ApiKeyStore(load_settings().api_keys_db)
    try:
        record, key = store.create(name, parse_scopes(scopes))
    except ApiKeyError as error:
        fail(str(error))
    finally:
        store.close()
    error_console.print(
        f"Created key {record.key_id} '{shown(record.name)}' with scopes {', '.join(sorted(record.scopes))}. "
        "It is shown only now; store it safely:"
    )
    print(key)  # stdout, alone, so that `KEY=$(tillsynsrisk apikey create ...)` works


@apikey_app.command("list")
def list_keys() -> None:
    """List keys (id, name, scopes, created, revoked) — never the keys themselves."""
    from api.security import ApiKeyStore

    store = ApiKeyStore(load_settings().api_keys_db)
    keys = store.list()
    store.close()
    table = Table("key id", "name", "scopes", "created", "revoked")
    for key in keys:
        table.add_row(
            key.key_id, shown(key.name), " ".join(sorted(key.scopes)), key.created_at, key.revoked_at or ""
        )
    console.print(table)


@apikey_app.command("revoke")
def revoke_key(name_or_id: Annotated[str, typer.Argument(help="The key's name or key id.")]) -> None:
    """Revoke an active key; requests with it get 401 from then on."""
    from api.security import ApiKeyError, ApiKeyStore

    store = ApiKeyStore(load_settings().api_keys_db)
    try:
        key = store.revoke(name_or_id)
    except ApiKeyError as error:
        fail(str(error))
    finally:
        store.close()
    console.print(f"Revoked key {key.key_id} '{shown(key.name)}' at {key.revoked_at}.")
