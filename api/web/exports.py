"""The candidate list as a file for a meeting: Swedish-Excel CSV of every filtered row (pure; no I/O).

The conventions and the cell rules of :mod:`serving.plan_export`: UTF-8 with a byte-order mark, ``;``
between cells, decimal comma, text cells that begin with a formula character neutralised, and codes
written with their names so Excel keeps them as text (``"0380 Uppsala"``). The cells are polars
expressions over the filtered frame: a region's few thousand rows are one query, not a Python loop.
"""

from __future__ import annotations

import polars as pl

from api.web.data import RecentInspections
from api.web.format import OWNERSHIP_SV, UNIT_TYPE_SV
from serving.plan_export import (
    decimal_comma_text,
    excel_csv_text,
    municipality_text,
    neutralised_text,
    reasons_text,
    region_text,
)
from serving.scoring import MISSING_SV

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


def weighty_sentences(explanations: pl.Expr, min_contribution: float) -> pl.Expr:
    """The Swedish sentences of the reasons that carry weight, strongest first.

    The rule of :func:`serving.scoring.reasons_that_carry_weight`: a contribution of at least
    ``min_contribution`` and a known value ("uppgift saknas" is never a reason).
    """
    reason = pl.element()
    carries = (reason.struct.field("contribution").fill_null(0.0) >= min_contribution) & ~reason.struct.field(
        "sentence_sv"
    ).str.contains(MISSING_SV, literal=True)
    return explanations.list.eval(reason.filter(carries).struct.field("sentence_sv"))


def candidates_csv_frame(
    rows: pl.DataFrame, area_name: str, inspected: RecentInspections, min_contribution: float
) -> pl.DataFrame:
    """The export's cells, one row per candidate in ``rows``' order, headed :data:`CANDIDATE_CSV_HEADER`."""
    unit_ids = rows["unit_id"].to_list()
    last = pl.Series([inspected.last_inspected.get(unit) for unit in unit_ids], dtype=pl.Date)
    cooling = pl.Series([unit in inspected.in_cooldown for unit in unit_ids], dtype=pl.Boolean)
    cells = [
        pl.col("rank").cast(pl.String),
        neutralised_text(pl.col("unit_id")),
        neutralised_text(pl.col("unit_name")),
        neutralised_text(pl.col("provider_id")),
        neutralised_text(pl.col("provider_name")),
        region_text(pl.col("region_code")),
        municipality_text(pl.col("municipality_code")),
        pl.col("ownership").replace_strict(
            OWNERSHIP_SV, default=neutralised_text(pl.col("ownership")), return_dtype=pl.String
        ),
        neutralised_text(pl.col("unit_type").replace(UNIT_TYPE_SV)),
        pl.col("listed_patients").cast(pl.String),
        neutralised_text(pl.lit(area_name, dtype=pl.String)),
        decimal_comma_text(pl.col("p_deficiency"), 4),
        decimal_comma_text(pl.col("percentile"), 1),
        pl.when(pl.lit(cooling)).then(pl.lit("ja")).otherwise(pl.lit("nej")),
        pl.lit(last).dt.to_string("%Y-%m-%d"),
        reasons_text(weighty_sentences(pl.col("explanations"), min_contribution)),
    ]
    return rows.select(cell.alias(header) for cell, header in zip(cells, CANDIDATE_CSV_HEADER, strict=True))


def candidates_csv_text(
    rows: pl.DataFrame, area_name: str, inspected: RecentInspections, min_contribution: float
) -> str:
    """The candidates ``rows`` (in the page's order) as Swedish-Excel CSV, with its byte-order mark."""
    return excel_csv_text(candidates_csv_frame(rows, area_name, inspected, min_contribution))
