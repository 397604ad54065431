"""Evaluation plots (matplotlib, Agg backend): reliability diagrams and precision curves, in Swedish.

Titles, legends and axes name what they show in Swedish, with area names from the configuration and
percentages with a decimal comma, because the report that embeds them is read by planners.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import polars as pl
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from engine.config import Config
from models.evaluation import SCORER_LABELS, SCORERS, population_filter

CURVE_FRACTIONS = np.linspace(0.02, 0.5, 25)
COLOURS = {
    "model": "#1f4e79",
    "oracle": "#7f7f7f",
    "random": "#c00000",
    "complaints": "#ed7d31",
    "banding": "#70ad47",
    "logistic": "#7030a0",
}


POPULATION_SV = {"random": "slumpvis utvalda tillsyner", "all": "alla tillsyner"}
AREA_COLOURS = ("#1f4e79", "#c55a11", "#548235", "#7030a0", "#bf9000", "#2e75b6", "#7f7f7f", "#c00000")


def percent_comma(value: float, _position: object = None) -> str:
    """An axis label of a share in Swedish: ``0.25`` → ``25 %`` (decimal comma when one is needed)."""
    text = f"{value * 100:.1f}".rstrip("0").rstrip(".").replace(".", ",")
    return f"{text}\u00a0%"


def _percent_axes(axis: Axes, *, x: bool, y: bool) -> None:
    if x:
        axis.xaxis.set_major_formatter(FuncFormatter(percent_comma))
    if y:
        axis.yaxis.set_major_formatter(FuncFormatter(percent_comma))


def reliability_figure(
    reliability: pl.DataFrame, population: str, area_names: Mapping[str, str] | None = None
) -> Figure:
    """Observed deficiency rate against mean predicted probability, one line per risk area, and below it
    the number of inspections in each probability bin (how much each point rests on)."""
    names = dict(area_names or {})
    figure, (axis, counts) = plt.subplots(
        2, 1, figsize=(6, 6.4), sharex=True, gridspec_kw={"height_ratios": [3, 1.3]}
    )
    axis.plot([0, 1], [0, 1], linestyle="--", color="#999999", label="Perfekt kalibrering")
    subset = reliability.filter(pl.col("population") == population)
    bottom: dict[float, float] = {}  # bin → inspections stacked so far, and the bin's upper edge
    upper: dict[float, float] = {}
    for index, ((area,), rows) in enumerate(subset.group_by("risk_area", maintain_order=True)):
        colour = AREA_COLOURS[index % len(AREA_COLOURS)]
        label = names.get(str(area), str(area))
        axis.plot(rows["mean_predicted"], rows["observed_rate"], marker="o", color=colour, label=label)
        lows, highs, ns = rows["bin_lower"].to_list(), rows["bin_upper"].to_list(), rows["n"].to_list()
        starts = [bottom.get(low, 0.0) for low in lows]
        counts.bar(
            lows, ns, width=[h - lo for lo, h in zip(lows, highs, strict=True)], bottom=starts,
            align="edge", color=colour, edgecolor="white", linewidth=0.5,
        )  # fmt: skip
        for low, high, n in zip(lows, highs, ns, strict=True):
            bottom[low] = bottom.get(low, 0.0) + n
            upper[low] = high
    for low, total in bottom.items():
        middle = (low + upper[low]) / 2
        counts.annotate(f"{int(total)}", (middle, total), ha="center", va="bottom", fontsize=7)
    axis.set_ylabel("Observerad andel med brist")
    axis.set_title(f"Tillförlitlighetsdiagram\n{POPULATION_SV.get(population, population)}", fontsize=11)
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1)
    _percent_axes(axis, x=False, y=True)
    axis.legend(fontsize=7)
    counts.set_xlabel("Predicerad sannolikhet för brist (medel i intervallet)")
    counts.set_ylabel("Antal tillsyner")
    counts.set_ylim(0, max(bottom.values(), default=1) * 1.25)
    _percent_axes(counts, x=True, y=False)
    figure.tight_layout()
    return figure


def _precision_curve(frame: pl.DataFrame, score: str) -> np.ndarray:
    """Fold-wise precision at each fraction in CURVE_FRACTIONS (hits / selected over folds).

    Each fold is sorted once; the hits among its top k are the running count of positives at row k.
    """
    # The label the area's ranking target is evaluated against (deficiency before targets).
    label = "label" if "label" in frame.columns else "deficiency"
    hits = np.zeros(CURVE_FRACTIONS.size)
    selected = np.zeros(CURVE_FRACTIONS.size)
    for fold in frame.partition_by("fold"):
        k = np.maximum(1, np.ceil(CURVE_FRACTIONS * fold.height).astype(np.int64))
        ranked = fold.sort(score, descending=True).get_column(label).fill_null(0).cast(pl.Float64)
        hits += ranked.cum_sum().to_numpy()[k - 1]
        selected += k
    with np.errstate(invalid="ignore"):
        return np.where(selected > 0, hits / selected, np.nan)


def precision_curve_figure(
    predictions: pl.DataFrame, area: str, population: str, area_name: str | None = None
) -> Figure:
    """Precision among the top k % for k from 2 % to 50 % of inspected units: model, facit and baselines."""
    figure, axis = plt.subplots(figsize=(6, 4))
    frame = predictions.filter(population_filter(population) & (pl.col("risk_area") == area))
    drawn = 0
    for scorer in SCORERS:
        column = f"score_{scorer}"
        if scorer not in COLOURS:  # the other model families' figures are in the tables, not the chart
            continue
        if frame.is_empty() or frame.get_column(column).is_null().all():
            continue
        axis.plot(
            CURVE_FRACTIONS,
            _precision_curve(frame, column),
            label=SCORER_LABELS[scorer],
            color=COLOURS[scorer],
        )
        drawn += 1
    axis.set_xlabel("Andel av de granskade enheterna som väljs, högst rankade först")
    axis.set_ylabel("Andel med brist bland de valda")
    axis.set_title(
        f"{area_name or area}\nAndel med brist bland de högst rankade, "
        f"{POPULATION_SV.get(population, population)}",
        fontsize=10,
    )
    _percent_axes(axis, x=True, y=True)
    if drawn:
        axis.legend(fontsize=7)
    else:  # no inspection of this population in the test folds: say so instead of an empty legend
        axis.text(
            0.5, 0.5, f"Inga {POPULATION_SV.get(population, population)} i teståren",
            ha="center", va="center", transform=axis.transAxes, fontsize=9,
        )  # fmt: skip
    figure.tight_layout()
    return figure


def run_figures(predictions: pl.DataFrame, reliability: pl.DataFrame, config: Config) -> dict[str, Figure]:
    """Every figure a training run logs, by artifact name (titles and legends in Swedish)."""
    names = {area.id: area.name_sv for area in config.risk_areas}
    figures = {
        f"reliability_{population}": reliability_figure(reliability, population, names)
        for population in ("random", "all")
    }
    for area in config.risk_area_ids:
        figures[f"precision_at_k_{area}"] = precision_curve_figure(predictions, area, "random", names[area])
        figures[f"precision_at_k_{area}_all"] = precision_curve_figure(predictions, area, "all", names[area])
    return figures


def close(figure: Figure) -> None:
    """Release a figure's memory."""
    plt.close(figure)
