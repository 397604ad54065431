"""The subgroup audit tells a planted disparity from noise and names groups in words."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from engine.config import Config
from models.evaluation import group_name, subgroup_tables
from models.report import flagged_sentences

REGIONS = ("01", "12", "14", "03", "25")


def _predictions(*, under_ranked: str | None, seed: int = 0) -> pl.DataFrame:
    """Three test folds of inspections whose model score tracks the true risk, region by region.

    With ``under_ranked`` that region's units get a third of their score: systematically under-ranked.
    """
    rng = np.random.default_rng(seed)
    n = 3000
    region = rng.choice(REGIONS, size=n, p=[0.4, 0.2, 0.2, 0.1, 0.1])
    risk = rng.uniform(0.05, 0.8, n)
    score = np.clip(risk + rng.normal(scale=0.1, size=n), 0.001, 0.999)
    if under_ranked is not None:
        score = np.where(region == under_ranked, score / 3, score)
    return pl.DataFrame(
        {
            "fold": rng.choice(["2023", "2024", "2025"], size=n),
            "risk_area": ["tillganglighet"] * n,
            "deficiency": (rng.random(n) < risk).astype(np.int8),
            "score_model": score,
            "ownership": rng.choice(["public", "private"], size=n),
            "region_code": region,
            "size_band": rng.choice(["<4000", "4000-10000", ">=10000"], size=n),
        }
    )


def _flagged(table: pl.DataFrame) -> pl.DataFrame:
    return table.filter(
        pl.col("precision_flagged") | pl.col("recall_flagged") | pl.col("selection_rate_flagged")
    )


def test_a_region_whose_units_are_under_ranked_is_flagged_by_name(models_config: Config) -> None:
    # Given predictions where Region Skåne's units are systematically scored at a third of their risk
    table = subgroup_tables(_predictions(under_ranked="12"), models_config)

    # Then Skåne is flagged on selection rate and recall, with intervals wholly below 0.8
    skane = table.filter(pl.col("group") == "12").row(0, named=True)
    assert skane["group_name"] == "Region Skåne" and skane["attribute"] == "region"
    assert skane["selection_rate_flagged"] and skane["selection_rate_upper"] < 0.8
    assert skane["recall_flagged"] and skane["recall_upper"] < 0.8
    # And the report says so in one sentence naming the region and the reference in words
    sentences = [s["sentence"] for s in flagged_sentences(table, (0.8, 1.25))]
    assert any(
        s.startswith("Region Skåne") and "Region Stockholm" in s and "under 0,80" in s for s in sentences
    ), sentences


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_without_a_planted_disparity_no_group_is_flagged(models_config: Config, seed: int) -> None:
    # Given predictions that treat every region, ownership and size band alike
    table = subgroup_tables(_predictions(under_ranked=None, seed=seed), models_config)

    # Then no ratio is flagged: every interval reaches into the bounds
    assert _flagged(table).is_empty(), _flagged(table)


def test_groups_are_named_in_words() -> None:
    assert group_name("region_code", "14") == "Region Västra Götaland"
    assert group_name("ownership", "private") == "privat regi"
    assert group_name("size_band", "<4000") == "färre än 4 000 listade patienter"
    assert group_name("size_band", "4000-10000") == "4 000–10 000 listade patienter"
    assert group_name("size_band", ">=10000") == "minst 10 000 listade patienter"
