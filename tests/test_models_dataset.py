"""Training rows are point-in-time, folds are temporal, and IPW recovers the population rate."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import polars as pl
import pytest

from models.dataset import inspection_as_of, labelled_inspections, training_rows
from models.validation import final_split, rolling_origin_splits, yearly_split


def _inspections(rows: Sequence[tuple[str, str, dt.date, dt.date, str, str, float | None]]) -> pl.LazyFrame:
    return (
        pl.DataFrame(
            rows,
            schema={
                "inspection_id": pl.String,
                "unit_id": pl.String,
                "start_date": pl.Date,
                "decision_date": pl.Date,
                "finding": pl.String,
                "selection": pl.String,
                "inclusion_probability": pl.Float64,
            },
            orient="row",
        )
        .with_columns(pl.lit("tillganglighet").alias("risk_area"))
        .lazy()
    )


@pytest.mark.parametrize(
    ("start", "lead", "expected"),
    [
        (dt.date(2024, 3, 15), 60, dt.date(2024, 1, 1)),
        (dt.date(2024, 3, 1), 0, dt.date(2024, 3, 1)),
        (dt.date(2024, 1, 10), 60, dt.date(2023, 11, 1)),
    ],
    ids=["mid-month", "no-lead", "over-new-year"],
)
def test_as_of_is_the_first_of_the_month_before_the_lead_time(
    start: dt.date, lead: int, expected: dt.date
) -> None:
    frame = pl.DataFrame({"start_date": [start]}).select(inspection_as_of(pl.col("start_date"), lead))
    as_of = frame.item()
    assert as_of == expected
    assert as_of <= start - dt.timedelta(days=lead), "as_of must never be later than start − lead time"


def test_labels_weights_and_cut_off() -> None:
    inspections = _inspections(
        [
            ("a", "u1", dt.date(2023, 5, 1), dt.date(2023, 6, 1), "serious", "random", 0.25),
            ("b", "u2", dt.date(2023, 5, 1), dt.date(2023, 6, 1), "none", "complaint_triggered", None),
            ("c", "u3", dt.date(2023, 12, 1), dt.date(2024, 2, 1), "deficiency", "random", 0.25),
        ]
    )
    rows = labelled_inspections(inspections, lead_time_days=60, decided_before=dt.date(2024, 1, 1)).collect()
    assert rows["inspection_id"].to_list() == ["a", "b"], "c was decided after the cut-off"
    assert rows["deficiency"].to_list() == [1, 0]
    assert rows["serious"].to_list() == [1, 0]
    assert rows["weight"].to_list() == [4.0, 1.0], "random → 1/π; unknown π → weight 1"
    assert rows["weight_known"].to_list() == [True, False]


def test_inverse_probability_weights_recover_the_population_rate() -> None:
    # Given a population where stratum A (10 % of units) has a 90 % deficiency rate and B 10 %,
    # and a stratified random sample that over-samples A (π_A = 0.5, π_B = 0.05)
    rng = np.random.default_rng(0)
    n_a, n_b = 1000, 9000
    population_rate = (0.9 * n_a + 0.1 * n_b) / (n_a + n_b)
    sample = []
    for stratum, n, pi, rate in (("A", n_a, 0.5, 0.9), ("B", n_b, 0.05, 0.1)):
        for i in np.flatnonzero(rng.random(n) < pi):
            finding = "deficiency" if rng.random() < rate else "none"
            sample.append(
                (
                    f"{stratum}{i}",
                    f"{stratum}{i}",
                    dt.date(2023, 5, 1),
                    dt.date(2023, 6, 1),
                    finding,
                    "random",
                    pi,
                )
            )
    rows = labelled_inspections(_inspections(sample), lead_time_days=60).collect()
    # When weighting by 1/π
    labels = rows["deficiency"].to_numpy().astype(float)
    weights = rows["weight"].to_numpy()
    weighted = float((labels * weights).sum() / weights.sum())
    naive = float(labels.mean())
    # Then the weighted rate is the population rate, the naive one is far off
    assert weighted == pytest.approx(population_rate, abs=0.02), f"IPW rate {weighted:.3f}"
    assert abs(naive - population_rate) > 0.2, f"the unweighted rate {naive:.3f} should be biased"


def test_training_rows_take_features_at_their_own_as_of_never_later() -> None:
    labelled = labelled_inspections(
        _inspections([("a", "u1", dt.date(2023, 5, 20), dt.date(2023, 6, 1), "none", "random", 0.5)]),
        lead_time_days=60,
    )
    features = pl.LazyFrame(
        {
            "unit_id": ["u1", "u1", "u1"],
            "as_of": [dt.date(2023, 2, 1), dt.date(2023, 3, 1), dt.date(2023, 5, 1)],
            "complaints_12m": [1.0, 2.0, 99.0],
        }
    )
    rows = training_rows(labelled, features).collect()
    assert rows["as_of"].to_list() == [dt.date(2023, 3, 1)]
    assert rows["complaints_12m"].to_list() == [2.0], "a feature known after as_of leaked into the row"


def test_rolling_origin_folds_never_train_on_decisions_from_the_test_period(
    toy_training_rows: pl.DataFrame,
) -> None:
    years = sorted({d.year for d in toy_training_rows["start_date"].to_list()})
    splits = rolling_origin_splits(years, evaluation_years=3, min_train_years=3)
    assert [s.name for s in splits] == ["2020", "2021", "2022"]
    for split in splits:
        fit = toy_training_rows.filter(split.fit_filter())
        held = toy_training_rows.filter(split.held_out_filter())
        test = toy_training_rows.filter(split.test_filter())
        assert {d.year for d in test["start_date"].to_list()} == {int(split.name)}, "a test fold mixes years"
        assert fit["decision_date"].max() < split.held_out_start  # type: ignore[operator]
        assert held["decision_date"].max() < split.test_start  # type: ignore[operator]
        assert {d.year for d in held["start_date"].to_list()} == {int(split.name) - 1}
        assert set(test["inspection_id"]).isdisjoint(set(fit["inspection_id"]) | set(held["inspection_id"]))


def test_final_split_holds_out_the_year_before_the_cut_off() -> None:
    split = final_split(dt.date(2026, 1, 1))
    assert split.held_out_start == dt.date(2025, 1, 1)
    assert split == yearly_split(2026).__class__(
        "final", dt.date(2025, 1, 1), dt.date(2026, 1, 1), dt.date(2026, 1, 1)
    )


def test_inverse_probability_weights_are_truncated_at_max_weight() -> None:
    inspections = _inspections(
        [
            ("a", "u1", dt.date(2023, 5, 1), dt.date(2023, 6, 1), "none", "complaint_triggered", 0.002),
            ("b", "u2", dt.date(2023, 5, 1), dt.date(2023, 6, 1), "none", "random", 0.1),
        ]
    )
    rows = labelled_inspections(inspections, lead_time_days=60, max_weight=20.0).collect()
    assert rows["weight"].to_list() == [20.0, 10.0], "1/0.002 = 500 must be truncated to 20; 1/0.1 kept"
