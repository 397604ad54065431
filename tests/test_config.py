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


def test_default_config_has_its_event_indicator_and_attribute_sources() -> None:
    config = load_config()
    assert sorted(config.event_sources) == ["complaints", "lex_maria"]
    assert sorted(config.indicator_sources) == [
        "availability",
        "continuity",
        "core_indicators",
        "national_patient_survey",
        "patient_survey",
    ]
    assert config.indicator_sources["patient_survey"].value_measures == ["participation_index"]
    assert sorted(config.attribute_sources["unit_attributes"].attributes) == [
        "manager_change",
        "ownership_change",
        "temporary_doctor_share",
    ]
    # the sources contract version 1 did not have are optional, so a version-1 export still ingests
    assert not config.indicator_sources["patient_survey"].required
    assert not config.attribute_sources["unit_attributes"].required


def test_every_risk_area_has_a_national_core_indicator() -> None:
    # given the default configuration's national core indicator sources (issue 11)
    config = load_config()
    core = [
        measure
        for name in ("national_patient_survey", "core_indicators")
        for measure in config.indicator_sources[name].measures.values()
    ]
    # then personcentrering, samverkan, kontinuitet and systematiskt kvalitetsarbete each have one, all value
    # measures with a Swedish name, and none is required (a contract version 1 export still ingests)
    areas = {measure.risk_area for measure in core}
    assert {"personcentrering", "samverkan", "kontinuitet", "systematiskt_kvalitetsarbete"} <= areas
    assert all(measure.kind == "value" and measure.name_sv for measure in core)
    assert not config.indicator_sources["core_indicators"].required
    assert not config.indicator_sources["national_patient_survey"].required


def test_default_config_lists_ivos_six_departments_and_three_methods() -> None:
    config = load_config()
    assert sorted(config.inspections.teams) == ["mitt", "nord", "ost", "syd", "sydost", "vast"]
    assert config.inspections.teams["ost"] == "Avdelning öst"
    assert sorted(config.inspections.methods) == ["dokumentgranskning", "intervju", "platsbesok"]


def test_a_value_measure_needs_its_range(default_mapping: dict) -> None:
    del default_mapping["sources"]["patient_survey"]["measures"]["participation_index"]["value_max"]
    with pytest.raises(ConfigError, match="value_min < value_max"):
        config_from_mapping(default_mapping)


def test_a_numeric_attribute_needs_its_range_and_a_template_its_placeholder(default_mapping: dict) -> None:
    attributes = default_mapping["sources"]["unit_attributes"]["attributes"]
    attributes["temporary_doctor_share"]["template_sv"] = "Andel hyrläkare"
    with pytest.raises(ConfigError, match="template_sv must contain"):
        config_from_mapping(default_mapping)


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
