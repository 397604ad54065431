"""The data contract: one schema per table, configured parts follow the configuration."""

from __future__ import annotations

import datetime as dt
import tomllib

import pandera.polars as pa
import polars as pl
import pytest

from engine.config import config_from_mapping, default_config_text, load_config
from engine.contract import ProviderModel, UnitModel, source_name_for_table, table_schemas
from engine.identifiers import organisation_number

PROVIDER = organisation_number("556677889")


def test_default_contract_has_every_table() -> None:
    specs = table_schemas(load_config())
    assert set(specs) == {
        "providers",
        "units",
        "inspections",
        "visits",
        "complaints",
        "lex_maria",
        "availability",
        "continuity",
        "patient_survey",
        "national_patient_survey",
        "core_indicators",
        "attributes",
    }
    assert [name for name, spec in specs.items() if not spec.required] == [
        "visits",
        "patient_survey",
        "national_patient_survey",
        "core_indicators",
        "attributes",
    ]
    assert specs["complaints"].free_text_columns == ("summary",)


def test_a_configured_source_adds_its_table() -> None:
    mapping = tomllib.loads(default_config_text())
    mapping["sources"]["lex_sarah"] = {
        "kind": "event",
        "file": "lex_sarah",
        "name_sv": "Lex Sarah",
        "name_en": "Lex Sarah",
        "categories": {"missforhallande": "systematiskt_kvalitetsarbete"},
    }
    config = config_from_mapping(mapping)
    specs = table_schemas(config)
    assert specs["lex_sarah"].kind == "event"
    assert source_name_for_table(config, "lex_sarah") == "lex_sarah"
    assert source_name_for_table(config, "units") is None


def _events(severity: str | None, category: str = "vantetid") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "event_id": ["e1"],
            "unit_id": [f"SE{PROVIDER}-1"],
            "event_date": [dt.date(2024, 1, 1)],
            "received_date": [dt.date(2024, 1, 2)],
            "category": [category],
            "severity": [severity],
        },
        schema_overrides={"severity": pl.String},
    )


def test_event_categories_come_from_the_configuration() -> None:
    schema = table_schemas(load_config())["complaints"].schema
    schema.validate(_events(None).with_columns(summary=pl.lit("text")))
    with pytest.raises(pa.errors.SchemaError, match="isin"):
        schema.validate(_events(None, "okand").with_columns(summary=pl.lit("text")))


def test_severity_is_required_where_the_source_has_severities() -> None:
    schema = table_schemas(load_config())["lex_maria"].schema
    schema.validate(_events("vardskada", "fordrojd_diagnos"))
    with pytest.raises(pa.errors.SchemaError, match=r"non-nullable|not_nullable"):
        schema.validate(_events(None, "fordrojd_diagnos"))


@pytest.mark.parametrize(
    ("provider_id", "valid"),
    [(PROVIDER, True), (PROVIDER[:9] + str((int(PROVIDER[9]) + 1) % 10), False), ("55667788", False)],
    ids=["valid", "wrong-check-digit", "too-short"],
)
def test_provider_id_is_an_organisation_number(provider_id: str, valid: bool) -> None:
    frame = pl.DataFrame({"provider_id": [provider_id], "name": ["AB"], "ownership": ["private"]})
    if valid:
        ProviderModel.validate(frame)
    else:
        with pytest.raises(pa.errors.SchemaError):
            ProviderModel.validate(frame)


def test_units_municipality_must_lie_in_the_region() -> None:
    frame = pl.DataFrame(
        {
            "unit_id": [f"SE{PROVIDER}-1"],
            "provider_id": [PROVIDER],
            "name": ["VC"],
            "region_code": ["03"],
            "municipality_code": ["0180"],
            "unit_type": ["vardcentral"],
            "listed_patients": [100],
            "active_from": [dt.date(2020, 1, 1)],
            "active_to": [None],
        },
        schema_overrides={"active_to": pl.Date},
    )
    with pytest.raises(pa.errors.SchemaError, match="municipality_in_region"):
        UnitModel.validate(frame)
