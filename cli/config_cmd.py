"""``tillsynsrisk config show``."""

from __future__ import annotations

from typing import Any

import tomli_w

from cli.common import console, load_effective_config, load_settings
from engine.config import Config


def config_as_toml(config: Config) -> str:
    """``config`` as TOML text that loads back into the same configuration.

    TOML has no null, so settings without a value (``None``, such as a measure's unset threshold) are
    left out: every such setting defaults to ``None``, so the text still loads into the same
    configuration.
    """
    mapping: dict[str, Any] = config.model_dump(mode="json", exclude_none=True)
    return tomli_w.dumps(mapping)


def show_config() -> None:
    """Print the effective configuration as TOML, with where it came from and its hash."""
    settings = load_settings()
    config = load_effective_config(settings)
    origin = settings.config_file or "packaged default (engine/default_config.toml)"
    header = (
        f"# source: {origin}\n"
        f"# config hash: {config.content_hash()[:16]}\n"
        f"# home: {settings.home}\n"
        "# settings without a value are left out (TOML has no null); they load as unset.\n"
    )
    console.print(header + config_as_toml(config), markup=False, soft_wrap=True)
