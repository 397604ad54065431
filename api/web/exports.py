"""The candidate list as a file for a meeting: Swedish-Excel CSV of every filtered row (pure; no I/O).

The conventions of :mod:`serving.plan_export`: UTF-8 with a byte-order mark, ``;`` between cells, decimal
comma, text cells that begin with a formula character neutralised, and codes written with their names so
Excel keeps them as text (``"0380 Uppsala"``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from api.web.data import RecentInspections
from api.web.format import OWNERSHIP_SV, UNIT_TYPE_SV
from serving.plan_export import BOM, decimal_comma, neutralised, place_cell, reasons_cell
from serving.scoring import reasons_that_carry_weight

CANDIDATE_CSV_HEADER = (
    "Rang",
    "HSA-id",
    "Enhet",
    "Organisationsnummer",
    "Vårdgivare",
    "Region",
    "Kommun",
    "Ägarform",
    "Enhetstyp",
    "Listade patienter",
    "Riskområde",
    "Sannolikhet för brist",
    "Percentil",
    "Karenstid",
    "Senaste inspektion",
    "Främsta skäl",
)


def candidate_csv_row(
    row: dict[str, Any], area_name: str, inspected: RecentInspections, min_contribution: float
) -> list[str]:
    """One candidate as the cells of :data:`CANDIDATE_CSV_HEADER`."""
    last = inspected.last_inspected.get(row["unit_id"])
    reasons = reasons_that_carry_weight(row["explanations"], min_contribution)
    return [
        str(row["rank"]),
        neutralised(row["unit_id"]),
        neutralised(row["unit_name"]),
        neutralised(row["provider_id"]),
        neutralised(row["provider_name"]),
        place_cell(row["region_code"]),
        place_cell(row["municipality_code"]),
        OWNERSHIP_SV.get(row["ownership"], neutralised(str(row["ownership"]))),
        neutralised(UNIT_TYPE_SV.get(row["unit_type"], row["unit_type"])),
        str(row["listed_patients"]),
        neutralised(area_name),
        decimal_comma(float(row["p_deficiency"]), 4),
        decimal_comma(float(row["percentile"]), 1),
        "ja" if row["unit_id"] in inspected.in_cooldown else "nej",
        last.isoformat() if last is not None else "",
        reasons_cell([reason["sentence_sv"] for reason in reasons[:3]]),
    ]


def candidates_csv_text(
    rows: Sequence[dict[str, Any]], area_name: str, inspected: RecentInspections, min_contribution: float
) -> str:
    """The candidates ``rows`` (in the page's order) as Swedish-Excel CSV, with its byte-order mark."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(CANDIDATE_CSV_HEADER)
    for row in rows:
        writer.writerow(candidate_csv_row(row, area_name, inspected, min_contribution))
    return BOM + buffer.getvalue()
