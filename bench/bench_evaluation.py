"""Benchmark: the evaluation's metrics table (bootstrap intervals, paired differences, calibration).

Usage::

    .venv/bin/python bench/bench_evaluation.py [--rows 75000] [--baseline-rows 4460] [--repeats 3]

``models.evaluation.metrics_table`` on a predictions frame drawn at random with the columns and proportions
of a training run's test rows: three yearly test folds, every risk area, a third of the rows random
selections with unequal inclusion probabilities (so the random population is weighted, as under a ``pps``
plan), two thirds in the probability sample, every scorer's score with some signal. Its cost depends on the
rows, folds, areas, scorers and resamples, not on what the scores mean. ``--rows`` defaults to the national
training's test rows (74,935 for 20,000 units × 10 years), ``--baseline-rows`` to the default world's
(4,460); both are timed in the same process, ``--repeats`` times each, and the ratio of the medians is
reported. Not a timed test: run it on a quiet machine (``flock /tmp/tillsynsrisk-heavy.lock``).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import polars as pl

from engine.config import Config, load_config
from models.evaluation import SCORERS, metrics_table

FOLDS = ("2023", "2024", "2025")


def predictions(rows: int, config: Config, seed: int = 0) -> pl.DataFrame:
    """``rows`` test rows of the shape ``metrics_table`` reads, at random."""
    rng = np.random.default_rng(seed)
    truth = rng.beta(2.0, 5.0, rows)
    deficiency = (rng.random(rows) < truth).astype(np.int8)
    is_random = rng.random(rows) < 0.3
    scores = {
        f"score_{scorer}": np.clip(truth + rng.normal(0.0, 0.1 + 0.05 * index, rows), 0.0, 1.0)
        + rng.random(rows) * 1e-6
        for index, scorer in enumerate(SCORERS)
    }
    return pl.DataFrame(
        {
            "fold": rng.choice(FOLDS, rows),
            "risk_area": rng.choice(config.risk_area_ids, rows),
            "is_random": is_random,
            "probability_sample": is_random | (rng.random(rows) < 0.5),
            "weight": np.where(is_random, rng.uniform(1.0, 8.0, rows), 1.0),
            "deficiency": deficiency,
            "serious": (deficiency == 1) & (rng.random(rows) < 0.3),
            "target": "deficiency",
            "label": deficiency,
            **scores,
            "score_oracle": truth,
            "raw_score": scores["score_model"],
            "p_deficiency": scores["score_model"],
            "p_serious": scores["score_model"] * 0.3,
        }
    ).with_columns(pl.col("serious").cast(pl.Int8))


def seconds(frame: pl.DataFrame, config: Config, repeats: int) -> list[float]:
    """Wall seconds of ``metrics_table`` on ``frame``, ``repeats`` times."""
    out = []
    for _ in range(repeats):
        started = time.perf_counter()
        metrics_table(frame, config)
        out.append(time.perf_counter() - started)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=74_935)
    parser.add_argument("--baseline-rows", type=int, default=4_460)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    config = load_config(None)
    medians = {}
    for label, rows in (("baseline", args.baseline_rows), ("national", args.rows)):
        times = seconds(predictions(rows, config), config, args.repeats)
        medians[label] = statistics.median(times)
        runs = ", ".join(f"{t:.2f}" for t in times)
        print(f"{label}: {rows:,} test rows; metrics_table {runs} s; median {medians[label]:.2f} s")
    print(f"ratio national / baseline: {medians['national'] / medians['baseline']:.1f}x")


if __name__ == "__main__":
    main()
