"""A small, seeded world of normalised contract tables for the feature tests (and its own checks).

The synthetic generator and ingest live elsewhere; the feature tests need a world they control
record by record, small enough to rebuild many times inside a hypothesis property.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from engine.config import Config, load_config
from engine.contract import table_schemas
from engine.identifiers import hsa_id, organisation_number

START = dt.date(2018, 1, 1)
MONTHS = 48
REGIONS = ("01", "03", "12")


def month_start(index: int) -> dt.date:
    """First day of the ``index``-th month after START."""
    absolute = START.year * 12 + START.month - 1 + index
    return dt.date(absolute // 12, absolute % 12 + 1, 1)


def small_world(
    config: Config, seed: int = 7, n_units: int = 24, *, visits: bool = False
) -> dict[str, pl.LazyFrame]:
    """Seeded normalised tables: providers, units, inspections, every configured source (+ visits)."""
    rng = np.random.default_rng(seed)
    providers = [organisation_number(f"55{index:07d}") for index in range(1, 5)]
    provider_frame = pl.DataFrame(
        {
            "provider_id": providers,
            "name": [f"Vårdgivare {i}" for i in range(4)],
            "ownership": ["public", "private"] * 2,
        }
    )
    unit_ids = [hsa_id(providers[i % 4], f"U{i:03d}") for i in range(n_units)]
    regions = [REGIONS[i % len(REGIONS)] for i in range(n_units)]
    units = pl.DataFrame(
        {
            "unit_id": unit_ids,
            "provider_id": [providers[i % 4] for i in range(n_units)],
            "name": [f"Vårdcentral {i}" for i in range(n_units)],
            "region_code": regions,
            "municipality_code": [f"{r}80" for r in regions],
            "unit_type": ["vardcentral"] * n_units,
            "listed_patients": rng.integers(800, 20_000, n_units).tolist(),
            "active_from": [
                month_start(int(rng.integers(0, 12)) if i % 5 == 0 else 0) for i in range(n_units)
            ],
            "active_to": [month_start(40) if i % 7 == 3 else None for i in range(n_units)],
        },
        schema_overrides={"active_to": pl.Date, "listed_patients": pl.Int64},
    )
    tables: dict[str, pl.DataFrame] = {"providers": provider_frame, "units": units}
    for name, source in config.event_sources.items():
        n_events = int(rng.integers(60, 120))
        categories = sorted(source.categories)
        severities = sorted(source.severities)
        event_dates = [START + dt.timedelta(days=int(d)) for d in rng.integers(0, MONTHS * 30, n_events)]
        tables[source.file] = pl.DataFrame(
            {
                "event_id": [f"{name}-{i}" for i in range(n_events)],
                "unit_id": [unit_ids[int(u)] for u in rng.integers(0, n_units, n_events)],
                "event_date": event_dates,
                "received_date": [
                    d + dt.timedelta(days=int(lag))
                    for d, lag in zip(event_dates, rng.integers(0, 60, n_events), strict=True)
                ],
                "category": [categories[int(c)] for c in rng.integers(0, len(categories), n_events)],
                "severity": [severities[int(s)] for s in rng.integers(0, len(severities), n_events)]
                if severities
                else [None] * n_events,
                **{column: ["fritext"] * n_events for column in source.free_text_columns},
            },
            schema_overrides={"severity": pl.String},
        )
    for indicator in config.indicator_sources.values():
        rows = []
        for unit in unit_ids[: n_units - 2]:  # the last two units never report
            for month in range(MONTHS - 6):
                if rng.random() < 0.1:
                    continue  # a missing month
                for key, measure in indicator.measures.items():
                    if measure.kind == "value":
                        low, high = measure.value_min or 0.0, measure.value_max or 1.0
                        value = round(float(rng.uniform(low, high)), 1)
                        rows.append((unit, month_start(month), key, None, None, value))
                        continue
                    denominator = int(rng.integers(0, 400)) if rng.random() > 0.05 else 0
                    numerator = int(rng.binomial(denominator, 0.8))
                    rows.append((unit, month_start(month), key, numerator, denominator, None))
        frame = pl.DataFrame(rows, schema=INDICATOR_V2_COLUMNS, orient="row")
        tables[indicator.file] = frame if indicator.value_measures else frame.drop("value")
    for attribute_source in config.attribute_sources.values():
        tables[attribute_source.file] = attribute_frame(
            [
                row
                for key, attribute in attribute_source.attributes.items()
                for row in _attribute_rows(rng, unit_ids, key, attribute.type, attribute.categories)
            ]
        )
    inspection_rows = []
    teams, methods = sorted(config.inspections.teams), sorted(config.inspections.methods)
    for index in range(30):
        unit = unit_ids[int(rng.integers(0, n_units))]
        start = START + dt.timedelta(days=int(rng.integers(0, MONTHS * 30)))
        decision = start + dt.timedelta(days=int(rng.integers(0, 90)))
        follow_up = index % 6 == 5
        team, method = teams[int(rng.integers(0, len(teams)))], methods[int(rng.integers(0, len(methods)))]
        for area in rng.choice(config.risk_area_ids, size=int(rng.integers(1, 4)), replace=False):
            finding = ["none", "deficiency", "serious"][int(rng.choice(3, p=[0.5, 0.4, 0.1]))]
            serious = int(finding == "serious") + (int(rng.integers(0, 2)) if finding == "serious" else 0)
            deficiencies = 0 if finding == "none" else max(serious, 1) + int(rng.integers(0, 3))
            counted = index % 3 != 0  # a third of the inspections do not report counts
            inspection_rows.append(
                (
                    f"I{index}", unit, start, decision, str(area), finding,
                    "follow_up" if follow_up else "random", None if follow_up else 0.1,
                    team, method, deficiencies if counted else None, serious if counted else None,
                )
            )  # fmt: skip
    tables["inspections"] = pl.DataFrame(
        inspection_rows, schema=INSPECTION_COLUMNS | INSPECTION_V2_COLUMNS, orient="row"
    )
    if visits:
        n_visits = 3000
        tables["visits"] = pl.DataFrame(
            {
                "patient_pseudonym": [f"P{int(p)}" for p in rng.integers(0, 400, n_visits)],
                "unit_id": [unit_ids[int(u)] for u in rng.integers(0, 6, n_visits)],
                "clinician_pseudonym": [f"D{int(c)}" for c in rng.integers(0, 5, n_visits)],
                "profession": [
                    ["lakare", "sjukskoterska"][int(p)] for p in rng.choice(2, n_visits, p=[0.8, 0.2])
                ],
                "visit_date": [
                    START + dt.timedelta(days=int(d)) for d in rng.integers(0, MONTHS * 30, n_visits)
                ],
            }
        )
    return {name: frame.lazy() for name, frame in tables.items()}  # fmt: skip


def _attribute_rows(
    rng: np.random.Generator, unit_ids: list[str], key: str, kind: str, categories: dict[str, str]
) -> list[tuple[str, dt.date, str, str | None]]:
    """A few dated values (or changes) of one attribute for some of the units."""
    rows = []
    for unit in unit_ids[::2]:
        for month in sorted({int(m) for m in rng.integers(0, MONTHS, int(rng.integers(1, 4)))}):
            valid_from = month_start(month) + dt.timedelta(days=int(rng.integers(0, 28)))
            if kind == "numeric":
                value: str | None = f"{rng.uniform(0, 0.6):.2f}"
            elif kind == "categorical":
                value = sorted(categories)[int(rng.integers(0, len(categories)))]
            else:
                value = None
            rows.append((unit, valid_from, key, value))
    return rows


def attribute_frame(rows: list[tuple[str, dt.date, str, str | None]]) -> pl.DataFrame:
    """An attribute table (unit_id, valid_from, attribute, value) from row tuples."""
    return pl.DataFrame(rows, schema=ATTRIBUTE_COLUMNS, orient="row")


@pytest.mark.parametrize("visits", [False, True], ids=["without-visits", "with-visits"])
def test_small_world_satisfies_the_data_contract(visits: bool) -> None:
    # given the default configuration and the seeded test world
    config = load_config()
    world = small_world(config, visits=visits)
    # then every table validates against its contract schema
    for name, spec in table_schemas(config).items():
        if name == "visits" and not visits:
            continue
        spec.schema.validate(world[name].collect())


EVENT_COLUMNS = {
    "event_id": pl.String,
    "unit_id": pl.String,
    "event_date": pl.Date,
    "received_date": pl.Date,
    "category": pl.String,
    "severity": pl.String,
}
INDICATOR_COLUMNS = {
    "unit_id": pl.String,
    "period": pl.Date,
    "measure": pl.String,
    "numerator": pl.Int64,
    "denominator": pl.Int64,
}
INDICATOR_V2_COLUMNS = {
    "unit_id": pl.String,
    "period": pl.Date,
    "measure": pl.String,
    "numerator": pl.Int64,
    "denominator": pl.Int64,
    "value": pl.Float64,
}
ATTRIBUTE_COLUMNS = {"unit_id": pl.String, "valid_from": pl.Date, "attribute": pl.String, "value": pl.String}
INSPECTION_V2_COLUMNS = {
    "team": pl.String,
    "method": pl.String,
    "deficiency_count": pl.Int64,
    "serious_count": pl.Int64,
}
INSPECTION_COLUMNS = {
    "inspection_id": pl.String,
    "unit_id": pl.String,
    "start_date": pl.Date,
    "decision_date": pl.Date,
    "risk_area": pl.String,
    "finding": pl.String,
    "selection": pl.String,
    "inclusion_probability": pl.Float64,
}


def unit_row(
    unit_id: str,
    listed_patients: int = 10_000,
    *,
    provider_id: str = "P1",
    region_code: str = "01",
    active_from: dt.date = dt.date(2015, 1, 1),
    active_to: dt.date | None = None,
) -> dict[str, object]:
    """One units-table record with readable defaults."""
    return {
        "unit_id": unit_id,
        "provider_id": provider_id,
        "name": unit_id,
        "region_code": region_code,
        "municipality_code": f"{region_code}80",
        "unit_type": "vardcentral",
        "listed_patients": listed_patients,
        "active_from": active_from,
        "active_to": active_to,
    }


def event_row(
    unit_id: str,
    received: dt.date,
    category: str,
    severity: str | None = None,
    *,
    event_id: str | None = None,
) -> dict[str, object]:
    """One event record (event date = received date)."""
    return {
        "event_id": event_id or f"{unit_id}-{received}-{category}-{severity}",
        "unit_id": unit_id,
        "event_date": received,
        "received_date": received,
        "category": category,
        "severity": severity,
    }


def tiny_world(
    config: Config,
    units: list[dict[str, object]],
    *,
    events: dict[str, list[dict[str, object]]] | None = None,
    indicators: dict[str, list[tuple[object, ...]]] | None = None,
    inspections: list[tuple[str, str, dt.date, dt.date, str, str]] | None = None,
    visits: list[tuple[str, str, str, str, dt.date]] | None = None,
    attributes: dict[str, list[tuple[str, dt.date, str, str | None]]] | None = None,
) -> dict[str, pl.LazyFrame]:
    """Hand-built normalised tables; every table not given is present and empty.

    Indicator rows are ``(unit, period, measure, numerator, denominator)`` or, for value measures,
    ``(unit, period, measure, None, None, value)``.
    """
    provider_ids = sorted({str(row["provider_id"]) for row in units})
    tables = {
        "providers": pl.LazyFrame(
            {"provider_id": provider_ids, "name": provider_ids, "ownership": ["private"] * len(provider_ids)}
        ),
        "units": pl.LazyFrame(
            units,
            schema={
                "unit_id": pl.String,
                "provider_id": pl.String,
                "name": pl.String,
                "region_code": pl.String,
                "municipality_code": pl.String,
                "unit_type": pl.String,
                "listed_patients": pl.Int64,
                "active_from": pl.Date,
                "active_to": pl.Date,
            },
        ),
        "inspections": pl.LazyFrame(
            [(*row, "random", 0.5) for row in inspections or []], schema=INSPECTION_COLUMNS, orient="row"
        ),
    }
    for source in config.event_sources.values():
        rows = (events or {}).get(source.file, [])
        tables[source.file] = pl.LazyFrame(rows, schema=EVENT_COLUMNS)
    for indicator in config.indicator_sources.values():
        rows_i = [(*row, None)[:6] for row in (indicators or {}).get(indicator.file, [])]
        tables[indicator.file] = pl.LazyFrame(rows_i, schema=INDICATOR_V2_COLUMNS, orient="row")
    for attribute_source in config.attribute_sources.values():
        rows_a = (attributes or {}).get(attribute_source.file, [])
        tables[attribute_source.file] = attribute_frame(rows_a).lazy()
    if visits is not None:
        tables["visits"] = pl.LazyFrame(
            visits,
            schema={
                "patient_pseudonym": pl.String,
                "unit_id": pl.String,
                "clinician_pseudonym": pl.String,
                "profession": pl.String,
                "visit_date": pl.Date,
            },
            orient="row",
        )
    return tables
