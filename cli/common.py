"""Shared plumbing for CLI commands: settings, console, logging and error exits."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from engine.config import Config, ConfigError
from engine.personal_data import MaskingFilter, masked
from engine.settings import Settings
from engine.snapshots import Snapshot, SnapshotNotFoundError, SnapshotStore

PIPED_WIDTH = 160
console = Console(highlight=False)
error_console = Console(stderr=True, highlight=False)


def configure_consoles() -> None:
    """Piped or captured output (CI logs, ``make demo | tee``) is ``COLUMNS`` wide, else 160 columns
    instead of rich's 80, so the per-area tables stay readable; a terminal keeps its own width."""
    for each in (console, error_console):
        if not each.is_terminal:
            columns = os.environ.get("COLUMNS", "")
            each.width = int(columns) if columns.isdigit() else PIPED_WIDTH


def configure_logging(level: int = logging.WARNING) -> None:
    """Log warnings and above to stderr; library code only logs, never prints.

    MLflow logs its progress at INFO through a handler of its own ("Creating initial MLflow database
    tables", "Validating input example against model signature"), configured from MLFLOW_LOGGING_LEVEL
    when it is first imported. The commands print only this project's messages and MLflow's warnings;
    set MLFLOW_LOGGING_LEVEL=INFO to see the rest.
    """
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        if not any(isinstance(each, MaskingFilter) for each in handler.filters):
            handler.addFilter(MaskingFilter())
    mlflow_level = os.environ.setdefault("MLFLOW_LOGGING_LEVEL", logging.getLevelName(level))
    logging.getLogger("mlflow").setLevel(mlflow_level.upper())  # in case MLflow is imported already


def load_settings() -> Settings:
    """Settings from the environment (created per command, never at import time)."""
    return Settings()


def load_effective_config(settings: Settings) -> Config:
    """The effective configuration, or a clean exit naming what is wrong with it."""
    try:
        return settings.load_config()
    except ConfigError as error:
        fail(str(error))


def open_snapshot(settings: Settings, snapshot_id: str | None) -> Snapshot:
    """The named (or current) snapshot, or a clean exit saying there is none."""
    try:
        return SnapshotStore(settings.snapshots_dir).open(snapshot_id)
    except SnapshotNotFoundError as error:
        fail(str(error))


def shown(value: object) -> str:
    """``value`` as text safe to print with rich: markup escaped, personal identity numbers masked.

    Every value that comes from data (names, ids, sentences, messages that quote them) goes through
    this before it reaches a console: a unit named ``[/bold]`` would otherwise crash the print.
    """
    return escape(masked(str(value)))


def fail(message: str, exit_code: int = 1) -> NoReturn:
    """Print ``message`` (plain text, shown with :func:`shown`) as an error and exit non-zero."""
    error_console.print(f"[bold red]error:[/] {shown(message)}")
    raise typer.Exit(code=exit_code)


@contextmanager
def status(message: str) -> Iterator[None]:
    """A spinner for a long step (silent when stdout is not a terminal)."""
    with console.status(message):
        yield
