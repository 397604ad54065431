"""The data contract: one pandera model per table, on polars.

Fixed tables: ``providers`` (vårdgivare), ``units`` (vårdenheter), ``inspections`` (labels) and the
optional ``visits``. Every configured source adds one table of its kind: event sources share
:class:`EventModel`, indicator sources share :class:`IndicatorModel`, attribute sources share
:class:`AttributeModel`; the parts that depend on the configuration (allowed categories, severities,
measures, attributes, teams, methods, free-text columns, unit types, risk areas) are added by
:func:`table_schemas`. Column by column documentation: ``docs/data-contract.md``.

Version 2 (:data:`CONTRACT_SCHEMA_VERSION`) added the optional inspection columns ``team``,
``method``, ``deficiency_count`` and ``serious_count``, the selection ``follow_up``, indicator
measures of kind ``value`` (column ``value``) and attribute sources. A version-1 snapshot or export
is read as version 2 with those columns empty (:func:`with_missing_columns`).

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

from engine.config import AttributeSource, Config, EventSource, IndicatorSource
from engine.identifiers import HSA_ID_PATTERN, ORGANISATION_NUMBER_PATTERN, luhn_valid_expr

CONTRACT_SCHEMA_VERSION = 2
READABLE_SCHEMA_VERSIONS = (1, 2)

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
SELECTIONS = ("random", "risk_based", "complaint_triggered", "follow_up", "other")
PROFESSIONS = ("lakare", "sjukskoterska", "distriktsskoterska", "psykolog", "fysioterapeut", "annan")

MAX_LISTED_PATIENTS = 200_000
"""Upper bound of units.listed_patients: the largest Swedish vårdcentraler list some 40 000 patients."""
MAX_MONTHLY_COUNT = 10_000_000
"""Upper bound of an indicator's monthly numerator and denominator (a unit's calls or visits)."""

TableKind = Literal["providers", "units", "inspections", "visits", "event", "indicator", "attribute"]


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
    """An indicator source: one row per unit, month and measure, as numerator / denominator (share
    measures) or as ``value`` (value measures; the column is added by :func:`table_schemas` when the
    source configures one)."""

    unit_id: str = pa.Field(str_matches=HSA_ID_PATTERN)
    period: dt.date
    measure: str
    numerator: int = pa.Field(ge=0, le=MAX_MONTHLY_COUNT, nullable=True)
    denominator: int = pa.Field(ge=0, le=MAX_MONTHLY_COUNT, nullable=True)

    @pa.check("period", name="period_is_first_of_month")
    def _first_of_month(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col(data.key).dt.day() == 1)

    @pa.dataframe_check(name="numerator_not_above_denominator")
    def _numerator_le_denominator(cls, data: PolarsData) -> pl.LazyFrame:
        counts = with_null_columns(data.lazyframe, {"numerator": pl.Int64(), "denominator": pl.Int64()})
        return counts.select((pl.col("numerator") <= pl.col("denominator")).fill_null(True))

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

    @pa.dataframe_check(name="counts_match_finding")
    def _counts_match_finding(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(counts_match_finding_expr(data.lazyframe))

    class Config:
        name = "inspections"
        strict = True
        unique = ["inspection_id", "risk_area"]  # noqa: RUF012


INSPECTION_V2_COLUMNS: dict[str, pl.DataType] = {
    "team": pl.String(),
    "method": pl.String(),
    "deficiency_count": pl.Int64(),
    "serious_count": pl.Int64(),
}
"""Optional inspection columns added in contract version 2 (empty when an export lacks them)."""


def counts_match_finding_expr(frame: pl.LazyFrame) -> pl.Expr:
    """Whether ``deficiency_count`` / ``serious_count`` agree with ``finding`` (true when absent).

    ``deficiency_count`` counts every deficiency (brist) found within the area, serious ones
    included; ``serious_count`` those that led to a föreläggande. So: ``none`` has no deficiencies,
    ``deficiency`` at least one and no serious one, ``serious`` at least one serious one, and
    ``serious_count <= deficiency_count``. Empty counts are unknown and always agree.
    """
    names = frame.collect_schema().names()
    if "deficiency_count" not in names or "serious_count" not in names:
        return pl.repeat(True, pl.len()).alias("counts_match_finding")
    finding = pl.col("finding")
    deficiencies, serious = pl.col("deficiency_count"), pl.col("serious_count")
    ok_deficiencies = (
        pl.when(finding == "none").then(deficiencies == 0).otherwise(deficiencies >= 1).fill_null(True)
    )
    ok_serious = pl.when(finding == "serious").then(serious >= 1).otherwise(serious == 0).fill_null(True)
    ordered = (serious <= deficiencies).fill_null(True)
    return (ok_deficiencies & ok_serious & ordered).alias("counts_match_finding")


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


class AttributeModel(pa.DataFrameModel):
    """An attribute source: one row per unit, attribute and date from which ``value`` holds.

    ``value`` is a string: a number (numeric attributes; decimal comma allowed), a category code
    (categorical) or empty (change attributes). Its per-attribute rules are data-quality rules
    (:mod:`engine.ingest.attributes`), since they depend on the attribute of the row.
    """

    unit_id: str = pa.Field(str_matches=HSA_ID_PATTERN)
    valid_from: dt.date
    attribute: str
    value: str = pa.Field(nullable=True)

    class Config:
        strict = True
        unique = ["unit_id", "attribute", "valid_from"]  # noqa: RUF012


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
    """Share measures need numerator and denominator, value measures ``value`` (row by row); a
    source of one kind only may leave the other kind's columns out of its export."""
    schema = IndicatorModel.to_schema()
    schema = schema.update_column("measure", checks=[pa.Check.isin(sorted(source.measures))])
    shares, values = source.share_measures, source.value_measures
    if not values:
        schema = schema.update_columns({c: {"nullable": False} for c in ("numerator", "denominator")})
    elif not shares:
        schema = schema.update_columns({c: {"required": False} for c in ("numerator", "denominator")})
    schema = schema.add_columns(
        {"share": pa.Column(pl.Float64, nullable=True, required=False, checks=[pa.Check.ge(0.0)])}
    )
    if values:
        schema = schema.add_columns({"value": pa.Column(pl.Float64, nullable=True, required=not shares)})
        schema.checks = [
            *schema.checks,
            pa.Check(
                lambda data: with_null_columns(data.lazyframe, _INDICATOR_FIGURES).select(
                    _measure_has_its_figures(shares, values)
                ),
                name="measure_has_its_figures",
            ),
            pa.Check(
                lambda data: data.lazyframe.select(_value_in_range(source)),
                name="value_in_measure_range",
            ),
        ]  # update_columns/add_columns above returned a fresh copy, so this mutates only ours
    return _renamed(schema, name)


_INDICATOR_FIGURES: dict[str, pl.DataType] = {
    "numerator": pl.Int64(),
    "denominator": pl.Int64(),
    "value": pl.Float64(),
}


def with_null_columns(frame: pl.LazyFrame, columns: dict[str, pl.DataType]) -> pl.LazyFrame:
    """``frame`` with each of ``columns`` it lacks added as typed nulls (an optional column left out
    of a frame is empty)."""
    present = set(frame.collect_schema().names())
    return frame.with_columns(
        pl.lit(None, dtype=dtype).alias(column) for column, dtype in columns.items() if column not in present
    )


def _measure_has_its_figures(shares: list[str], values: list[str]) -> pl.Expr:
    measure = pl.col("measure")
    has_counts = pl.col("numerator").is_not_null() & pl.col("denominator").is_not_null()
    has_value = pl.col("value").is_not_null()
    return (
        pl.when(measure.is_in(shares))
        .then(has_counts & ~has_value)
        .when(measure.is_in(values))
        .then(has_value & pl.col("numerator").is_null() & pl.col("denominator").is_null())
        .otherwise(True)
    )


def _value_in_range(source: IndicatorSource) -> pl.Expr:
    inside = pl.lit(True)
    for key in source.value_measures:
        measure = source.measures[key]
        low, high = measure.value_min, measure.value_max
        inside = inside & ((pl.col("measure") != key) | pl.col("value").is_between(low, high)).fill_null(True)
    return inside


def _attribute_schema(name: str, source: AttributeSource) -> pa.DataFrameSchema:
    schema = AttributeModel.to_schema()
    schema = schema.update_column("attribute", checks=[pa.Check.isin(sorted(source.attributes))])
    return _renamed(schema, name)


def with_missing_columns(frame: pl.LazyFrame, spec: TableSpec) -> pl.LazyFrame:
    """``frame`` with every optional contract column it lacks added as typed nulls.

    How a version-1 snapshot (or a frame built before version 2) is read as version 2: the columns
    version 2 added are optional, so their absence means "not reported".
    """
    present = set(frame.collect_schema().names())
    missing = {
        column: _column_dtype(column_schema)
        for column, column_schema in spec.schema.columns.items()
        if column not in present and not column_schema.required
    }
    if spec.kind == "inspections":
        missing |= {c: t for c, t in INSPECTION_V2_COLUMNS.items() if c not in present}
    if not missing:
        return frame
    return frame.with_columns(pl.lit(None, dtype=dtype).alias(column) for column, dtype in missing.items())


def _column_dtype(column: pa.Column) -> pl.DataType:
    dtype = column.dtype.type if column.dtype is not None else pl.String()
    return dtype if isinstance(dtype, pl.DataType) else dtype()


def _renamed(schema: pa.DataFrameSchema, name: str) -> pa.DataFrameSchema:
    schema.name = name
    return schema


def table_schemas(config: Config) -> dict[str, TableSpec]:
    """Every table of the contract under ``config``, keyed by table (file stem) name."""
    units = UnitModel.to_schema().update_column("unit_type", checks=[pa.Check.isin(config.unit_types)])
    inspections = (
        InspectionModel.to_schema()
        .update_column("risk_area", checks=[pa.Check.isin(config.risk_area_ids)])
        .add_columns(
            {
                "team": pa.Column(
                    pl.String,
                    nullable=True,
                    required=False,
                    checks=[pa.Check.isin(sorted(config.inspections.teams))],
                ),
                "method": pa.Column(
                    pl.String,
                    nullable=True,
                    required=False,
                    checks=[pa.Check.isin(sorted(config.inspections.methods))],
                ),
                "deficiency_count": pa.Column(
                    pl.Int64, nullable=True, required=False, checks=[pa.Check.ge(0)]
                ),
                "serious_count": pa.Column(pl.Int64, nullable=True, required=False, checks=[pa.Check.ge(0)]),
            }
        )
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
            integer_columns=("deficiency_count", "serious_count"),
            float_columns=("inclusion_probability",),
            free_text_columns=(),
            optional_columns=tuple(INSPECTION_V2_COLUMNS),
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
            key=("unit_id", "period", "measure"),
            id_columns=("unit_id",),
            date_columns=(),
            month_columns=("period",),
            integer_columns=("numerator", "denominator"),
            float_columns=("share", "value") if indicator_source.value_measures else ("share",),
            free_text_columns=(),
            optional_columns=("share",)
            + (("value",) if indicator_source.share_measures and indicator_source.value_measures else ())
            + (() if indicator_source.share_measures else ("numerator", "denominator")),
            required=indicator_source.required,
        )
    for attribute_source in config.attribute_sources.values():
        specs[attribute_source.file] = TableSpec(
            name=attribute_source.file,
            kind="attribute",
            schema=_attribute_schema(attribute_source.file, attribute_source),
            required=attribute_source.required,
            key=("unit_id", "attribute", "valid_from"),
            id_columns=("unit_id",),
            date_columns=("valid_from",),
            month_columns=(),
            integer_columns=(),
            float_columns=(),
            # Not free text: a value is a number or a configured category, scanned for personal identity
            # numbers like every other column (engine.ingest.pipeline) and an error there, never redacted.
            free_text_columns=(),
        )
    return specs


def source_name_for_table(config: Config, table: str) -> str | None:
    """The configured source name whose file is ``table`` (None for fixed tables)."""
    for name, source in config.sources.items():
        if source.file == table:
            return name
    return None
