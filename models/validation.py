"""Rolling-origin temporal validation: yearly folds, never random K-fold.

For test year Y a model is fitted on inspections *decided* before 1 January Y−1, stopped early and
calibrated on inspections started in Y−1 and decided before 1 January Y (the held-out year), and
tested on inspections started in Y. With ``fit_on_all_labelled`` (the default) the trees are then
grown again on every inspection decided before 1 January Y (:meth:`Split.refit_filter`), with the
number of rounds found by early stopping and the calibrator fitted on the held-out year. No training
or held-out row has a decision date on or after the test fold's start, so no label from the test
period can leak into the model.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl


@dataclass(frozen=True)
class Split:
    """One temporal split: fit | held-out (early stopping + calibration) | test."""

    name: str
    held_out_start: dt.date
    test_start: dt.date
    test_end: dt.date

    def fit_filter(self) -> pl.Expr:
        """Rows the trees are fitted on: decided before the held-out period starts."""
        return pl.col("decision_date") < self.held_out_start

    def held_out_filter(self) -> pl.Expr:
        """Rows for early stopping and calibration: started in the held-out period, decided before test."""
        return (
            (pl.col("start_date") >= self.held_out_start)
            & (pl.col("start_date") < self.test_start)
            & (pl.col("decision_date") < self.test_start)
        )

    def refit_filter(self) -> pl.Expr:
        """Rows the trees are grown on when every labelled inspection is used: decided before the test."""
        return pl.col("decision_date") < self.test_start

    def test_filter(self) -> pl.Expr:
        """Rows the split is evaluated on: started in [test_start, test_end)."""
        return (pl.col("start_date") >= self.test_start) & (pl.col("start_date") < self.test_end)


def yearly_split(test_year: int) -> Split:
    """The split whose test fold is calendar year ``test_year``."""
    return Split(
        name=str(test_year),
        held_out_start=dt.date(test_year - 1, 1, 1),
        test_start=dt.date(test_year, 1, 1),
        test_end=dt.date(test_year + 1, 1, 1),
    )


def final_split(as_of: dt.date) -> Split:
    """The split of the model that is logged and served: held-out = the year before ``as_of``."""
    return Split(
        name="final",
        held_out_start=as_of.replace(year=as_of.year - 1),
        test_start=as_of,
        test_end=as_of,
    )


def rolling_origin_splits(
    start_years: list[int], *, evaluation_years: int, min_train_years: int
) -> list[Split]:
    """Yearly test folds over the last ``evaluation_years`` years that have enough history.

    A test year Y qualifies when at least ``min_train_years`` years of inspections start before it
    (one of them is the held-out year).

    Parameters
    ----------
    start_years
        Calendar years in which labelled inspections started (complete years only).
    """
    years = sorted(set(start_years))
    if not years:
        return []
    candidates = [y for y in years if y - years[0] >= min_train_years]
    return [yearly_split(year) for year in candidates[-evaluation_years:]]
