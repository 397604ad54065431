"""Calibration maps raw scores to probabilities per risk area, and its error is read against label noise."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from models.calibration import fit_calibrator
from models.calibration_metrics import batch_ece, bin_indicators, ece_interval, ece_noise_band
from models.metrics import expected_calibration_error


def _two_areas(seed: int = 0, n: int = 4000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw scores with one shape in both areas, but area b's true rate is 3× higher in odds."""
    rng = np.random.default_rng(seed)
    areas = np.where(rng.random(n) < 0.5, "a", "b")
    raw = rng.uniform(0.05, 0.6, size=n)
    logit = np.log(raw / (1 - raw)) + np.where(areas == "b", np.log(3.0), -np.log(2.0))
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    return raw, y, areas


def test_calibration_by_area_matches_each_areas_rate_where_one_map_cannot() -> None:
    # Given raw scores that under-state area b's risk and over-state area a's
    raw, y, areas = _two_areas()
    # When calibrating once for all rows and once per area
    pooled = fit_calibrator(raw, y, "sigmoid").transform(raw)
    by_area = fit_calibrator(raw, y, "sigmoid", groups=areas).transform(raw, areas)
    # Then only the per-area map reproduces each area's observed rate
    for area in ("a", "b"):
        member = areas == area
        observed = y[member].mean()
        assert by_area[member].mean() == pytest.approx(observed, abs=0.01), (
            f"area {area} per-area calibration"
        )
        assert abs(pooled[member].mean() - observed) > 0.05, f"one shared map should miss area {area}"
    assert expected_calibration_error(y, by_area) < expected_calibration_error(y, pooled)


@pytest.mark.parametrize("method", ["sigmoid", "isotonic"], ids=["sigmoid", "isotonic"])
def test_calibration_by_area_keeps_the_ranking_within_an_area(method: str) -> None:
    raw, y, areas = _two_areas(seed=1)
    calibrator = fit_calibrator(raw, y, method, groups=areas)  # type: ignore[arg-type]
    for area in ("a", "b"):
        member = areas == area
        order = np.argsort(raw[member])
        calibrated = calibrator.transform(raw[member], areas[member])[order]
        assert np.all(np.diff(calibrated) >= 0), f"{method}: calibration reordered area {area}"


def test_a_calibrator_fitted_per_area_needs_known_areas() -> None:
    raw, y, areas = _two_areas(n=400)
    calibrator = fit_calibrator(raw, y, "sigmoid", groups=areas)
    with pytest.raises(ValueError, match="fitted per group"):
        calibrator.transform(raw)
    with pytest.raises(ValueError, match=r"unknown calibration group\(s\) \['c'\]"):
        calibrator.transform(raw[:2], np.array(["a", "c"]))


def test_a_calibrator_without_groups_survives_pickling_unchanged() -> None:
    raw, y, _ = _two_areas(n=400)
    calibrator = fit_calibrator(raw, y, "sigmoid")
    reloaded = pickle.loads(pickle.dumps(calibrator))
    assert np.array_equal(reloaded.transform(raw), calibrator.transform(raw))


def test_batch_ece_with_unit_counts_equals_the_reliability_table_ece() -> None:
    rng = np.random.default_rng(3)
    p = rng.random(500)
    y = (rng.random(500) < p**1.5).astype(float)
    batch = batch_ece(y - p, np.ones((1, 500)), bin_indicators(p, 10))
    assert batch[0] == pytest.approx(expected_calibration_error(y, p, 10))


def test_noise_band_is_what_a_calibrated_model_shows_and_flags_a_miscalibrated_one() -> None:
    # Given predictions that are exactly the truth, and labels drawn from them
    rng = np.random.default_rng(4)
    p = rng.uniform(0.05, 0.95, size=900)
    y = (rng.random(900) < p).astype(float)
    band = ece_noise_band(p, resamples=200, seed=0)
    # Then the true probabilities' ECE lies inside the band a calibrated model shows on 900 rows ...
    assert band.lower <= expected_calibration_error(y, p) <= band.upper
    assert band.estimate > 0.01, "ECE on 900 rows is biased upwards even for the truth"
    # ... and predictions shifted by 0.1 show an ECE far above it
    shifted = np.clip(p + 0.1, 0.0, 1.0)
    assert (
        ece_interval(y, shifted, resamples=200, seed=0).lower
        > ece_noise_band(shifted, resamples=200, seed=0).upper
    )


def test_ece_interval_is_seeded_and_ordered() -> None:
    rng = np.random.default_rng(5)
    p = rng.random(300)
    y = (rng.random(300) < p).astype(float)
    folds = np.repeat(["2023", "2024", "2025"], 100)
    first = ece_interval(y, p, groups=folds, resamples=100, seed=9)
    again = ece_interval(y, p, groups=folds, resamples=100, seed=9)
    assert first == again, "the same seed must give the same interval"
    assert first.lower <= first.upper
    with pytest.raises(ValueError, match="resamples must be between 10 and 10000, got 5"):
        ece_noise_band(p, resamples=5, seed=0)
