"""Shared steps of end-to-end CLI tests."""

from __future__ import annotations

import re
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


DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "engine" / "default_config.toml"


def configured(path: Path, **settings: str) -> Path:
    """The default configuration with each ``name = value`` line named in ``settings`` changed, at ``path``.

    Tests that train on a generated world use it to train less (one test fold, a single model family)
    where what they check does not depend on it. A name the default no longer sets exactly once fails
    here, rather than the test silently training with the default.
    """
    text = DEFAULT_CONFIG.read_text(encoding="utf-8")
    for name, value in settings.items():
        text, found = re.subn(rf"^{re.escape(name)} = .*$", f"{name} = {value}", text, flags=re.MULTILINE)
        assert found == 1, f"the default configuration sets {name} {found} times, expected once"
    path.write_text(text, encoding="utf-8")
    return path
