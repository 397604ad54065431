"""A small, real-shaped supervision history built by hand (contract version 2), for tests.

Shaped like a real inspectorate's history rather than the synthetic world: two inspecting teams with
very different finding rates, a repeat offender with serious findings and follow-ups, inspections
reported with and without finding counts, an owner and a verksamhetschef change, a staffing attribute
that changes value, and a patient-survey value indicator published with a lag in months and days.

Everything is deterministic and listed explicitly, so a test can compute the expected feature by hand.
The tables are normalised snapshot frames (what :func:`features.pipeline.build_features` reads).
With ``team_panel_units`` it adds a panel of units whose findings depend only on the inspecting team,
so a model trained on the history has a team effect to learn (and scoring must neutralise it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from engine.config import Config
from engine.identifiers import hsa_id, organisation_number

REGION_PROVIDER = organisation_number("232100001")
COMPANY = organisation_number("556677889")

STEADY = hsa_id(REGION_PROVIDER, "steady")  # inspected by both teams, never a serious finding
REPEAT = hsa_id(COMPANY, "repeat")  # repeat offender: serious findings, follow-ups
CHANGED = hsa_id(COMPANY, "changed")  # new owner, new verksamhetschef, hyrläkare share rises
QUIET = hsa_id(REGION_PROVIDER, "quiet")  # reports the survey, never inspected
UNITS = (STEADY, REPEAT, CHANGED, QUIET)

STRICT_TEAM, LENIENT_TEAM = "nord", "syd"
TEAM_FINDING_RATES = {STRICT_TEAM: 0.8, LENIENT_TEAM: 0.2}
"""Share of assessed risk areas with a deficiency, by team, in :func:`team_inspections`."""

OWNERSHIP_CHANGE = dt.date(2022, 3, 15)
MANAGER_CHANGE = dt.date(2023, 5, 2)
TEMPORARY_DOCTOR_SHARES = ((dt.date(2021, 1, 1), "0.10"), (dt.date(2023, 1, 1), "0.40"))
SURVEY_MEASURE = "participation_index"


@dataclass(frozen=True)
class Inspection:
    """One decided inspection of one unit: its findings per risk area."""

    inspection_id: str
    unit_id: str
    start: dt.date
    decision: dt.date
    findings: dict[str, str]
    team: str
    method: str = "platsbesok"
    selection: str = "risk_based"
    counts: dict[str, tuple[int, int]] | None = None  # area -> (deficiency_count, serious_count)


def repeat_offender_inspections() -> list[Inspection]:
    """REPEAT: a serious finding in kontinuitet in 2020, 2021 and 2022, each followed up."""
    return [
        Inspection("R-2020", REPEAT, dt.date(2020, 2, 3), dt.date(2020, 4, 20),
                   {"kontinuitet": "serious", "tillganglighet": "deficiency"}, STRICT_TEAM,
                   counts={"kontinuitet": (3, 2), "tillganglighet": (1, 0)}),
        Inspection("R-2020-U", REPEAT, dt.date(2020, 9, 1), dt.date(2020, 10, 12),
                   {"kontinuitet": "deficiency"}, STRICT_TEAM, method="dokumentgranskning",
                   selection="follow_up"),
        Inspection("R-2021", REPEAT, dt.date(2021, 3, 8), dt.date(2021, 5, 31),
                   {"kontinuitet": "serious", "samverkan": "none"}, LENIENT_TEAM,
                   counts={"kontinuitet": (2, 1), "samverkan": (0, 0)}),
        Inspection("R-2022", REPEAT, dt.date(2022, 4, 4), dt.date(2022, 6, 15),
                   {"kontinuitet": "serious"}, STRICT_TEAM, counts={"kontinuitet": (4, 1)}),
        Inspection("R-2022-U", REPEAT, dt.date(2022, 11, 7), dt.date(2022, 12, 19),
                   {"kontinuitet": "none"}, STRICT_TEAM, method="intervju", selection="follow_up"),
    ]  # fmt: skip


def team_inspections() -> list[Inspection]:
    """STEADY and CHANGED inspected every half year, alternately by the strict and the lenient team;
    each inspection assesses the five areas, with deficiencies at the team's finding rate."""
    areas = ["personcentrering", "tillganglighet", "samverkan", "kontinuitet", "systematiskt_kvalitetsarbete"]
    inspections = []
    for number, year_half in enumerate(range(2019 * 2, 2024 * 2)):
        year, half = divmod(year_half, 2)
        team = STRICT_TEAM if number % 2 == 0 else LENIENT_TEAM
        deficient = round(TEAM_FINDING_RATES[team] * len(areas))  # 4 of 5 or 1 of 5
        for unit, day in ((STEADY, 5), (CHANGED, 12)):
            start = dt.date(year, 1 + 6 * half, day)
            findings = {area: "deficiency" if k < deficient else "none" for k, area in enumerate(areas)}
            inspections.append(
                Inspection(f"T-{unit[-6:]}-{year}-{half}", unit, start, start + dt.timedelta(days=60),
                           findings, team, selection="random" if unit == STEADY else "risk_based")
            )  # fmt: skip
    return inspections


PANEL_REGION = "01"


def panel_unit(number: int) -> str:
    return hsa_id(REGION_PROVIDER, f"panel{number:02d}")


def team_panel_inspections(n_units: int) -> list[Inspection]:
    """``n_units`` further units, each inspected every half year 2019-2023 by the strict and the lenient
    team in turn (half of the units start with each), every area assessed.

    Which team inspects is the only thing behind the findings: the strict team finds a deficiency in 4
    of the 5 areas, the lenient team in 1 (which areas rotates, so each area has the teams' rates). A
    model can learn the team effect from these, and nothing about the units themselves.
    """
    areas = ["personcentrering", "tillganglighet", "samverkan", "kontinuitet", "systematiskt_kvalitetsarbete"]
    inspections = []
    for unit_number in range(n_units):
        unit = panel_unit(unit_number)
        for number, year_half in enumerate(range(2019 * 2, 2024 * 2)):
            year, half = divmod(year_half, 2)
            turn = number + unit_number
            team = STRICT_TEAM if turn % 2 == 0 else LENIENT_TEAM
            deficient = round(TEAM_FINDING_RATES[team] * len(areas))
            findings = {
                area: "deficiency" if (k + turn) % len(areas) < deficient else "none"
                for k, area in enumerate(areas)
            }
            start = dt.date(year, 1 + 6 * half, 1 + unit_number % 28)
            inspections.append(
                Inspection(f"P-{unit_number:02d}-{year}-{half}", unit, start, start + dt.timedelta(days=45),
                           findings, team, method="platsbesok" if turn % 3 else "dokumentgranskning")
            )  # fmt: skip
    return inspections


def inspections_frame(inspections: list[Inspection]) -> pl.DataFrame:
    """The inspections table (one row per inspection and assessed area)."""
    rows = []
    for inspection in inspections:
        for area, finding in inspection.findings.items():
            deficiencies, serious = (inspection.counts or {}).get(area, (None, None))
            rows.append({
                "inspection_id": inspection.inspection_id, "unit_id": inspection.unit_id,
                "start_date": inspection.start, "decision_date": inspection.decision,
                "risk_area": area, "finding": finding, "selection": inspection.selection,
                "inclusion_probability": 0.25 if inspection.selection == "random" else None,
                "team": inspection.team, "method": inspection.method,
                "deficiency_count": deficiencies, "serious_count": serious,
            })  # fmt: skip
    return pl.DataFrame(
        rows,
        schema={
            "inspection_id": pl.String, "unit_id": pl.String, "start_date": pl.Date,
            "decision_date": pl.Date, "risk_area": pl.String, "finding": pl.String,
            "selection": pl.String, "inclusion_probability": pl.Float64, "team": pl.String,
            "method": pl.String, "deficiency_count": pl.Int64, "serious_count": pl.Int64,
        },
    )  # fmt: skip


def attribute_rows() -> list[tuple[str, dt.date, str, str | None]]:
    """CHANGED: a new owner, a new verksamhetschef and a rising hyrläkare share."""
    return [
        (CHANGED, OWNERSHIP_CHANGE, "ownership_change", None),
        (CHANGED, MANAGER_CHANGE, "manager_change", None),
        *(
            (CHANGED, valid_from, "temporary_doctor_share", share)
            for valid_from, share in TEMPORARY_DOCTOR_SHARES
        ),
        (STEADY, dt.date(2020, 1, 1), "temporary_doctor_share", "0.05"),
    ]


def survey_value(unit: str, month: dt.date) -> float:
    """The patient-survey index of ``unit`` in ``month``: CHANGED declines by one point a month from
    2022 (after its owner change), the others hold steady."""
    if unit == CHANGED and month.year >= 2022:
        return 80.0 - ((month.year - 2022) * 12 + month.month)
    return {STEADY: 82.0, REPEAT: 70.0, CHANGED: 80.0, QUIET: 90.0}[unit]


def survey_months() -> list[dt.date]:
    return [dt.date(year, month, 1) for year in range(2019, 2025) for month in range(1, 13)]


def real_shaped_history(config: Config, *, team_panel_units: int = 0) -> dict[str, pl.LazyFrame]:
    """Every table ``build_features`` reads under ``config`` (the default configuration's sources;
    the event and share-indicator sources are present and empty: this history is about the
    version-2 families).

    ``team_panel_units`` adds that many units of :func:`team_panel_inspections` (region
    :data:`PANEL_REGION`, no survey or attributes): enough inspections for a model to learn the teams.
    """
    providers = pl.DataFrame(
        {"provider_id": [REGION_PROVIDER, COMPANY], "name": ["Region", "Bolaget AB"],
         "ownership": ["public", "private"]}
    )  # fmt: skip
    panel = [panel_unit(number) for number in range(team_panel_units)]
    units = pl.DataFrame(
        {
            "unit_id": [*UNITS, *panel],
            "provider_id": [REGION_PROVIDER, COMPANY, COMPANY, REGION_PROVIDER]
            + [REGION_PROVIDER] * len(panel),
            "name": ["Steady", "Repeat", "Changed", "Quiet", *[f"Panel {unit[-2:]}" for unit in panel]],
            "region_code": ["03", "03", "12", "12", *[PANEL_REGION] * len(panel)],
            "municipality_code": ["0380", "0380", "1280", "1280", *["0180"] * len(panel)],
            "unit_type": ["vardcentral"] * (4 + len(panel)),
            "listed_patients": [9000, 12000, 7000, 5000, *[8000] * len(panel)],
            "active_from": [dt.date(2015, 1, 1)] * (4 + len(panel)),
            "active_to": [None] * (4 + len(panel)),
        },
        schema_overrides={"active_to": pl.Date, "listed_patients": pl.Int64},
    )
    tables: dict[str, pl.DataFrame] = {
        "providers": providers,
        "units": units,
        "inspections": inspections_frame(
            repeat_offender_inspections() + team_inspections() + team_panel_inspections(team_panel_units)
        ),
    }
    for source in config.event_sources.values():
        tables[source.file] = pl.DataFrame(
            schema={"event_id": pl.String, "unit_id": pl.String, "event_date": pl.Date,
                    "received_date": pl.Date, "category": pl.String, "severity": pl.String}
        )  # fmt: skip
    indicator_schema = {
        "unit_id": pl.String, "period": pl.Date, "measure": pl.String,
        "numerator": pl.Int64, "denominator": pl.Int64, "value": pl.Float64,
    }  # fmt: skip
    for source in config.indicator_sources.values():
        rows = [
            (unit, month, key, None, None, survey_value(unit, month))
            for key in source.value_measures
            for unit in UNITS
            for month in survey_months()
        ]
        frame = pl.DataFrame(rows, schema=indicator_schema, orient="row")
        tables[source.file] = frame if source.value_measures else frame.drop("value")
    for source in config.attribute_sources.values():
        tables[source.file] = pl.DataFrame(
            attribute_rows(),
            schema={"unit_id": pl.String, "valid_from": pl.Date, "attribute": pl.String, "value": pl.String},
            orient="row",
        )
    return {name: frame.lazy() for name, frame in tables.items()}
