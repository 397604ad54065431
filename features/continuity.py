"""Continuity of care from pseudonymised visit records (optional ``visits`` table).

Per unit and planning date, over the doctor visits in the trailing 12 months ``[as_of - 12 months,
as_of)``, with ``n`` a patient's doctor visits at the unit and ``n_j`` those with doctor ``j``:

- UPC, usual provider of care (Breslau & Reeb 1975): ``max_j n_j / n``;
- COC, continuity of care (Bice & Boxerman 1977): ``(Σ_j n_j² − n) / (n (n − 1))``;

both per patient with ``n >= 2`` and averaged over those patients; and the share of patients with
``n >= 3`` whose most-seen doctor accounts for more than half of their visits. Higher is better
continuity (lower risk). A unit without qualifying patients gets nulls, not zeros.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

from engine.order_free import order_free_mean
from features.asof import months_before, normalised_as_of_dates
from features.context import keyed

DOCTOR_PROFESSION = "lakare"
WINDOW_MONTHS = 12
MIN_VISITS_FOR_INDEX = 2
MIN_VISITS_FOR_MAJORITY = 3


def usual_provider_of_care(most_visits_one_doctor: pl.Expr, visits: pl.Expr) -> pl.Expr:
    """UPC per patient: visits to the most-seen doctor over all doctor visits."""
    return most_visits_one_doctor / visits


def continuity_of_care(sum_of_squared_doctor_visits: pl.Expr, visits: pl.Expr) -> pl.Expr:
    """Bice–Boxerman COC per patient: ``(Σ n_j² − n) / (n (n − 1))``, defined for ``n >= 2``."""
    return (sum_of_squared_doctor_visits - visits) / (visits * (visits - 1))


def patient_doctor_visits(visits: pl.LazyFrame, as_of: dt.date) -> pl.LazyFrame:
    """Per unit and patient: doctor visits in the 12 months before ``as_of``, Σ n_j², max n_j.

    ``visits`` must carry ``unit_key`` (:func:`features.context.keyed`).
    """
    boundary = pl.lit(as_of, dtype=pl.Date)
    in_window = (pl.col("visit_date") >= months_before(boundary, WINDOW_MONTHS)) & (
        pl.col("visit_date") < boundary
    )
    return (
        visits.filter(in_window & (pl.col("profession") == DOCTOR_PROFESSION))
        .group_by("unit_key", "patient_pseudonym", "clinician_pseudonym")
        .agg(pl.len().cast(pl.Float64).alias("with_doctor"))
        .group_by("unit_key", "patient_pseudonym")
        .agg(
            pl.col("with_doctor").sum().alias("visits"),
            (pl.col("with_doctor") ** 2).sum().alias("squared"),
            pl.col("with_doctor").max().alias("most_with_one_doctor"),
        )
        .with_columns(as_of=boundary)
    )


def unit_continuity(patients: pl.LazyFrame) -> pl.LazyFrame:
    """Per unit and planning date: mean UPC and COC, majority share and number of patients."""
    visits = pl.col("visits")
    upc = usual_provider_of_care(pl.col("most_with_one_doctor"), visits)
    qualifies = visits >= MIN_VISITS_FOR_INDEX
    majority_basis = visits >= MIN_VISITS_FOR_MAJORITY
    return patients.group_by("unit_key", "as_of").agg(
        order_free_mean(upc.filter(qualifies)).alias("visits_upc_12m"),
        order_free_mean(continuity_of_care(pl.col("squared"), visits).filter(qualifies)).alias(
            "visits_coc_12m"
        ),
        (upc > 0.5)
        .filter(majority_basis)
        .mean()
        .cast(pl.Float64)
        .alias("visits_same_doctor_majority_share_12m"),
        qualifies.sum().cast(pl.Float64).alias("visits_patients_12m"),
    )


def visit_continuity_features(
    visits: pl.LazyFrame, units_at: pl.LazyFrame, keys: pl.LazyFrame, as_of_dates: Sequence[dt.date]
) -> pl.LazyFrame:
    """Visit-based continuity features per (unit_id, as_of) for the active units in ``units_at``.

    A unit without any qualifying patient in the window has null indices and a null patient count
    (the visit data may not cover it; that is missing information, not zero continuity).
    """
    doctor_visits = keyed(visits.filter(pl.col("profession") == DOCTOR_PROFESSION), keys)
    patients = pl.concat(
        [patient_doctor_visits(doctor_visits, as_of) for as_of in normalised_as_of_dates(as_of_dates)],
        how="vertical",
    )
    per_unit = unit_continuity(patients).with_columns(
        pl.when(pl.col("visits_patients_12m") > 0)
        .then(pl.col("visits_patients_12m"))
        .alias("visits_patients_12m")
    )
    return units_at.select("unit_key", "as_of").join(per_unit, on=["unit_key", "as_of"], how="left")
