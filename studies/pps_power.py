"""How much power a pps design gives the model-vs-baseline verdict, against a random sample of the same size.

Usage::

    .venv/bin/python -m studies.pps_power PREDICTIONS.parquet [--per-fold 134] [--floor 0.1] \
        [--draws 200] [--resamples 200] [--seed 1]

``PREDICTIONS.parquet`` is a training run's ``evaluation/predictions.parquet`` of a synthetic world (it
needs ``score_oracle``, the true probability). Its test-fold inspections of each area serve as a finite
population with known risk. Each draw

- takes ``--per-fold`` inspections per test fold, either as a simple random sample or by the pps design
  of the plans (:func:`serving.sampling.pps_probabilities` on the model's score, at least ``--floor``,
  drawn by :func:`serving.sampling.systematic_sample`), so both designs have the same number;
- draws the findings afresh from the true probabilities (so a draw carries both sampling and label
  noise, as a new year of inspections would);
- measures precision@10 % of the model minus that of the area's best baseline (the one with the highest
  expected precision@10 % on the whole population) on the sample, unweighted for the random sample and
  weighted by 1/π (Hájek) for the pps sample, with the minimum detectable difference from ``--resamples``
  bootstrap resamples within folds, as ``tillsynsrisk train`` does.

It prints, per area and design, the population's expected difference (the mean true probability among
each scorer's top 10 %), the mean estimate over the draws (bias), the mean MDD, and how often the 95 %
interval lay wholly above zero (the power the design had for the difference that is there).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np
import polars as pl

from models.metrics import (
    bootstrap_counts,
    bootstrap_standard_error,
    minimum_detectable_difference,
    paired_difference_resamples,
    percentile_interval,
    ranking_metrics,
)
from serving.sampling import pps_probabilities, systematic_sample

BASELINES = ("complaints", "banding", "logistic")
FRACTION = 0.1
KEY = "precision_at_10pct"


def _population_difference(frame: pl.DataFrame, baseline: str) -> float:
    """Expected precision@10 % of the model minus the baseline's on the whole population (per fold)."""
    oracle, groups = frame["score_oracle"].to_numpy(), frame["fold"].to_numpy()
    model = ranking_metrics(oracle, frame["score_model"].to_numpy(), [FRACTION], groups, with_auc=False)
    other = ranking_metrics(oracle, frame[f"score_{baseline}"].to_numpy(), [FRACTION], groups, with_auc=False)
    return model[KEY] - other[KEY]


def _best_baseline(frame: pl.DataFrame) -> str:
    oracle, groups = frame["score_oracle"].to_numpy(), frame["fold"].to_numpy()
    expected = {
        b: ranking_metrics(oracle, frame[f"score_{b}"].to_numpy(), [FRACTION], groups, with_auc=False)[KEY]
        for b in BASELINES
    }
    return max(expected, key=lambda b: expected[b])


def _draw(
    frame: pl.DataFrame, design: str, per_fold: int, floor: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray | None]:
    """Row indices of one sample (per fold) and their weights (None for the random sample)."""
    rows, weights = [], []
    folds = frame["fold"].to_numpy()
    for fold in np.unique(folds):
        members = np.flatnonzero(folds == fold)
        size = min(per_fold, members.size)
        if design == "random":
            rows.append(np.sort(rng.choice(members, size=size, replace=False)))
            continue
        pi = pps_probabilities(frame["score_model"].to_numpy()[members], size, floor=floor)
        chosen = systematic_sample(pi, rng.permutation(members.size), rng)
        rows.append(members[chosen])
        weights.append(1.0 / pi[chosen])
    return np.concatenate(rows), (np.concatenate(weights) if weights else None)


def _area_rows(
    frame: pl.DataFrame, args: argparse.Namespace, rng: np.random.Generator
) -> list[dict[str, object]]:
    baseline = _best_baseline(frame)
    truth = _population_difference(frame, baseline)
    oracle = frame["score_oracle"].to_numpy()
    out = []
    for design in ("random", "pps"):
        estimates, mdds, above = [], [], 0
        for _ in range(args.draws):
            rows, weights = _draw(frame, design, args.per_fold, args.floor, rng)
            y = (rng.random(rows.size) < oracle[rows]).astype(float)
            groups = frame["fold"].to_numpy()[rows]
            counts = bootstrap_counts(groups, args.resamples, int(rng.integers(1 << 31)))
            point, resampled = paired_difference_resamples(
                y,
                frame["score_model"].to_numpy()[rows],
                frame[f"score_{baseline}"].to_numpy()[rows],
                [FRACTION],
                groups=groups,
                counts=counts,
                weights=weights,
            )[KEY]
            estimates.append(point)
            mdds.append(minimum_detectable_difference(bootstrap_standard_error(resampled)))
            above += percentile_interval(point, resampled).lower > 0
        out.append(
            {
                "design": design,
                "baseline": baseline,
                "population_difference": truth,
                "mean_estimate": float(np.mean(estimates)),
                "mean_mdd": float(np.mean(mdds)),
                "share_above_zero": above / args.draws,
            }
        )
    return out


def main(argv: Sequence[str] | None = None) -> None:
    """Print the comparison as a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("predictions")
    parser.add_argument("--per-fold", type=int, default=134)
    parser.add_argument("--floor", type=float, default=0.1)
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--resamples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    predictions = pl.read_parquet(args.predictions)
    rng = np.random.default_rng(args.seed)
    print(
        "| area | population n | design | best baseline | population difference | mean estimate | mean MDD "
        "| share of 95 % intervals above 0 |\n|---|---:|---|---|---:|---:|---:|---:|"
    )
    for (area,), frame in predictions.group_by("risk_area", maintain_order=True):
        for row in _area_rows(frame, args, rng):
            print(
                f"| {area} | {frame.height} | {row['design']} | {row['baseline']} | "
                f"{row['population_difference']:+.3f} | {row['mean_estimate']:+.3f} | "
                f"{row['mean_mdd']:.3f} | {row['share_above_zero']:.2f} |"
            )


if __name__ == "__main__":
    main()
