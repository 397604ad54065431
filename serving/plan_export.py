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

import re
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from engine.contract import REGIONS
from engine.places import municipality_name, municipality_names
from engine.scores import OVERALL
from serving.planning import inspections_template

BOM = "\ufeff"
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_START = "^[" + "".join(re.escape(prefix) for prefix in FORMULA_PREFIXES) + "]"
REASON_SV = {"risk_rank": "Riskrankad", "random": "Slumpvis (utforskning)", "pps": "Riskproportionellt urval"}
NOTHING_STANDS_OUT = "inget sticker ut"
REASONS_IN_A_CELL = 3
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
_PLAN_SCHEMA: dict[str, pl.DataType] = {
    "plan_position": pl.Int64(),
    "unit_id": pl.String(),
    "unit_name": pl.String(),
    "provider_id": pl.String(),
    "provider_name": pl.String(),
    "region_code": pl.String(),
    "municipality_code": pl.String(),
    "risk_area": pl.String(),
    "rank": pl.Int64(),
    "percentile": pl.Float64(),
    "p_deficiency": pl.Float64(),
    "reason": pl.String(),
    "inclusion_probability": pl.Float64(),
    "reasons_sv": pl.List(pl.String()),
}


def neutralised(text: str) -> str:
    """``text`` made safe for a spreadsheet cell: a leading formula character gets an apostrophe."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def place_cell(code: str) -> str:
    """A region or kommun code with its name, as text Excel keeps: ``"0380"`` → ``"0380 Uppsala"``."""
    name = REGIONS.get(code) if len(code) == 2 else municipality_name(code)
    return neutralised(f"{code} {name}" if name and name != code else code)


# The same rules as expressions, so an export of thousands of rows is one polars query, not a Python loop.


def neutralised_text(text: pl.Expr) -> pl.Expr:
    """:func:`neutralised` on a string column."""
    return pl.when(text.str.contains(_FORMULA_START)).then(pl.lit("'") + text).otherwise(text)


def place_text(code: pl.Expr, names: Mapping[str, str]) -> pl.Expr:
    """:func:`place_cell` on a column of codes, with ``names`` (code → name) of the codes' kind."""
    name = code.replace_strict(dict(names), default=None, return_dtype=pl.String)
    return neutralised_text(
        pl.when(name.is_not_null() & (name != code)).then(code + " " + name).otherwise(code)
    )


def region_text(code: pl.Expr) -> pl.Expr:
    """A region code column as ``"03 Uppsala"`` cells."""
    return place_text(code, REGIONS)


def municipality_text(code: pl.Expr) -> pl.Expr:
    """A kommun code column as ``"0380 Uppsala"`` cells."""
    return place_text(code, municipality_names())


def decimal_comma_text(value: pl.Expr, decimals: int) -> pl.Expr:
    """A non-negative number column as text with ``decimals`` decimals and a comma (``0,1234``)."""
    scale = 10**decimals
    scaled = (value * scale).round(0).cast(pl.Int64)
    return pl.format("{},{}", scaled // scale, (scaled % scale).cast(pl.String).str.zfill(decimals))


def reasons_text(sentences: pl.Expr) -> pl.Expr:
    """A list-of-sentences column as one cell per row (as on the candidate list), or "inget sticker ut"."""
    joined = sentences.list.head(REASONS_IN_A_CELL).list.join(" · ")
    return neutralised_text(pl.when(joined == "").then(pl.lit(NOTHING_STANDS_OUT)).otherwise(joined))


def excel_csv_text(cells: pl.DataFrame) -> str:
    """A frame of text cells as Swedish-Excel CSV: byte-order mark, ``;``, CRLF, quoted only where needed."""
    return BOM + cells.write_csv(
        separator=";", line_terminator="\r\n", quote_style="necessary", null_value=""
    )


def plan_csv_frame(document: dict[str, Any]) -> pl.DataFrame:
    """The cells of :func:`plan_csv_text`, one row per chosen unit, headed in Swedish."""
    chosen = pl.DataFrame(
        [{column: unit.get(column) for column in _PLAN_SCHEMA} for unit in document["chosen"]],
        schema=_PLAN_SCHEMA,
    )
    cells = {
        "plan_position": pl.col("plan_position").cast(pl.String),
        "unit_id": neutralised_text(pl.col("unit_id")),
        "unit_name": neutralised_text(pl.col("unit_name")),
        "provider_id": neutralised_text(pl.col("provider_id")),
        "provider_name": neutralised_text(pl.col("provider_name")),
        "region_code": region_text(pl.col("region_code")),
        "municipality_code": municipality_text(pl.col("municipality_code")),
        "risk_area": neutralised_text(pl.col("risk_area")),
        "rank": pl.col("rank").cast(pl.String),
        "percentile": decimal_comma_text(pl.col("percentile"), 1),
        "p_deficiency": decimal_comma_text(pl.col("p_deficiency"), 4),
        "reason": pl.col("reason").replace_strict(
            REASON_SV, default=neutralised_text(pl.col("reason")), return_dtype=pl.String
        ),
        "inclusion_probability": decimal_comma_text(pl.col("inclusion_probability"), 4),
        # A plan stored before plans kept reasons has none to show: an empty cell, not "nothing stands out".
        "reasons_sv": pl.when(pl.col("reasons_sv").is_null())
        .then(pl.lit(None, dtype=pl.String))
        .otherwise(reasons_text(pl.col("reasons_sv"))),
    }
    return chosen.select(cells[column].alias(header) for column, header in PLAN_CSV_COLUMNS)


def plan_csv_text(document: dict[str, Any]) -> str:
    """The chosen units of a stored plan as Swedish-Excel CSV (with BOM, ``;``, decimal comma)."""
    return excel_csv_text(plan_csv_frame(document))


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
