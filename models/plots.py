"""Evaluation plots (matplotlib, Agg backend): reliability curves and precision@k curves."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import polars as pl
from matplotlib.figure import Figure

from engine.config import Config
from models.evaluation import SCORERS, population_filter

CURVE_FRACTIONS = np.linspace(0.02, 0.5, 25)
COLOURS = {
    "model": "#1f4e79",
    "oracle": "#7f7f7f",
    "random": "#c00000",
    "complaints": "#ed7d31",
    "banding": "#70ad47",
    "logistic": "#7030a0",
}


def reliability_figure(reliability: pl.DataFrame, population: str) -> Figure:
    """Observed deficiency rate against mean predicted probability, one line per risk area."""
    figure, axis = plt.subplots(figsize=(6, 5))
    axis.plot([0, 1], [0, 1], linestyle="--", color="#999999", label="perfekt kalibrering")
    subset = reliability.filter(pl.col("population") == population)
    for (area,), rows in subset.group_by("risk_area", maintain_order=True):
        axis.plot(rows["mean_predicted"], rows["observed_rate"], marker="o", label=str(area))
    axis.set_xlabel("Predicerad sannolikhet för brist (medel i intervallet)")
    axis.set_ylabel("Observerad andel med brist")
    axis.set_title(f"Tillförlitlighetsdiagram ({population} inspections)")
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1)
    axis.legend(fontsize=7)
    figure.tight_layout()
    return figure


def _precision_curve(frame: pl.DataFrame, score: str) -> np.ndarray:
    """Fold-wise precision at each fraction in CURVE_FRACTIONS (hits / selected over folds)."""
    values = []
    for fraction in CURVE_FRACTIONS:
        hits = selected = 0.0
        for (_,), fold in frame.group_by("fold"):
            k = max(1, int(np.ceil(fraction * fold.height)))
            top = fold.sort(score, descending=True).head(k)
            hits += float(top.get_column("deficiency").sum())
            selected += k
        values.append(hits / selected if selected else np.nan)
    return np.asarray(values)


def precision_curve_figure(predictions: pl.DataFrame, area: str, population: str) -> Figure:
    """precision@k for k from 2 % to 50 % of inspected units: model, oracle and baselines."""
    figure, axis = plt.subplots(figsize=(6, 4))
    frame = predictions.filter(population_filter(population) & (pl.col("risk_area") == area))
    for scorer in SCORERS:
        column = f"score_{scorer}"
        if frame.is_empty() or frame.get_column(column).is_null().all():
            continue
        axis.plot(CURVE_FRACTIONS * 100, _precision_curve(frame, column), label=scorer, color=COLOURS[scorer])
    axis.set_xlabel("Andel av inspekterade enheter som väljs (%)")
    axis.set_ylabel("Precision (andel med brist)")
    axis.set_title(f"{area}: precision@k ({population} inspections)")
    axis.legend(fontsize=7)
    figure.tight_layout()
    return figure


def run_figures(predictions: pl.DataFrame, reliability: pl.DataFrame, config: Config) -> dict[str, Figure]:
    """Every figure a training run logs, by artifact name."""
    figures = {
        f"reliability_{population}": reliability_figure(reliability, population)
        for population in ("random", "all")
    }
    for area in config.risk_area_ids:
        figures[f"precision_at_k_{area}"] = precision_curve_figure(predictions, area, "random")
        figures[f"precision_at_k_{area}_all"] = precision_curve_figure(predictions, area, "all")
    return figures


def close(figure: Figure) -> None:
    """Release a figure's memory."""
    plt.close(figure)
