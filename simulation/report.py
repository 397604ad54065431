"""The simulation's figures, its self-contained HTML report and its MLflow run (house style of report.py)."""

from __future__ import annotations

import base64
import io
import math
from importlib import resources
from typing import Any

import matplotlib

matplotlib.use("Agg")

import jinja2
import matplotlib.pyplot as plt
import numpy as np
import polars as pl
from matplotlib.figure import Figure

from models.tracking import Tracking
from simulation.loop import (
    SimulationResult,
    coverage_summary,
    cumulative_metrics,
    interval,
    summary_table,
)

TEMPLATE = "simulation.html.j2"
HEADLINE_COLUMNS = (
    "findings",
    "serious_findings",
    "worst_decile_share",
    "estimate_rmse",
    "estimate_coverage",
    "exploration_only_rmse",
    "exploration_only_coverage",
)
DESIGN_COLOURS = {
    "top": "#1f4e79",
    "pps": "#70ad47",
    "stratified": "#ed7d31",
    "oracle": "#7f7f7f",
    "random": "#c00000",
}


def _yearly(
    result: SimulationResult, column: str
) -> dict[str, tuple[list[int], list[tuple[float, float, float]]]]:
    series: dict[str, tuple[list[int], list[tuple[float, float, float]]]] = {}
    years = sorted(set(result.metrics["year"].to_list()))
    for design in result.settings.designs:
        frame = result.metrics.filter(pl.col("design") == design)
        values = [
            interval([v for v in frame.filter(pl.col("year") == y)[column].to_list() if v is not None])
            for y in years
        ]
        series[design] = (years, values)
    return series


def _plot_yearly(axis: Any, design: str, years: list[int], values: list[tuple[float, float, float]]) -> None:
    """One design's yearly means with their 95 % intervals as error bars."""
    mean = [v[0] for v in values]
    axis.errorbar(
        years,
        mean,
        yerr=[
            [m - v[1] for m, v in zip(mean, values, strict=True)],
            [v[2] - m for m, v in zip(mean, values, strict=True)],
        ],
        label=design,
        color=DESIGN_COLOURS.get(design),
        marker="o",
        capsize=3,
    )


def findings_figure(result: SimulationResult) -> Figure:
    """Realised findings per design and year: mean and 95 % interval over seeds."""
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for design, (years, values) in _yearly(result, "findings").items():
        _plot_yearly(axis, design, years, values)
    axis.set_xlabel("Planeringsår")
    axis.set_ylabel(f"Brister funna ({result.settings.risk_area})")
    axis.set_title(f"Funna brister per år, {result.settings.capacity} tillsyner (medel, 95 % KI över frön)")
    axis.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    axis.legend(fontsize=8)
    figure.tight_layout()
    return figure


def calibration_figure(result: SimulationResult) -> Figure:
    """Model calibration year on year: ECE against the truth over every unit, and the gap on selections."""
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for axis, column, title in (
        (axes[0], "ece_truth_population", "ECE mot sanningen, alla enheter"),
        (axes[1], "calibration_gap_selected", "Predikterad − sann sannolikhet, valda enheter"),
    ):
        for design, (years, values) in _yearly(result, column).items():
            if all(math.isnan(v[0]) for v in values):
                continue
            _plot_yearly(axis, design, years, values)
        axis.axhline(0, color="#999999", linestyle="--")
        axis.set_title(title, fontsize=10)
        axis.set_xlabel("Planeringsår")
        axis.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        axis.legend(fontsize=8)
    figure.tight_layout()
    return figure


def tradeoff_figure(result: SimulationResult) -> Figure:
    """Expected findings against the estimate's error as the pps floor or top's exploration varies."""
    figure, axis = plt.subplots(figsize=(7, 5))
    curve = result.curve
    for design, error_column, label, style in (
        ("pps", "estimate_rmse", "pps (golv π_min = andel × K/N)", "-o"),
        ("top", "estimate_rmse", "top (hela urvalet, Hájek)", "-s"),
        ("top", "exploration_only_rmse", "top (bara slumpandelen)", ":s"),
    ):
        frame = curve.filter(pl.col("design") == design)
        if frame.is_empty():
            continue
        rows = []
        for (setting,), part in frame.group_by("setting", maintain_order=True):
            errors = [v for v in part[error_column].to_list() if v is not None]
            if not errors:
                continue
            rows.append((float(setting), interval(part["expected_findings"].to_list()), interval(errors)))
        rows.sort()
        if not rows:
            continue
        x = [r[2][0] * 100 for r in rows]
        y = [r[1][0] for r in rows]
        axis.errorbar(
            x,
            y,
            xerr=[[(r[2][0] - r[2][1]) * 100 for r in rows], [(r[2][2] - r[2][0]) * 100 for r in rows]],
            yerr=[[r[1][0] - r[1][1] for r in rows], [r[1][2] - r[1][0] for r in rows]],
            fmt=style,
            label=label,
            color=DESIGN_COLOURS[design],
            capsize=2,
        )
        for (setting, _, _), xi, yi in zip(rows, x, y, strict=True):
            axis.annotate(f"{setting:g}", (xi, yi), textcoords="offset points", xytext=(4, 4), fontsize=7)
    axis.set_xlabel("Skattningens fel (RMSE, procentenheter)")
    axis.set_ylabel("Förväntade brister (sanna sannolikheter)")
    axis.set_title("Avvägning: hitta brister mot skatta förekomst (år 1, medel och 95 % KI)")
    axis.legend(fontsize=8)
    figure.tight_layout()
    return figure


def coverage_figure(result: SimulationResult) -> Figure:
    """Share of units never inspected over the simulated years, by region, per design."""
    figure, axis = plt.subplots(figsize=(9, 4))
    regions = result.coverage.filter(pl.col("attribute") == "region_code")
    groups = sorted(set(regions["group"].to_list()))
    width = 0.8 / max(len(result.settings.designs), 1)
    for i, design in enumerate(result.settings.designs):
        frame = regions.filter(pl.col("design") == design)
        means = [
            float(np.mean(frame.filter(pl.col("group") == g)["never_inspected_share"].to_numpy()))
            for g in groups
        ]
        axis.bar(
            np.arange(len(groups)) + i * width, means, width, label=design, color=DESIGN_COLOURS.get(design)
        )
    axis.set_xticks(np.arange(len(groups)) + 0.4 - width / 2, groups, fontsize=7)
    axis.set_ylabel("Andel aldrig granskade")
    axis.set_xlabel("Region")
    axis.set_title("Enheter som aldrig granskades under de simulerade åren")
    axis.legend(fontsize=7)
    figure.tight_layout()
    return figure


def estimate_errors(result: SimulationResult) -> dict[str, tuple[float, float, float]]:
    """Per design/estimator: RMSE of the plan area's estimate per seed (over the years), mean and 95 % CI."""
    estimates = result.estimates.filter(pl.col("risk_area") == result.settings.risk_area)
    errors: dict[str, tuple[float, float, float]] = {}
    if estimates.is_empty():
        return errors
    per_seed = estimates.group_by("design", "estimator", "seed").agg(
        rmse=(pl.col("error") ** 2).mean().sqrt()
    )
    for (design, estimator), rows in per_seed.sort("design", "estimator").group_by(
        "design", "estimator", maintain_order=True
    ):
        label = f"{design} (bara slumpandelen)" if estimator == "exploration_only" else str(design)
        errors[label] = interval(rows["rmse"].to_list())
    return errors


def relative_figure(result: SimulationResult) -> Figure:
    """Left: cumulative findings relative to top; right: the estimate's RMSE; both with 95 % intervals."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    designs = [d for d in result.settings.designs if d != "top"]
    ratios = [relative_findings(result, d) for d in designs]
    shown = [(d, r) for d, r in zip(designs, ratios, strict=True) if not math.isnan(r[0])]
    for i, (design, (mean, low, high)) in enumerate(shown):
        left.bar(i, mean, color=DESIGN_COLOURS.get(design), yerr=[[mean - low], [high - mean]], capsize=4)
        left.annotate(
            f"{mean:.2f}", (i, high), textcoords="offset points", xytext=(0, 3), ha="center", fontsize=8
        )
    left.axhline(1.0, color="#1f4e79", linestyle="--", label="top = 1")
    left.set_xticks(range(len(shown)), [d for d, _ in shown])
    left.set_ylabel("Funna brister relativt top (summa över åren)")
    left.legend(fontsize=8)
    errors = estimate_errors(result)
    for i, (label, (mean, low, high)) in enumerate(errors.items()):
        colour = DESIGN_COLOURS.get(label.split(" ")[0])
        right.bar(i, mean * 100, color=colour, yerr=[[(mean - low) * 100], [(high - mean) * 100]], capsize=4,
                  hatch="//" if "slump" in label else None)  # fmt: skip
        right.annotate(f"{mean * 100:.1f}", (i, high * 100), textcoords="offset points", xytext=(0, 3),
                       ha="center", fontsize=8)  # fmt: skip
    right.set_xticks(range(len(errors)), list(errors), rotation=20, ha="right", fontsize=8)
    right.set_ylabel("Skattningens fel, RMSE (procentenheter)")
    right.set_title(f"Andel med brist i {result.settings.risk_area}, RMSE per frö", fontsize=9)
    figure.suptitle(
        "Vad pps behåller av top:s fynd, och hur mycket mindre dess skattningsfel är (95 % KI över frön)"
    )
    figure.tight_layout()
    return figure


def simulation_figures(result: SimulationResult) -> dict[str, Figure]:
    """Every figure of the report, by artifact name."""
    figures = {
        "relative": relative_figure(result),
        "findings": findings_figure(result),
        "calibration": calibration_figure(result),
        "coverage_by_region": coverage_figure(result),
    }
    if not result.curve.is_empty():
        figures["tradeoff"] = tradeoff_figure(result)
    return figures


def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _with_interval(row: dict[str, Any], column: str, digits: int = 1) -> str:
    value = row.get(column)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f} ({row[f'{column}_lower']:.{digits}f}–{row[f'{column}_upper']:.{digits}f})"


def relative_findings(
    result: SimulationResult, design: str, baseline: str = "top"
) -> tuple[float, float, float]:
    """Cumulative findings of ``design`` as a share of ``baseline``'s, per seed: mean and 95 % interval."""
    cumulative = cumulative_metrics(result.metrics)
    mine = cumulative.filter(pl.col("design") == design).sort("seed")
    base = cumulative.filter(pl.col("design") == baseline).sort("seed")
    if mine.is_empty() or base.is_empty():
        return math.nan, math.nan, math.nan
    ratios = (mine["findings"].cast(pl.Float64) / base["findings"].cast(pl.Float64)).to_list()
    return interval(ratios)


def headline(result: SimulationResult) -> dict[str, Any]:
    """The figures the issue asks for, as plain numbers (for MLflow metrics and the docs)."""
    summary = summary_table(result)
    total = {row["design"]: row for row in summary.filter(pl.col("period") == "all").iter_rows(named=True)}
    values: dict[str, Any] = {}
    for design, row in total.items():
        for column in HEADLINE_COLUMNS:
            if row.get(column) is not None and not (
                isinstance(row[column], float) and math.isnan(row[column])
            ):
                values[f"{design}/{column}"] = float(row[column])
    for design in result.settings.designs:
        if design != "top":
            mean, low, high = relative_findings(result, design)
            if not math.isnan(mean):
                values |= {f"{design}/findings_vs_top": mean, f"{design}/findings_vs_top_lower": low,
                           f"{design}/findings_vs_top_upper": high}  # fmt: skip
    return values


def render_simulation_report(result: SimulationResult, figures: dict[str, Figure], run_id: str | None) -> str:
    """The HTML report as one string (plots embedded)."""
    summary = summary_table(result)
    rows = []
    for row in summary.iter_rows(named=True):
        rows.append(
            {
                "design": row["design"],
                "period": row["period"],
                "findings": _with_interval(row, "findings"),
                "serious": _with_interval(row, "serious_findings"),
                "expected": _with_interval(row, "true_expected_findings"),
                "worst": _with_interval(row, "worst_decile_share", 2),
                "model_expected": _with_interval(row, "expected_findings")
                if "expected_findings" in row
                else "–",
                "ece": _with_interval(row, "ece_truth_population", 3)
                if "ece_truth_population" in row
                else "–",
                "gap": _with_interval(row, "calibration_gap_selected", 3)
                if "calibration_gap_selected" in row
                else "–",
                "rmse": _fmt(row.get("estimate_rmse")),
                "coverage": _fmt(row.get("estimate_coverage"), 2),
                "explore_rmse": _fmt(row.get("exploration_only_rmse")),
                "explore_coverage": _fmt(row.get("exploration_only_coverage"), 2),
            }
        )
    coverage = coverage_summary(result)
    never = (
        result.coverage.group_by("design", "attribute", "group")
        .agg(pl.col("never_inspected_share").mean(), pl.col("units").mean())
        .filter(pl.col("attribute") == "ownership")
        .sort("design", "group")
    )
    relative = {d: relative_findings(result, d) for d in result.settings.designs if d != "top"}
    context = {
        "run_id": run_id or "–",
        "settings": result.settings.as_dict(),
        "timings": {k: f"{v:.1f}" for k, v in result.timings.items()},
        "rows": rows,
        "relative": {
            d: f"{m:.2f} ({lo:.2f}–{hi:.2f})" for d, (m, lo, hi) in relative.items() if not math.isnan(m)
        },
        "coverage": [{k: _fmt(v) for k, v in r.items()} for r in coverage.iter_rows(named=True)],
        "ownership": [{k: _fmt(v) for k, v in r.items()} for r in never.iter_rows(named=True)],
        "figures": {name: _png(figure) for name, figure in figures.items()},
    }
    environment = jinja2.Environment(
        loader=jinja2.FunctionLoader(
            lambda name: resources.files("simulation").joinpath("templates", name).read_text(encoding="utf-8")
        ),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
    )
    return environment.get_template(TEMPLATE).render(**context)


def log_simulation(tracking: Tracking, result: SimulationResult) -> tuple[str, str]:
    """One MLflow run with the settings, headline metrics, tables, figures and the HTML report."""
    with tracking.run(run_name=f"simulate-{result.settings.scenario}", tags={"kind": "simulation"}) as run:
        run.log_params(result.settings.as_dict())
        run.log_metrics(headline(result) | {f"time/{k}": v for k, v in result.timings.items()})
        run.log_table(result.metrics, "simulation/metrics.parquet")
        run.log_table(result.estimates, "simulation/estimates.parquet")
        run.log_table(result.coverage, "simulation/coverage.parquet")
        if not result.curve.is_empty():
            run.log_table(result.curve, "simulation/tradeoff.parquet")
        run.log_table(summary_table(result), "simulation/summary.parquet")
        figures = simulation_figures(result)
        for name, figure in figures.items():
            run.log_figure(figure, f"plots/{name}.png")
        html = render_simulation_report(result, figures, run.run_id)
        run.log_text(html, "simulation/report.html")
        return run.run_id, html
