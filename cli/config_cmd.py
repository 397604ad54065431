"""``tillsynsrisk config show``."""

from __future__ import annotations

import tomli_w

from cli.common import console, load_effective_config, load_settings


def show_config() -> None:
    """Print the effective configuration as TOML, with where it came from and its hash."""
    settings = load_settings()
    config = load_effective_config(settings)
    origin = settings.config_file or "packaged default (engine/default_config.toml)"
    console.print(f"# source: {origin}")
    console.print(f"# config hash: {config.content_hash()[:16]}")
    console.print(f"# home: {settings.home}")
    console.print(tomli_w.dumps(config.model_dump(mode="json")), markup=False, soft_wrap=True)
