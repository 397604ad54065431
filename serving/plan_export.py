"""Plan documents as files a planner opens: Swedish-Excel CSV and ``inspections.csv`` rows (pure; no I/O).

Shared by the command line (``tillsynsrisk plan export``) and the planners' web pages, so both write
exactly the same bytes. Swedish Excel opens a CSV correctly when it is ``;``-separated, uses a decimal
comma and starts with a UTF-8 byte-order mark. A text cell beginning with ``=``, ``+``, ``-``, ``@``
(or a tab or carriage return) would be read as a formula ("CSV injection"); such cells are prefixed
with an apostrophe, which Excel shows as text.

Region and kommun codes are written with their names (``"03 Uppsala"``, ``"0380 Uppsala"``): a bare
``03`` is a number to Excel, which drops the zero; code and name together are text, kept as written, and
sort in code order. No ``="03"`` formula (a formula is what the neutralising guards against).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

import polars as pl

from engine.contract import REGIONS
from engine.places import municipality_name
from engine.scores import OVERALL
from serving.planning import inspections_template

BOM = "\ufeff"
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
REASON_SV = {"risk_rank": "Riskrankad", "random": "Slumpvis (utforskning)", "pps": "Riskproportionellt urval"}
NOTHING_STANDS_OUT = "inget sticker ut"
PLAN_CSV_COLUMNS: tuple[tuple[str, str], ...] = (
    ("plan_position", "Nr"),
    ("unit_id", "HSA-id"),
    ("unit_name", "Enhet"),
    ("provider_id", "Organisationsnummer"),
    ("provider_name", "Vårdgivare"),
    ("region_code", "Region"),
    ("municipality_code", "Kommun"),
    ("risk_area", "Riskområde"),
    ("rank", "Rang"),
    ("percentile", "Percentil"),
    ("p_deficiency", "Sannolikhet för brist"),
    ("reason", "Urval"),
    ("inclusion_probability", "Inklusionssannolikhet"),
    ("reasons_sv", "Främsta skäl"),
)


def neutralised(text: str) -> str:
    """``text`` made safe for a spreadsheet cell: a leading formula character gets an apostrophe."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def decimal_comma(value: float, decimals: int) -> str:
    """``0.1234`` → ``"0,1234"`` (no thousands separator: Excel reads it as a number)."""
    return f"{value:.{decimals}f}".replace(".", ",")


def place_cell(code: str) -> str:
    """A region or kommun code with its name, as text Excel keeps: ``"0380"`` → ``"0380 Uppsala"``."""
    name = REGIONS.get(code) if len(code) == 2 else municipality_name(code)
    return neutralised(f"{code} {name}" if name and name != code else code)


def reasons_cell(sentences: Sequence[str]) -> str:
    """A unit's top reasons in one cell (as the candidate list shows them), or that nothing stands out."""
    return neutralised(" · ".join(sentences) or NOTHING_STANDS_OUT)


def _cell(column: str, value: Any) -> str:
    if column == "reasons_sv":
        # A plan stored before plans kept reasons has none to show: an empty cell, not "nothing stands out".
        return "" if value is None else reasons_cell(value)
    if value is None:
        return ""
    if column in {"region_code", "municipality_code"}:
        return place_cell(str(value))
    if column == "reason":
        return REASON_SV.get(str(value), neutralised(str(value)))
    if column in {"p_deficiency", "inclusion_probability"}:
        return decimal_comma(float(value), 4)
    if column == "percentile":
        return decimal_comma(float(value), 1)
    if isinstance(value, int):
        return str(value)
    return neutralised(str(value))


def plan_csv_text(document: dict[str, Any]) -> str:
    """The chosen units of a stored plan as Swedish-Excel CSV (with BOM, ``;``, decimal comma)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow([header for _, header in PLAN_CSV_COLUMNS])
    for unit in document["chosen"]:
        writer.writerow([_cell(column, unit.get(column)) for column, _ in PLAN_CSV_COLUMNS])
    return BOM + buffer.getvalue()


def inspected_areas(document: dict[str, Any], risk_area_ids: Sequence[str]) -> list[str]:
    """The risk areas an inspection of this plan covers: its area, or every area for ``overall``."""
    area = document["parameters"]["risk_area"]
    return list(risk_area_ids) if area == OVERALL else [area]


def inspections_csv_text(document: dict[str, Any], risk_area_ids: Sequence[str]) -> str:
    """A plan's ``inspections.csv`` rows (data-contract style: ``;``, decimal comma, ISO dates; no BOM).

    One row per chosen unit × inspected risk area; ``selection`` and ``inclusion_probability`` filled
    in, the outcome columns empty for the inspectors (see :func:`serving.planning.inspections_template`).
    """
    schema = {
        "plan_position": pl.Int64,
        "unit_id": pl.String,
        "selection": pl.String,
        "inclusion_probability": pl.Float64,
    }
    chosen = pl.DataFrame(
        {column: [unit[column] for unit in document["chosen"]] for column in schema}, schema=schema
    )
    areas = inspected_areas(document, risk_area_ids)
    return inspections_template(chosen, document["plan_id"], areas).write_csv(
        separator=";", decimal_comma=True, date_format="%Y-%m-%d"
    )
