"""Test factory for scoring snapshots in the :mod:`engine.scores` contract (no model needed)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from engine.identifiers import organisation_number
from engine.scores import EXPLANATION_DTYPE, OVERALL, ScoreStore, ranked_scores

AREAS = ("personcentrering", "tillganglighet", "samverkan", "kontinuitet", "systematiskt_kvalitetsarbete")
REGION_CODES = ("01", "03", "12", "14", "25")


def provider_ids(count: int) -> list[str]:
    """Valid organisationsnummer for ``count`` providers."""
    return [organisation_number(f"55{index:07d}") for index in range(count)]


def unit_id(index: int) -> str:
    return f"SE2321000016-u{index:04d}"


def make_scores(
    *,
    units: int = 40,
    providers: int = 8,
    seed: int = 0,
    as_of: dt.date = dt.date(2025, 6, 1),
    areas: tuple[str, ...] = AREAS,
    shift: float = 0.0,
) -> pl.DataFrame:
    """A valid scores frame: ``units`` units spread over providers and regions, every area + overall.

    Unit ``i`` belongs to provider ``i % providers`` and region ``REGION_CODES[i % 5]``; provider 0 is
    public (a region), the others private. ``shift`` moves every logit, to make a visibly newer snapshot.
    """
    rng = np.random.default_rng(seed)
    pids = provider_ids(providers)
    rows = []
    for index in range(units):
        region = REGION_CODES[index % len(REGION_CODES)]
        provider = index % providers
        logits = rng.normal(-1.0 + shift, 1.0, size=len(areas))
        p_area = 1.0 / (1.0 + np.exp(-logits))
        base = {
            "unit_id": unit_id(index),
            "unit_name": f"Vårdcentralen {index}",
            "provider_id": pids[provider],
            "provider_name": f"Vårdgivare {provider} AB",
            "region_code": region,
            "municipality_code": f"{region}80",
            "unit_type": "vardcentral",
            "ownership": "public" if provider == 0 else "private",
            "listed_patients": int(2000 + 300 * index),
            "as_of": as_of,
        }
        for area, p_raw in zip((*areas, OVERALL), (*p_area, float(p_area.mean())), strict=True):
            p = float(p_raw)
            rows.append(
                base
                | {
                    "risk_area": area,
                    "p_deficiency": p,
                    "p_serious": p / 5.0,
                    "explanations": [
                        {
                            "feature": f"{area}_complaints_12m_per_10k",
                            "sentence_sv": f"Klagomål senaste 12 mån: {index % 7} (regionens median 2)",
                            "contribution": round(p - 0.3, 6),
                            "value": float(index % 7),
                        }
                    ],
                }
            )
    frame = pl.DataFrame(
        rows,
        schema_overrides={"explanations": pl.List(EXPLANATION_DTYPE), "listed_patients": pl.Int64},
    )
    return ranked_scores(frame.lazy()).collect()


def write_published(store: ScoreStore, frame: pl.DataFrame, *, version: str = "1") -> str:
    """Write ``frame`` to ``store`` with plausible lineage and publish it; returns the score id."""
    metadata = store.write(
        frame,
        model_name="tillsynsrisk",
        model_version=version,
        run_id=f"run{version}",
        feature_set_id="fs-test",
        snapshot_id="snap-test",
        config_hash="c" * 64,
    )
    store.publish(metadata.score_id)
    return metadata.score_id
