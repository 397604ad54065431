"""The data contract: one pandera model per table, on polars.

Fixed tables: ``providers`` (vårdgivare), ``units`` (vårdenheter), ``inspections`` (labels) and the
optional ``visits``. Every configured source adds one table of its kind: event sources share
:class:`EventModel`, indicator sources share :class:`IndicatorModel`; the parts that depend on the
configuration (allowed categories, severities, measures, free-text columns, unit types, risk areas)
are added by :func:`table_schemas`. Column by column documentation: ``docs/data-contract.md``.

The models validate *normalised* frames: typed columns, dates as ``pl.Date``, months as the first
day of the month. Parsing raw files into that shape is :mod:`engine.ingest`'s job.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import pandera.polars as pa
import polars as pl
from pandera.api.polars.types import PolarsData

from engine.config import Config, EventSource, IndicatorSource
from engine.identifiers import HSA_ID_PATTERN, ORGANISATION_NUMBER_PATTERN, luhn_valid_expr

CONTRACT_SCHEMA_VERSION = 1

REGIONS: dict[str, str] = {
    "01": "Stockholm",
    "03": "Uppsala",
    "04": "Södermanland",
    "05": "Östergötland",
    "06": "Jönköping",
    "07": "Kronoberg",
    "08": "Kalmar",
    "09": "Gotland",
    "10": "Blekinge",
    "12": "Skåne",
    "13": "Halland",
    "14": "Västra Götaland",
    "17": "Värmland",
    "18": "Örebro",
    "19": "Västmanland",
    "20": "Dalarna",
    "21": "Gävleborg",
    "22": "Västernorrland",
    "23": "Jämtland Härjedalen",
    "24": "Västerbotten",
    "25": "Norrbotten",
}
OWNERSHIPS = ("public", "private")
FINDINGS = ("none", "deficiency", "serious")
SELECTIONS = ("random", "risk_based", "complaint_triggered", "other")
PROFESSIONS = ("lakare", "sjukskoterska", "distriktsskoterska", "psykolog", "fysioterapeut", "annan")

MAX_LISTED_PATIENTS = 200_000
"""Upper bound of units.listed_patients: the largest Swedish vårdcentraler list some 40 000 patients."""
MAX_MONTHLY_COUNT = 10_000_000
"""Upper bound of an indicator's monthly numerator and denominator (a unit's calls or visits)."""

TableKind = Literal["providers", "units", "inspections", "visits", "event", "indicator"]


class ProviderModel(pa.DataFrameModel):
    """providers.csv — vårdgivare, the legal entity IVO's decisions are addressed to."""

    provider_id: str = pa.Field(str_matches=ORGANISATION_NUMBER_PATTERN, unique=True)
    name: str = pa.Field(str_length={"min_value": 1})
    ownership: str = pa.Field(isin=OWNERSHIPS)

    @pa.check("provider_id", name="luhn_check_digit")
    def _provider_id_luhn(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(luhn_valid_expr(pl.col(data.key)))

    class Config:
        name = "providers"
        strict = True


class UnitModel(pa.DataFrameModel):
    """units.csv — vårdenheter (vårdcentraler), the sites the engine ranks."""

    unit_id: str = pa.Field(str_matches=HSA_ID_PATTERN, unique=True)
    provider_id: str = pa.Field(str_matches=ORGANISATION_NUMBER_PATTERN)
    name: str = pa.Field(str_length={"min_value": 1})
    region_code: str = pa.Field(isin=list(REGIONS))
    municipality_code: str = pa.Field(str_matches=r"^\d{4}$")
    unit_type: str
    listed_patients: int = pa.Field(ge=0, le=MAX_LISTED_PATIENTS)
    active_from: dt.date
    active_to: dt.date = pa.Field(nullable=True)

    @pa.dataframe_check(name="active_to_not_before_active_from")
    def _active_period(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            pl.col("active_to").is_null() | (pl.col("active_to") >= pl.col("active_from"))
        )

    @pa.dataframe_check(name="municipality_in_region")
    def _municipality_in_region(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("municipality_code").str.slice(0, 2) == pl.col("region_code"))

    class Config:
        name = "units"
        strict = True


class EventModel(pa.DataFrameModel):
    """An event source (klagomål, lex Maria, ...): one row per event IVO received."""

    event_id: str = pa.Field(str_length={"min_value": 1}, unique=True)
    unit_id: str = pa.Field(str_matches=HSA_ID_PATTERN)
    event_date: dt.date
    received_date: dt.date
    category: str
    severity: str = pa.Field(nullable=True)

    @pa.dataframe_check(name="received_not_before_event")
    def _received_after_event(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("received_date") >= pl.col("event_date"))

    class Config:
        strict = True


class IndicatorModel(pa.DataFrameModel):
    """An indicator source: one row per unit, month and measure, as numerator / denominator."""

    unit_id: str = pa.Field(str_matches=HSA_ID_PATTERN)
    period: dt.date
    measure: str
    numerator: int = pa.Field(ge=0, le=MAX_MONTHLY_COUNT)
    denominator: int = pa.Field(ge=0, le=MAX_MONTHLY_COUNT)

    @pa.check("period", name="period_is_first_of_month")
    def _first_of_month(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col(data.key).dt.day() == 1)

    @pa.dataframe_check(name="numerator_not_above_denominator")
    def _numerator_le_denominator(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("numerator") <= pl.col("denominator"))

    class Config:
        strict = True
        unique = ["unit_id", "period", "measure"]  # noqa: RUF012 - pandera reads this class attribute


class InspectionModel(pa.DataFrameModel):
    """inspections.csv — the labels: one row per inspection and risk area it covered."""

    inspection_id: str = pa.Field(str_length={"min_value": 1})
    unit_id: str = pa.Field(str_matches=HSA_ID_PATTERN)
    start_date: dt.date
    decision_date: dt.date
    risk_area: str
    finding: str = pa.Field(isin=FINDINGS)
    selection: str = pa.Field(isin=SELECTIONS)
    inclusion_probability: float = pa.Field(gt=0.0, le=1.0, nullable=True)

    @pa.dataframe_check(name="decision_not_before_start")
    def _decision_after_start(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("decision_date") >= pl.col("start_date"))

    @pa.dataframe_check(name="random_selection_has_inclusion_probability")
    def _random_has_probability(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            (pl.col("selection") != "random") | pl.col("inclusion_probability").is_not_null()
        )

    class Config:
        name = "inspections"
        strict = True
        unique = ["inspection_id", "risk_area"]  # noqa: RUF012


class VisitModel(pa.DataFrameModel):
    """visits (optional) — pseudonymised visit records for continuity indices (UPC, COC)."""

    patient_pseudonym: str = pa.Field(str_length={"min_value": 1})
    unit_id: str = pa.Field(str_matches=HSA_ID_PATTERN)
    clinician_pseudonym: str = pa.Field(str_length={"min_value": 1})
    profession: str = pa.Field(isin=PROFESSIONS)
    visit_date: dt.date

    class Config:
        name = "visits"
        strict = True


@dataclass(frozen=True)
class TableSpec:
    """What the ingest needs to know about one table."""

    name: str
    kind: TableKind
    schema: pa.DataFrameSchema
    required: bool
    key: tuple[str, ...]
    id_columns: tuple[str, ...]
    date_columns: tuple[str, ...]
    month_columns: tuple[str, ...]
    integer_columns: tuple[str, ...]
    float_columns: tuple[str, ...]
    free_text_columns: tuple[str, ...]
    optional_columns: tuple[str, ...] = ()


def _event_schema(name: str, source: EventSource) -> pa.DataFrameSchema:
    schema = EventModel.to_schema()
    schema = schema.update_column("category", checks=[pa.Check.isin(sorted(source.categories))])
    if source.severities:
        schema = schema.update_column(
            "severity", nullable=False, checks=[pa.Check.isin(sorted(source.severities))]
        )
    else:
        # A source without severities may leave the column out of its export (stored as null).
        schema = schema.update_column("severity", required=False)
    # Free text is never needed by features: an export without it is accepted (stored as null).
    text_columns = {
        column: pa.Column(pl.Utf8, nullable=True, required=False) for column in source.free_text_columns
    }
    schema = schema.add_columns(text_columns) if text_columns else schema
    return _renamed(schema, name)


def _indicator_schema(name: str, source: IndicatorSource) -> pa.DataFrameSchema:
    schema = IndicatorModel.to_schema()
    schema = schema.update_column("measure", checks=[pa.Check.isin(sorted(source.measures))])
    schema = schema.add_columns(
        {"share": pa.Column(pl.Float64, nullable=True, required=False, checks=[pa.Check.ge(0.0)])}
    )
    return _renamed(schema, name)


def _renamed(schema: pa.DataFrameSchema, name: str) -> pa.DataFrameSchema:
    schema.name = name
    return schema


def table_schemas(config: Config) -> dict[str, TableSpec]:
    """Every table of the contract under ``config``, keyed by table (file stem) name."""
    units = UnitModel.to_schema().update_column("unit_type", checks=[pa.Check.isin(config.unit_types)])
    inspections = InspectionModel.to_schema().update_column(
        "risk_area", checks=[pa.Check.isin(config.risk_area_ids)]
    )
    specs: dict[str, TableSpec] = {
        "providers": TableSpec(
            name="providers",
            kind="providers",
            schema=ProviderModel.to_schema(),
            required=True,
            key=("provider_id",),
            id_columns=("provider_id",),
            date_columns=(),
            month_columns=(),
            integer_columns=(),
            float_columns=(),
            free_text_columns=(),
        ),
        "units": TableSpec(
            name="units",
            kind="units",
            schema=_renamed(units, "units"),
            required=True,
            key=("unit_id",),
            id_columns=("unit_id", "provider_id", "region_code", "municipality_code"),
            date_columns=("active_from", "active_to"),
            month_columns=(),
            integer_columns=("listed_patients",),
            float_columns=(),
            free_text_columns=(),
        ),
        "inspections": TableSpec(
            name="inspections",
            kind="inspections",
            schema=_renamed(inspections, "inspections"),
            required=True,
            key=("inspection_id", "risk_area"),
            id_columns=("inspection_id", "unit_id"),
            date_columns=("start_date", "decision_date"),
            month_columns=(),
            integer_columns=(),
            float_columns=("inclusion_probability",),
            free_text_columns=(),
        ),
        "visits": TableSpec(
            name="visits",
            kind="visits",
            schema=VisitModel.to_schema(),
            required=False,
            key=(),
            id_columns=("patient_pseudonym", "unit_id", "clinician_pseudonym"),
            date_columns=("visit_date",),
            month_columns=(),
            integer_columns=(),
            float_columns=(),
            free_text_columns=("patient_pseudonym", "clinician_pseudonym"),
        ),
    }
    for event_source in config.event_sources.values():
        specs[event_source.file] = TableSpec(
            name=event_source.file,
            kind="event",
            schema=_event_schema(event_source.file, event_source),
            required=True,
            key=("event_id",),
            id_columns=("event_id", "unit_id"),
            date_columns=("event_date", "received_date"),
            month_columns=(),
            integer_columns=(),
            float_columns=(),
            free_text_columns=tuple(event_source.free_text_columns),
            optional_columns=tuple(event_source.free_text_columns)
            + (() if event_source.severities else ("severity",)),
        )
    for indicator_source in config.indicator_sources.values():
        specs[indicator_source.file] = TableSpec(
            name=indicator_source.file,
            kind="indicator",
            schema=_indicator_schema(indicator_source.file, indicator_source),
            required=True,
            key=("unit_id", "period", "measure"),
            id_columns=("unit_id",),
            date_columns=(),
            month_columns=("period",),
            integer_columns=("numerator", "denominator"),
            float_columns=("share",),
            free_text_columns=(),
            optional_columns=("share",),
        )
    return specs


def source_name_for_table(config: Config, table: str) -> str | None:
    """The configured source name whose file is ``table`` (None for fixed tables)."""
    for name, source in config.sources.items():
        if source.file == table:
            return name
    return None
