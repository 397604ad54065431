"""Toy training data for the models tests: a known logistic truth behind a small feature frame."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

if TYPE_CHECKING:  # models.jobs imports MLflow: only the tests that train pay for it
    from models.jobs import TrainingData

TOY_AREAS_FEATURES = {
    "personcentrering": "complaints_personcentrering_per_10k_12m",
    "tillganglighet": "complaints_tillganglighet_per_10k_12m",
    "samverkan": "complaints_samverkan_per_10k_12m",
    "kontinuitet": "complaints_kontinuitet_per_10k_12m",
    "systematiskt_kvalitetsarbete": "complaints_systematiskt_kvalitetsarbete_per_10k_12m",
}


def toy_catalog() -> list[dict[str, object]]:
    """Catalog records (FeatureSpec-shaped dicts) of the toy feature frame."""
    records: list[dict[str, object]] = [
        {
            "name": name,
            "kind": "numeric",
            "higher_is_riskier": True,
            "risk_area": area,
            "source": "complaints",
            "unit": "per_10k",
            "window_months": 12,
        }
        for area, name in TOY_AREAS_FEATURES.items()
    ]
    records += [
        {"name": "availability_phone_same_day_share_12m", "kind": "numeric", "higher_is_riskier": False,
         "risk_area": "tillganglighet", "source": "availability", "unit": "share", "window_months": 12},
        {"name": "listed_patients", "kind": "numeric", "higher_is_riskier": None, "risk_area": None,
         "source": "units", "unit": "patients", "window_months": None},
        {"name": "ownership", "kind": "categorical", "higher_is_riskier": None, "risk_area": None,
         "source": "providers", "unit": "category", "window_months": None},
    ]  # fmt: skip
    return records


def toy_rows(seed: int = 0, n_units: int = 300, years: tuple[int, int] = (2016, 2022)) -> pl.DataFrame:
    """Labelled training rows (inspection × area with features) from a known logistic truth.

    Per year 80 random inspections (π = 80 / n_units) and 40 complaint-triggered ones (π unknown,
    drawn towards high-complaint units). Features vary by unit and drift slowly by year.
    """
    rng = np.random.default_rng(seed)
    unit_ids = [f"SE2321000016-{i:04d}" for i in range(n_units)]
    unit_level = rng.normal(size=(n_units, len(TOY_AREAS_FEATURES)))
    ownership = rng.choice(["public", "private"], size=n_units)
    listed = rng.integers(1500, 20000, size=n_units)
    region = rng.choice(["01", "12", "14"], size=n_units)
    records = []
    counter = 0
    for year in range(years[0], years[1] + 1):
        complaints = np.clip(2.0 + unit_level + rng.normal(scale=0.3, size=unit_level.shape), 0, None)
        phone = np.clip(0.85 - 0.05 * unit_level[:, 1] + rng.normal(scale=0.02, size=n_units), 0, 1)
        random_units = rng.choice(n_units, size=80, replace=False)
        weights = complaints.sum(axis=1) ** 2
        triggered = rng.choice(n_units, size=40, replace=False, p=weights / weights.sum())
        for selection, chosen in (("random", random_units), ("complaint_triggered", triggered)):
            for unit in chosen:
                counter += 1
                start = dt.date(year, int(rng.integers(3, 12)), int(rng.integers(1, 28)))
                decision = start + dt.timedelta(days=int(rng.integers(20, 80)))
                as_of = (start - dt.timedelta(days=60)).replace(day=1)
                for index, (area, _feature) in enumerate(TOY_AREAS_FEATURES.items()):
                    logit = -1.2 + 0.4 * index + 1.3 * (complaints[unit, index] - 2.0)
                    if area == "tillganglighet":
                        logit -= 20 * (phone[unit] - 0.85)
                    p = 1 / (1 + np.exp(-logit))
                    deficient = rng.random() < p
                    records.append(
                        {
                            "inspection_id": f"I{counter:05d}",
                            "unit_id": unit_ids[unit],
                            "risk_area": area,
                            "start_date": start,
                            "decision_date": decision,
                            "selection": selection,
                            "inclusion_probability": 80 / n_units if selection == "random" else None,
                            "as_of": as_of,
                            "deficiency": int(deficient),
                            "serious": int(deficient and rng.random() < 0.15),
                            "is_random": selection == "random",
                            "weight_known": selection == "random",
                            "weight": n_units / 80 if selection == "random" else 1.0,
                            "ownership": ownership[unit],
                            "region_code": region[unit],
                            "listed_patients": int(listed[unit]),
                            "true_p_deficiency": float(p),
                            "availability_phone_same_day_share_12m": float(phone[unit]),
                            **{
                                name: float(complaints[unit, i])
                                for i, name in enumerate(TOY_AREAS_FEATURES.values())
                            },
                        }
                    )
    return pl.DataFrame(records).with_columns(
        pl.col("deficiency", "serious").cast(pl.Int8), pl.col("inclusion_probability").cast(pl.Float64)
    )


AS_OF = dt.date(2023, 1, 1)


def training_data(rows: pl.DataFrame, records: list[dict[str, object]]) -> TrainingData:
    """Toy ``TrainingData`` of ``rows``: scores are planned for :data:`AS_OF` from the 2022 rows."""
    from models.artifact import ModelFeature
    from models.jobs import TrainingData

    catalog = [ModelFeature.from_spec(r) for r in records]
    latest = (
        rows.filter(pl.col("start_date").dt.year() == 2022)
        .unique("unit_id", keep="first", maintain_order=True)
        .select("unit_id", pl.lit(AS_OF).alias("as_of"), *[f.name for f in catalog])
    )
    return TrainingData(
        rows=rows,
        catalog=catalog,
        catalog_records=records,
        as_of_dates=sorted(set(rows["as_of"].to_list())),
        feature_set_id="toy",
        latest_features=latest,
        has_oracle=True,
    )
