"""Pseudonymised visit records consistent with the continuity truth (optional ``visits`` table).

Each unit follows a panel of ``visit_patients_per_unit`` patients (fewer if it lists fewer). A patient
has a named regular doctor with the unit's true ``named_doctor_share``; every doctor visit is with that
doctor with probability ``regular[u, t] = clip(same_doctor_share / named_doctor_share, 0, 0.95)``,
otherwise with another of the unit's ``listed / listed_per_doctor`` permanent doctors or, with
probability ``sigmoid(-1 + deviation_kontinuitet)``, one of its locum doctors (hyrläkare). Patients
without a named doctor see any doctor. So a unit with a low true regular-doctor share has patients
who meet many different doctors, and visit-based indices (UPC, COC) recover the truth.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from synthetic.indicators import MeasureSeries
from synthetic.numeric import sigmoid
from synthetic.params import AREAS, WorldParams
from synthetic.risk import Risk
from synthetic.structure import Structure

_OTHER_PROFESSIONS = ("sjukskoterska", "distriktsskoterska", "psykolog", "fysioterapeut", "annan")
_OTHER_WEIGHTS = (0.35, 0.35, 0.1, 0.15, 0.05)
_NURSES_PER_UNIT = 6


def simulate_visits(
    structure: Structure,
    risk: Risk,
    series: dict[str, MeasureSeries],
    params: WorldParams,
    rng: np.random.Generator,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The visits table and truth/continuity (per unit and month)."""
    active = structure.active
    named = series["named_doctor_share"].true_share
    same = series["same_doctor_visit_share"].true_share
    regular = np.where(active, np.clip(same / np.maximum(named, 1e-3), 0.0, 0.95), 0.0)
    locum = np.where(active, sigmoid(-1.0 + risk.deviation[:, :, AREAS.index("kontinuitet")]), 0.0)

    listed_mean = np.where(active, structure.listed, 0).sum(axis=1) / np.maximum(active.sum(axis=1), 1)
    panel = np.minimum(params.visit_patients_per_unit, np.maximum(listed_mean, 1)).astype(np.int64)
    doctors = np.maximum(np.round(listed_mean / params.listed_per_doctor), 1).astype(np.int64)
    patient_offset = np.concatenate([[0], np.cumsum(panel)[:-1]])
    named_share_unit = np.where(active, named, 0).sum(axis=1) / np.maximum(active.sum(axis=1), 1)
    has_named = rng.random(int(panel.sum())) < np.repeat(named_share_unit, panel)
    regular_doctor = (rng.random(int(panel.sum())) * np.repeat(doctors, panel)).astype(np.int64)

    counts = rng.poisson(np.where(active, panel[:, None] * params.visits_per_patient_year / 12.0, 0.0))
    flat = np.repeat(np.arange(counts.size), counts.ravel())
    unit, month = np.unravel_index(flat, counts.shape)
    patient = patient_offset[unit] + (rng.random(len(flat)) * panel[unit]).astype(np.int64)
    is_doctor = rng.random(len(flat)) < params.doctor_visit_share
    with_regular = has_named[patient] & (rng.random(len(flat)) < regular[unit, month])
    with_locum = ~with_regular & (rng.random(len(flat)) < locum[unit, month])
    other_permanent = (rng.random(len(flat)) * doctors[unit]).astype(np.int64)
    locum_index = (rng.random(len(flat)) * max(params.locum_doctors_per_unit, 1)).astype(np.int64)
    doctor_code = np.where(
        with_regular,
        regular_doctor[patient],
        np.where(with_locum, 1000 + locum_index, other_permanent),
    )
    nurse_code = 2000 + (rng.random(len(flat)) * _NURSES_PER_UNIT).astype(np.int64)
    profession_other = rng.choice(len(_OTHER_PROFESSIONS), size=len(flat), p=np.array(_OTHER_WEIGHTS))
    days = ((structure.months[month] + 1).astype("datetime64[D]") - structure.month_starts[month]).astype(
        np.int64
    )
    visit_date = structure.month_starts[month] + (rng.random(len(flat)) * days).astype("timedelta64[D]")
    open_end = np.where(np.isnat(structure.active_to), structure.end_date, structure.active_to)
    keep = (visit_date >= structure.active_from[unit]) & (visit_date <= open_end[unit])

    professions = np.array(("lakare", *_OTHER_PROFESSIONS))
    frame = pl.DataFrame(
        {
            "patient": patient[keep],
            "unit": unit[keep],
            "clinician": np.where(is_doctor, doctor_code, nurse_code)[keep],
            "profession": professions[np.where(is_doctor, 0, 1 + profession_other)][keep],
            "visit_date": visit_date[keep],
        },
        schema_overrides={"visit_date": pl.Date},
    ).sort("unit", "visit_date", "patient")
    visits = frame.select(
        # short digit runs with letters between them: a pseudonym never looks like a personnummer
        patient_pseudonym=pl.format("P{}", pl.col("patient").cast(pl.Utf8).str.zfill(7)),
        unit_id=pl.Series(structure.unit_ids).gather(frame["unit"]),
        clinician_pseudonym=pl.format("C{}K{}", pl.col("unit"), pl.col("clinician")),
        profession=pl.col("profession"),
        visit_date=pl.col("visit_date"),
    )
    unit_idx, month_idx = np.nonzero(active)
    truth = pl.DataFrame(
        {
            "unit_id": structure.unit_ids[unit_idx],
            "month": structure.month_starts[month_idx],
            "named_doctor_share": named[unit_idx, month_idx],
            "same_doctor_visit_share": same[unit_idx, month_idx],
            "regular_doctor_probability": regular[unit_idx, month_idx],
            "locum_probability": locum[unit_idx, month_idx],
        },
        schema_overrides={"month": pl.Date},
    )
    return visits, truth
