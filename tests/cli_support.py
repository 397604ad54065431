"""Shared steps of end-to-end CLI tests."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from cli import app


def generated_and_ingested(runner: CliRunner, world: Path, *, seed: int, units: int, years: int) -> None:
    """Generate a small synthetic world into ``world`` and ingest it as the current snapshot."""
    for args in (
        ["generate", "--seed", str(seed), "--units", str(units), "--years", str(years), "--out", str(world)],
        ["ingest", str(world), "--reference-date", "2026-01-15"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, f"{args[0]} failed: {result.output[-2000:]}"
