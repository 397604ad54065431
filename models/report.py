"""A self-contained HTML report of one training run (plots embedded as base64 PNG)."""

from __future__ import annotations

import base64
import math
from importlib import resources
from typing import Any

import jinja2
import polars as pl

from models.evaluation import ALL_FOLDS, SCORERS
from models.tracking import Tracking

TEMPLATE = "report.html.j2"
# The metrics of the scorer tables, with the Swedish column heading a reader sees ("10\u00a0%": a
# no-break space keeps the number with its sign when the heading wraps).
METRIC_LABELS = {
    "precision_at_5pct": "Precision bland de 5\u00a0% högst rankade",
    "precision_at_10pct": "Precision bland de 10\u00a0% högst rankade",
    "precision_at_20pct": "Precision bland de 20\u00a0% högst rankade",
    "recall_at_10pct": "Andel av bristerna bland de 10\u00a0% högst rankade",
    "lift_at_10pct": "Lyft bland de 10\u00a0% högst rankade",
    "roc_auc": "ROC-AUC",
    "average_precision": "Genomsnittlig precision",
    "expected_precision_at_10pct": "Förväntad precision bland de 10\u00a0% högst rankade",
}
HEADLINE_METRICS = tuple(METRIC_LABELS)
SCORER_LABELS = {
    "model": "Modellen",
    "oracle": "Facit (sann sannolikhet)",
    "random": "Slumpvis urval",
    "complaints": "Klagomål per listade",
    "banding": "Indikatorer över trösklar",
    "logistic": "Logistisk regression",
}


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _scorer_table(metrics: pl.DataFrame, population: str, area: str) -> list[dict[str, Any]]:
    rows = metrics.filter(
        (pl.col("population") == population) & (pl.col("fold") == ALL_FOLDS) & (pl.col("risk_area") == area)
    )
    values = {(r["scorer"], r["metric"]): r for r in rows.iter_rows(named=True)}
    table = []
    for scorer in SCORERS:
        if (scorer, "roc_auc") not in values:
            continue
        cells = {}
        for metric in HEADLINE_METRICS:
            row = values.get((scorer, metric))
            if row is None:
                cells[metric] = "–"
            elif row["lower"] is not None and metric.startswith("precision"):
                cells[metric] = f"{_fmt(row['value'], 2)} ({_fmt(row['lower'], 2)}–{_fmt(row['upper'], 2)})"
            else:
                cells[metric] = _fmt(row["value"])
        table.append({"scorer": scorer, "label": SCORER_LABELS[scorer], **cells})
    return table


def _area_facts(metrics: pl.DataFrame, population: str, area: str) -> dict[str, str]:
    rows = metrics.filter(
        (pl.col("population") == population) & (pl.col("fold") == ALL_FOLDS) & (pl.col("risk_area") == area)
    )
    full = {(r["scorer"], r["metric"]): r for r in rows.iter_rows(named=True)}
    values = {key: row["value"] for key, row in full.items()}
    ece = full.get(("model", "ece"), {})
    noise = full.get(("model", "ece_noise"), {})
    return {
        "n": _fmt(values.get(("data", "n")), 0),
        "base_rate": _fmt(values.get(("data", "base_rate"))),
        "ece": _fmt(values.get(("model", "ece"))),
        "ece_ci": f"{_fmt(ece.get('lower'))}–{_fmt(ece.get('upper'))}",
        "ece_noise": _fmt(noise.get("value")),
        "ece_noise_upper": _fmt(noise.get("upper")),
        "ece_oracle": _fmt(values.get(("oracle", "ece"))),
        "ece_uncalibrated": _fmt(values.get(("model", "ece_uncalibrated"))),
        "brier": _fmt(values.get(("model", "brier"))),
    }


def _frame_rows(frame: pl.DataFrame) -> list[dict[str, str]]:
    return [{k: _fmt(v) for k, v in row.items()} for row in frame.iter_rows(named=True)]


def _png(tracking: Tracking, run_id: str, name: str) -> str | None:
    try:
        return base64.b64encode(tracking.read_bytes(run_id, f"plots/{name}.png")).decode("ascii")
    except Exception:  # a missing plot leaves a gap in the report, not a failed report
        return None


def render_report(tracking: Tracking, run_id: str) -> str:
    """The HTML report of ``run_id`` as one string (no external files)."""
    info = tracking.run_info(run_id)
    lineage = tracking.read_json(run_id, "lineage.json")
    metrics = tracking.read_table(run_id, "evaluation/metrics.parquet")
    reliability = tracking.read_table(run_id, "evaluation/reliability.parquet")
    subgroups = tracking.read_table(run_id, "evaluation/subgroups.parquet")
    areas = list(dict.fromkeys(metrics.get_column("risk_area").to_list()))
    flagged = subgroups.filter(
        pl.col("precision_flagged") | pl.col("recall_flagged") | pl.col("selection_rate_flagged")
    )
    context = {
        "run_id": run_id,
        "info": info,
        "lineage": lineage,
        "areas": [
            {
                "id": area,
                "random": _scorer_table(metrics, "random", area),
                "all": _scorer_table(metrics, "all", area),
                "facts_random": _area_facts(metrics, "random", area),
                "facts_all": _area_facts(metrics, "all", area),
                "plot_random": _png(tracking, run_id, f"precision_at_k_{area}"),
                "plot_all": _png(tracking, run_id, f"precision_at_k_{area}_all"),
                "reliability": _frame_rows(
                    reliability.filter((pl.col("population") == "all") & (pl.col("risk_area") == area)).drop(
                        "population", "risk_area"
                    )
                ),
            }
            for area in areas
        ],
        "reliability_random": _png(tracking, run_id, "reliability_random"),
        "reliability_all": _png(tracking, run_id, "reliability_all"),
        "subgroups": _frame_rows(
            subgroups.select(
                "risk_area",
                "attribute",
                "group",
                "n",
                "precision",
                "recall",
                "selection_rate",
                "precision_disparity",
                "recall_disparity",
                "selection_rate_disparity",
            )
        ),
        "n_flagged": flagged.height,
        "headline": METRIC_LABELS,
    }
    environment = jinja2.Environment(
        loader=jinja2.FunctionLoader(
            lambda name: resources.files("models").joinpath("templates", name).read_text(encoding="utf-8")
        ),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
    )
    return environment.get_template(TEMPLATE).render(**context)
