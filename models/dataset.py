"""The training set: each past inspection × risk area, with point-in-time features and labels.

Features are taken at ``as_of`` = the first day of the month of (start_date − lead time). Rounding
down keeps the row point-in-time (never later than the lead time allows) and bounds the number of
distinct as-of dates the feature builder has to compute. Only inspected units have labels.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from typing import TYPE_CHECKING

import polars as pl

from models.artifact import INSPECTION_COVARIATES

if TYPE_CHECKING:
    from engine.config import ModelSettings

logger = logging.getLogger(__name__)

LABELS = ("deficiency", "serious")


def inspection_as_of(start_date: pl.Expr, lead_time_days: int) -> pl.Expr:
    """First day of the month of ``start_date − lead_time_days`` (the features' planning date)."""
    return (start_date - pl.duration(days=lead_time_days)).dt.truncate("1mo")


def inverse_probability_weight(default_weight: float, max_weight: float = math.inf) -> pl.Expr:
    """1/π where the inclusion probability π is known, ``default_weight`` where it is not.

    Weights above ``max_weight`` are truncated (a standard variance control for IPW).

    Random selections always carry π (the contract requires it). Complaint-triggered and risk-based
    inspections usually do not: they get ``default_weight`` and ``weight_known`` = False, and the
    evaluation reports the random subset separately as the unbiased estimate.
    """
    probability = pl.col("inclusion_probability")
    weight = pl.when(probability.is_not_null()).then(1.0 / probability).otherwise(pl.lit(default_weight))
    return weight.clip(upper_bound=max_weight) if math.isfinite(max_weight) else weight


def training_inspections(
    inspections: pl.LazyFrame, settings: ModelSettings, *, decided_before: dt.date
) -> pl.LazyFrame:
    """The labelled inspections a training as of ``decided_before`` learns from: :func:`labelled_inspections`
    with the training settings' lead time and weights."""
    return labelled_inspections(
        inspections,
        lead_time_days=settings.lead_time_days,
        decided_before=decided_before,
        default_weight=settings.complaint_triggered_weight,
        max_weight=settings.max_weight,
    )


def labelled_inspections(
    inspections: pl.LazyFrame,
    *,
    lead_time_days: int,
    decided_before: dt.date | None = None,
    default_weight: float = 1.0,
    max_weight: float = math.inf,
) -> pl.LazyFrame:
    """Inspections with their as-of date, labels, selection flags and inverse-probability weights.

    Parameters
    ----------
    inspections
        The snapshot's ``inspections`` table (one row per inspection and risk area).
    lead_time_days
        Days between the planning date and the inspection's start.
    decided_before
        Keep only inspections whose decision was known before this date (the training cut-off).
    default_weight
        Weight of rows without a known inclusion probability.
    max_weight
        Truncation of the inverse-probability weights.

    The optional columns ``team`` and ``method`` are passed through when the table has them: they
    are training covariates (see ``models.training``).
    """
    frame = inspections
    if decided_before is not None:
        frame = frame.filter(pl.col("decision_date") < decided_before)
    # Optional inspection covariates (contract v2): who inspected and how, kept as categorical strings.
    present = set(frame.collect_schema().names())
    covariates = [pl.col(name).cast(pl.String) for name in INSPECTION_COVARIATES if name in present]
    return frame.select(
        "inspection_id",
        "unit_id",
        "risk_area",
        "start_date",
        "decision_date",
        "selection",
        "inclusion_probability",
        inspection_as_of(pl.col("start_date"), lead_time_days).alias("as_of"),
        pl.col("finding").is_in(["deficiency", "serious"]).cast(pl.Int8).alias("deficiency"),
        (pl.col("finding") == "serious").cast(pl.Int8).alias("serious"),
        (pl.col("selection") == "random").alias("is_random"),
        pl.col("inclusion_probability").is_not_null().alias("weight_known"),
        inverse_probability_weight(default_weight, max_weight).alias("weight"),
        *covariates,
    ).sort("start_date", "inspection_id", "risk_area")


def training_as_of_dates(labelled: pl.DataFrame) -> list[dt.date]:
    """The distinct as-of dates the feature builder must compute for ``labelled`` rows."""
    return sorted(labelled.get_column("as_of").unique().to_list())


def training_rows(labelled: pl.LazyFrame, features: pl.LazyFrame) -> pl.LazyFrame:
    """Join labelled inspections to the features of their unit at their as-of date.

    Inspections of units the feature builder does not list at that date (not yet active) are dropped.
    """
    return labelled.join(features, on=["unit_id", "as_of"], how="inner", validate="m:1").sort(
        "start_date", "inspection_id", "risk_area"
    )


def size_band(listed_patients: pl.Expr, edges: list[int]) -> pl.Expr:
    """Unit-size band label from listed patients, e.g. ``"<4000"``, ``"4000-10000"``, ``">=10000"``."""
    bounds = sorted(edges)
    labels = pl.lit(f">={bounds[-1]}" if bounds else "all")
    lower: int | None = None
    cases = []
    for edge in bounds:
        cases.append((listed_patients < edge, f"<{edge}" if lower is None else f"{lower}-{edge}"))
        lower = edge
    for condition, label in reversed(cases):
        labels = pl.when(condition).then(pl.lit(label)).otherwise(labels)
    return pl.when(listed_patients.is_null()).then(pl.lit("unknown")).otherwise(labels)
