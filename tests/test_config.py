"""The configuration loads, validates references and fails fast with the bad key named."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from engine.config import ConfigError, config_from_mapping, default_config_text, load_config


@pytest.fixture
def default_mapping() -> dict:
    return tomllib.loads(default_config_text())


def test_default_config_has_the_five_primary_care_risk_areas() -> None:
    config = load_config()
    assert config.risk_area_ids == [
        "personcentrering",
        "tillganglighet",
        "samverkan",
        "kontinuitet",
        "systematiskt_kvalitetsarbete",
    ]
    assert config.risk_area("tillganglighet").name_sv == "Tillgänglighet"


def test_default_config_has_two_event_and_two_indicator_sources() -> None:
    config = load_config()
    assert sorted(config.event_sources) == ["complaints", "lex_maria"]
    assert sorted(config.indicator_sources) == ["availability", "continuity"]


def test_adding_an_event_source_is_configuration_only(default_mapping: dict) -> None:
    default_mapping["sources"]["lex_sarah"] = {
        "kind": "event",
        "file": "lex_sarah",
        "name_sv": "Lex Sarah-rapporter",
        "name_en": "Lex Sarah reports",
        "categories": {"missforhallande": "systematiskt_kvalitetsarbete"},
    }
    config = config_from_mapping(default_mapping)
    assert "lex_sarah" in config.event_sources


def test_category_mapped_to_unknown_risk_area_is_rejected(default_mapping: dict) -> None:
    default_mapping["sources"]["complaints"]["categories"]["bemotande"] = "no_such_area"
    with pytest.raises(ConfigError, match="unknown risk area 'no_such_area'"):
        config_from_mapping(default_mapping)


def test_unknown_key_is_rejected_with_its_location(default_mapping: dict) -> None:
    default_mapping["quality"]["placeholder_valuez"] = [1]
    with pytest.raises(ConfigError, match=r"quality\.placeholder_valuez"):
        config_from_mapping(default_mapping)


def test_unreadable_config_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    with pytest.raises(ConfigError, match=r"missing\.toml"):
        load_config(missing)


def test_config_hash_is_stable_and_sensitive_to_content(default_mapping: dict) -> None:
    first = config_from_mapping(default_mapping).content_hash()
    assert first == load_config().content_hash()
    default_mapping["quality"]["magnitude_factor"] = 500.0
    assert config_from_mapping(default_mapping).content_hash() != first
