"""Comparing two training runs: metric deltas per area and the drift of their training features.

The one use-case function for ``tillsynsrisk compare`` (:func:`compare_runs`); the command line prints.
Each run is measured on its own test years, so the deltas mix a change of model with a change of years;
:mod:`models.backtest` compares versions on the same inspections.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import polars as pl

from models.jobs import DriftWindows, drift_windows, psi_table
from models.registry import METRICS_ARTIFACT
from models.tracking import Tracking

METRIC_KEY = ("population", "fold", "risk_area", "scorer", "metric")
TRAINING_FEATURES_ARTIFACT = "evaluation/training_features.parquet"


@dataclass(frozen=True)
class RunComparison:
    """What changed from run A to run B."""

    deltas: pl.DataFrame
    """Per population, area, scorer and metric over all test folds: ``a``, ``b`` and ``delta`` (B − A)."""
    psi: pl.DataFrame
    """Population stability index per feature, largest first (:func:`models.jobs.psi_table`)."""
    windows: DriftWindows
    flagged: dict[str, list[str]]
    """Features whose shift is ``major`` and ``moderate``."""

    @property
    def psi_noise(self) -> float:
        """The PSI that sampling noise alone exceeds 1 % of the time at these row counts."""
        return float(self.psi.get_column("noise")[0]) if self.psi.height else math.nan

    def to_dict(self) -> dict[str, Any]:
        return {
            "deltas": self.deltas.to_dicts(),
            "psi": self.psi.to_dicts(),
            "psi_windows": self.windows.to_dict(),
            "flagged": self.flagged,
        }


def metric_deltas(metrics_a: pl.DataFrame, metrics_b: pl.DataFrame) -> pl.DataFrame:
    """The model's and the data's metrics over all test folds, side by side, with B − A."""
    key = list(METRIC_KEY)
    return (
        metrics_a.filter(pl.col("fold") == "all")
        .select(*key, pl.col("value").alias("a"))
        .join(metrics_b.filter(pl.col("fold") == "all").select(*key, pl.col("value").alias("b")), on=key)
        .with_columns((pl.col("b") - pl.col("a")).alias("delta"))
        .filter(pl.col("scorer").is_in(["model", "data"]))
    )


def compare_runs(tracking: Tracking, run_a: str, run_b: str) -> RunComparison:
    """Metric deltas (B − A) per area and the PSI per feature between the runs' training periods.

    Raises ``mlflow.exceptions.MlflowException`` or ``OSError`` when a run lacks its evaluation.
    """
    windows = drift_windows(
        tracking.read_table(run_a, TRAINING_FEATURES_ARTIFACT),
        tracking.read_table(run_b, TRAINING_FEATURES_ARTIFACT),
        dt.date.fromisoformat(tracking.read_json(run_a, "lineage.json")["as_of"]),
        dt.date.fromisoformat(tracking.read_json(run_b, "lineage.json")["as_of"]),
    )
    psi = psi_table(windows.before, windows.after)
    return RunComparison(
        deltas=metric_deltas(
            tracking.read_table(run_a, METRICS_ARTIFACT), tracking.read_table(run_b, METRICS_ARTIFACT)
        ),
        psi=psi,
        windows=windows,
        flagged={
            level: psi.filter(pl.col("shift") == level).get_column("feature").to_list()
            for level in ("major", "moderate")
        },
    )
