"""Small hand-written source directories for ingest tests, written the way Swedish exports look."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from engine.identifiers import luhn_check_digit, organisation_number

Rows = list[dict[str, str]]

PROVIDER_A = organisation_number("232100001")  # a region
PROVIDER_B = organisation_number("556677889")  # a company
UNIT_1 = f"SE{PROVIDER_A}-vc1"
UNIT_2 = f"SE{PROVIDER_A}-vc2"
UNIT_3 = f"SE{PROVIDER_B}-vc3"
MONTHS = [f"2023-{month:02d}" for month in range(1, 13)] + [f"2024-{month:02d}" for month in range(1, 7)]
REFERENCE_DATE = dt.date(2024, 12, 31)


def personnummer(born: str = "850715", serial: str = "123", separator: str = "-") -> str:
    """A Luhn-valid personnummer generated for the test (never a hard-coded real one)."""
    first_nine = born + serial
    return f"{born}{separator}{serial}{luhn_check_digit(first_nine)}"


def samordningsnummer(born: str = "850715", serial: str = "456") -> str:
    """A Luhn-valid samordningsnummer (day + 60)."""
    shifted = born[:4] + f"{int(born[4:6]) + 60:02d}"
    return personnummer(shifted, serial)


def world() -> dict[str, Rows]:
    """A consistent world of three units over 18 months: every table, all rows valid."""
    providers = [
        {"provider_id": PROVIDER_A, "name": "Region Uppsala", "ownership": "public"},
        {"provider_id": PROVIDER_B, "name": "Vårdbolaget Åby AB", "ownership": "private"},
    ]
    units = [
        _unit(UNIT_1, PROVIDER_A, "Vårdcentralen Öster", "12000", ""),
        _unit(UNIT_2, PROVIDER_A, "Vårdcentralen Väster", "8000", ""),
        _unit(UNIT_3, PROVIDER_B, "Hälsocentralen Åby", "4000", ""),
    ]
    complaints = [
        {
            "event_id": f"K{index}",
            "unit_id": unit,
            "event_date": f"2024-0{1 + index % 5}-1{index % 9}",
            "received_date": f"2024-0{1 + index % 5}-2{index % 9}",
            "category": category,
            "severity": "",
            "summary": f"Patienten fick vänta på återuppringning, ärende {index}",
        }
        for index, (unit, category) in enumerate(
            [(UNIT_1, "vantetid"), (UNIT_1, "bemotande"), (UNIT_2, "remiss"), (UNIT_3, "lakemedel")]
        )
    ]
    lex_maria = [
        {
            "event_id": "M1",
            "unit_id": UNIT_2,
            "event_date": "2023-11-02",
            "received_date": "2024-01-15",
            "category": "fordrojd_diagnos",
            "severity": "allvarlig_vardskada",
        }
    ]
    availability = [
        _indicator(unit, month, measure, denominator=denominator, share=share)
        for unit, denominator in ((UNIT_1, 3000), (UNIT_2, 2000), (UNIT_3, 1000))
        for month in MONTHS
        for measure, share in (("phone_same_day_share", 0.88), ("assessment_3d_share", 0.81))
    ]
    continuity = [
        _indicator(unit, month, "named_doctor_share", denominator=denominator, share=0.6)
        for unit, denominator in ((UNIT_1, 12000), (UNIT_2, 8000), (UNIT_3, 4000))
        for month in MONTHS
    ]
    inspections = [
        {
            "inspection_id": "I1",
            "unit_id": UNIT_1,
            "start_date": "2024-03-04",
            "decision_date": "2024-05-20",
            "risk_area": "tillganglighet",
            "finding": "deficiency",
            "selection": "random",
            "inclusion_probability": "0,25",
        },
        {
            "inspection_id": "I1",
            "unit_id": UNIT_1,
            "start_date": "2024-03-04",
            "decision_date": "2024-05-20",
            "risk_area": "kontinuitet",
            "finding": "none",
            "selection": "random",
            "inclusion_probability": "0,25",
        },
    ]
    return {
        "providers": providers,
        "units": units,
        "complaints": complaints,
        "lex_maria": lex_maria,
        "availability": availability,
        "continuity": continuity,
        "inspections": inspections,
    }


def _unit(unit_id: str, provider_id: str, name: str, listed: str, active_to: str) -> dict[str, str]:
    return {
        "unit_id": unit_id,
        "provider_id": provider_id,
        "name": name,
        "region_code": "03",
        "municipality_code": "0380",
        "unit_type": "vardcentral",
        "listed_patients": listed,
        "active_from": "2015-01-01",
        "active_to": active_to,
    }


def _indicator(unit: str, month: str, measure: str, *, denominator: int, share: float) -> dict[str, str]:
    numerator = round(denominator * share)
    return {
        "unit_id": unit,
        "period": month,
        "measure": measure,
        "numerator": str(numerator),
        "denominator": str(denominator),
        "share": f"{numerator / denominator:.4f}".replace(".", ","),
    }


def write_csv(
    path: Path,
    rows: Rows,
    *,
    separator: str = ";",
    encoding: str = "utf-8-sig",
    columns: list[str] | None = None,
) -> Path:
    """Write ``rows`` as a CSV export (``;``, BOM by default); fields are never quoted."""
    header = columns or list(rows[0])
    lines = [separator.join(header)] + [
        separator.join(row.get(column, "") for column in header) for row in rows
    ]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def write_world(directory: Path, tables: dict[str, Rows] | None = None, **csv_options: str) -> Path:
    """Write every table of ``tables`` (default :func:`world`) as ``<table>.csv`` in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, rows in (tables or world()).items():
        write_csv(directory / f"{name}.csv", rows, **csv_options)
    return directory


def with_version_2(tables: dict[str, Rows]) -> dict[str, Rows]:
    """``tables`` (in place, and returned) with what contract version 2 adds: the inspection
    covariates and finding counts, a value-measure source and an attribute source."""
    counts = {"none": ("0", "0"), "deficiency": ("2", "0"), "serious": ("1", "1")}
    for row in tables["inspections"]:
        deficiencies, serious = counts[row["finding"]]
        row.update(team="mitt", method="platsbesok", deficiency_count=deficiencies, serious_count=serious)
    tables["patient_survey"] = [
        {"unit_id": unit, "period": month, "measure": "participation_index", "value": value}
        for unit, value in ((UNIT_1, "72,5"), (UNIT_2, "80"), (UNIT_3, "65,25"))
        for month in MONTHS
    ]
    tables["attributes"] = [
        {"unit_id": unit, "valid_from": valid_from, "attribute": attribute, "value": value}
        for unit, valid_from, attribute, value in (
            (UNIT_3, "2023-06-01", "ownership_change", ""),
            (UNIT_1, "2023-01-01", "temporary_doctor_share", "0,15"),
            (UNIT_1, "2024-01-01", "temporary_doctor_share", "0,3"),
            (UNIT_2, "2024-02-01", "manager_change", ""),
        )
    ]
    return tables


def world_v2() -> dict[str, Rows]:
    """:func:`world` as a contract version-2 export (see :func:`with_version_2`)."""
    return with_version_2(world())
