"""``tillsynsrisk config show`` prints TOML that loads back into the effective configuration."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from engine.config import config_from_mapping, default_config_text, load_config


def test_config_show_prints_the_default_configuration_as_toml_that_loads_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the packaged default configuration, which has settings without a value (unset thresholds)
    monkeypatch.setenv("TILLSYNSRISK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TILLSYNSRISK_CONFIG", raising=False)

    # when showing it
    result = CliRunner().invoke(app, ["config", "show"])

    # then it exits cleanly and the printed TOML is the same configuration
    assert result.exit_code == 0, f"config show failed: {result.output[-2000:]}"
    shown = config_from_mapping(tomllib.loads(result.output), "config show output")
    assert shown == load_config(), "the printed TOML does not load back into the effective configuration"
    assert "left out" in result.output, "config show must say that settings without a value are left out"


def test_config_show_prints_a_configuration_file_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a configuration file of one's own, named by TILLSYNSRISK_CONFIG
    own = tmp_path / "own [config].toml"
    own.write_text(default_config_text().replace('name_en = "Availability"', 'name_en = "Access"'), "utf-8")
    monkeypatch.setenv("TILLSYNSRISK_CONFIG", str(own))
    monkeypatch.setenv("TILLSYNSRISK_HOME", str(tmp_path / "home"))

    # when showing it
    result = CliRunner().invoke(app, ["config", "show"])

    # then the header names the file (brackets and all) and the body loads back into it
    assert result.exit_code == 0, f"config show failed: {result.output[-2000:]}"
    assert f"# source: {own}" in result.output, f"the source line does not name {own}: {result.output[:300]}"
    shown = config_from_mapping(tomllib.loads(result.output), "config show output")
    assert shown == load_config(own), "the printed TOML does not load back into the configuration file"
    assert shown.risk_area("tillganglighet").name_en == "Access", "config show printed another configuration"
