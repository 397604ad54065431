"""Empirical-Bayes shrinkage behaves as stated: fair to small units, between raw and prior, MoM prior."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from features.shrinkage import with_shrunk_rates


def shrink(
    counts: list[float], exposures: list[float], cells: list[str], min_cell_units: int = 3
) -> np.ndarray:
    frame = pl.LazyFrame({"y": counts, "e": exposures, "cell": cells, "all": ["x"] * len(counts)})
    shrunk = with_shrunk_rates(
        frame,
        {"shrunk": pl.col("y")},
        pl.col("e"),
        cell=["cell"],
        population=["all"],
        min_cell_units=min_cell_units,
    )
    return shrunk.collect()["shrunk"].to_numpy()


def peer_world() -> tuple[list[float], list[float]]:
    """Twenty peers with varying rates, then a small unit (1 event / 0.1) and a large steady one."""
    rng = np.random.default_rng(3)
    exposures = rng.uniform(0.5, 2.0, 20)
    counts = rng.poisson(exposures * rng.gamma(4.0, 1.0, 20)).astype(float)
    return [*counts, 1.0, 12.0], [*exposures, 0.1, 2.0]


def test_small_unit_with_one_event_ranks_below_large_unit_with_steady_higher_signal() -> None:
    # given a unit of 1,000 listed (exposure 0.1) with 1 complaint (raw 10 per 10k)
    # and a unit of 20,000 listed (exposure 2.0) with 12 complaints (raw 6 per 10k)
    counts, exposures = peer_world()
    shrunk = shrink(counts, exposures, ["c"] * len(counts))
    raw_small, raw_large = counts[-2] / exposures[-2], counts[-1] / exposures[-1]
    assert raw_small > raw_large, "precondition: the small unit's raw rate is higher"
    # then the shrunk rates reverse the order
    assert shrunk[-2] < shrunk[-1], (
        f"small unit {shrunk[-2]:.2f} should rank below large unit {shrunk[-1]:.2f}"
    )


def test_shrunk_rate_lies_between_raw_rate_and_prior_mean() -> None:
    counts, exposures = peer_world()
    shrunk = shrink(counts, exposures, ["c"] * len(counts))
    prior = sum(counts) / sum(exposures)
    raw = np.array(counts) / np.array(exposures)
    low, high = np.minimum(raw, prior), np.maximum(raw, prior)
    assert np.all((shrunk >= low - 1e-12) & (shrunk <= high + 1e-12)), "a shrunk rate left [raw, prior]"


def test_more_exposure_at_the_same_raw_rate_stays_closer_to_the_raw_rate() -> None:
    counts, exposures = peer_world()
    # two extra units with the same raw rate 8.0, exposures 0.25 and 4.0
    shrunk = shrink([*counts, 2.0, 32.0], [*exposures, 0.25, 4.0], ["c"] * (len(counts) + 2))
    assert abs(shrunk[-1] - 8.0) < abs(shrunk[-2] - 8.0), "larger exposure must be shrunk less"


def test_prior_strength_follows_the_method_of_moments() -> None:
    # given a hand-computable cell
    counts, exposures = [0.0, 2.0, 10.0, 4.0], [1.0, 1.0, 2.0, 4.0]
    y, e = np.array(counts), np.array(exposures)
    mean = y.sum() / e.sum()  # 16 / 8 = 2
    variance = (y**2 / e).sum() / e.sum() - mean**2  # (0 + 4 + 50 + 4) / 8 - 4 = 3.25
    between = variance - mean / (e.sum() / len(e))  # 3.25 - 2 / 2 = 2.25
    strength = mean / between
    expected = (y + strength * mean) / (e + strength)
    # then the expression reproduces (y + α m) / (e + α) with α = m / τ²
    np.testing.assert_allclose(shrink(counts, exposures, ["c"] * 4), expected, rtol=1e-12)


def test_no_between_unit_variance_shrinks_every_unit_to_the_mean() -> None:
    # equal raw rates: the moment estimate of τ² is negative, so the prior dominates completely
    shrunk = shrink([1.0, 2.0, 4.0], [1.0, 2.0, 4.0], ["c"] * 3)
    np.testing.assert_allclose(shrunk, [1.0, 1.0, 1.0])


def test_small_cell_borrows_the_population_prior() -> None:
    # given a cell "big" of four units and a cell "tiny" of one unit with 0 events
    counts, exposures = [0.0, 2.0, 10.0, 4.0, 0.0], [1.0, 1.0, 2.0, 4.0, 1.0]
    shrunk = shrink(counts, exposures, ["big"] * 4 + ["tiny"], min_cell_units=3)
    # then the tiny cell's unit is pulled toward the population mean (16/9), not its own 0
    assert shrunk[-1] > 0.5, f"the lone unit should borrow the population prior, got {shrunk[-1]}"
    own_cell_only = shrink(counts, exposures, ["big"] * 4 + ["tiny"], min_cell_units=1)
    assert own_cell_only[-1] == pytest.approx(0.0), "with its own prior of 0 the unit stays at 0"


def test_a_population_without_small_cells_is_shrunk_as_when_alone() -> None:
    # given two planning dates: at the first a tiny cell borrows the population's prior, at the
    # second every cell is big enough for its own
    counts, exposures = [0.0, 2.0, 10.0, 4.0, 0.0], [1.0, 1.0, 2.0, 4.0, 1.0]
    frame = pl.LazyFrame(
        {
            "y": counts * 2,
            "e": exposures * 2,
            "as_of": ["first"] * 5 + ["second"] * 5,
            "cell": ["big"] * 4 + ["tiny"] + ["big"] * 5,
        }
    )
    # when both dates are shrunk together and each alone
    both = with_shrunk_rates(
        frame,
        {"shrunk": pl.col("y")},
        pl.col("e"),
        cell=["as_of", "cell"],
        population=["as_of"],
        min_cell_units=3,
    ).collect()
    alone = [
        shrink(counts, exposures, ["big"] * 4 + ["tiny"], min_cell_units=3),
        shrink(counts, exposures, ["big"] * 5, min_cell_units=3),
    ]
    # then each date's rates are those it has alone: the borrowed prior where a cell is small, the
    # cell's own where none is
    for date, expected in zip(["first", "second"], alone, strict=True):
        got = both.filter(pl.col("as_of") == date)["shrunk"].to_numpy()
        np.testing.assert_array_equal(got, expected, err_msg=f"rates at {date} differ from that date alone")


def test_zero_events_everywhere_gives_zero_not_null() -> None:
    shrunk = shrink([0.0, 0.0, 0.0], [1.0, 2.0, 0.0], ["c"] * 3)
    np.testing.assert_allclose(shrunk, [0.0, 0.0, 0.0])
