"""studies/region_drop.py: the true probabilities, the noise-free metrics and their drops."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

import studies.region_drop as study


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    return float(pl.DataFrame({"x": x, "y": y}).select(pl.corr("x", "y", method="spearman")).item())


def test_rank_correlation_is_spearman_of_the_resample_written_out() -> None:
    # Given values with ties and a resample that draws some rows twice and others not at all
    rng = np.random.default_rng(3)
    x = rng.integers(0, 6, 40).astype(float)
    y = x + rng.normal(0, 2, 40)
    counts = np.vstack([np.ones(40), rng.multinomial(40, np.full(40, 1 / 40))])
    # When the weighted rank correlation is computed
    rho = study.rank_correlation(x, y, counts)
    # Then each row equals Spearman's rho of the rows repeated as often as they were drawn
    assert rho[0] == pytest.approx(_spearman(x, y), abs=1e-12)
    drawn = np.repeat(np.arange(40), counts[1].astype(int))
    assert rho[1] == pytest.approx(_spearman(x[drawn], y[drawn]), abs=1e-12)


def test_cell_metrics_expected_precision_is_the_mean_true_probability_of_the_top_tenth() -> None:
    # Given 100 inspections whose score ranks them by a known order, and their true probabilities
    p = np.linspace(0.01, 0.99, 100)
    p_true = np.linspace(0.0, 0.5, 100)[::-1]  # the true risk is highest where the score is lowest
    y = (p_true > 0.25).astype(float)
    # When the cell's metrics are computed with the truth
    cell = study.cell_metrics(y, p, seed=1, p_true=p_true)
    # Then the expected precision@10 % is the mean true probability of the 10 highest scores
    assert cell["expected_precision_at_10pct"][0] == pytest.approx(p_true[-10:].mean())
    assert cell["spearman"][0] == pytest.approx(-1.0)
    assert cell["expected_precision_at_10pct"].shape == (study.RESAMPLES + 1,)
    # and without it only the realised metrics are there
    assert set(study.cell_metrics(y, p, seed=1)) == {"roc_auc", "precision_at_10pct"}


def test_scored_inspections_carry_the_true_probability_but_no_identifiers() -> None:
    # Given a backtest's scores of two inspections × two areas and the world's truth in another order
    scores = pl.DataFrame(
        {
            "inspection_id": ["I-1", "I-1", "I-2", "I-2"],
            "risk_area": ["tillganglighet", "personcentrering"] * 2,
            "unit_id": ["U-1", "U-1", "U-2", "U-2"],
            "decision_date": [dt.date(2024, 3, 1)] * 2 + [dt.date(2021, 5, 1)] * 2,
            "is_random": [True, True, False, False],
            "deficiency": [1, 0, 0, 1],
            "p_v1": [0.9, 0.2, 0.4, 0.6],
        }
    )
    units = pl.DataFrame({"unit_id": ["U-1", "U-2"], "region_code": ["01", "03"]})
    truth = pl.DataFrame(
        {
            "inspection_id": ["I-2", "I-2", "I-1", "I-1"],
            "risk_area": ["personcentrering", "tillganglighet"] * 2,
            "p_deficiency": [0.4, 0.3, 0.2, 0.1],
            "p_serious": [0.0] * 4,
        }
    )
    # When they are turned into the bench's rows with the truth
    rows = study.scored_inspections(
        scores, units, "v1", ["01"], "shifted 7", truth=study.true_probabilities(truth)
    )
    # Then each row has its own inspection × area's true probability, and no identifier column
    got = {(r["year"], r["risk_area"]): r["p_true"] for r in rows.iter_rows(named=True)}
    assert got == {
        (2024, "personcentrering"): 0.2,
        (2024, "tillganglighet"): 0.1,
        (2021, "personcentrering"): 0.4,
        (2021, "tillganglighet"): 0.3,
    }
    assert not {"inspection_id", "unit_id", "region_code"} & set(rows.columns)
    assert rows.filter(pl.col("year") == 2024).get_column("group").to_list() == ["regions", "regions"]


def test_drops_measure_a_fall_of_the_expected_precision_in_the_regions_only() -> None:
    # Given cells whose expected precision falls by 0.2 in the regions after the change and not in the rest
    def cell(value: float) -> dict[str, np.ndarray]:
        return {"expected_precision_at_10pct": np.full(study.RESAMPLES + 1, value)}

    cells = {
        ("w", "tillganglighet", "all", group, year): cell(
            0.5 - (0.2 if group == "regions" and year > 2023 else 0)
        )
        for group in study.GROUPS
        for year in (2021, 2022, 2024, 2025)
    }
    # When the drops are measured on that metric
    rows = study.drops(
        cells=cells,
        worlds=["w"],
        pairs=[],
        areas=["tillganglighet"],
        before=[2021, 2022],
        after=[2024, 2025],
        metrics=["expected_precision_at_10pct"],
    )
    # Then the difference-in-differences is −0.2 and the population without cells has none
    within = {row["population"]: row for row in rows if row["comparison"] == "within"}
    assert within["all"]["metric"] == "expected_precision_at_10pct"
    assert within["all"]["difference"]["value"] == pytest.approx(-0.2)
    assert within["all"]["change_rest"]["value"] == pytest.approx(0.0)
    assert within["random"]["difference"] is None
