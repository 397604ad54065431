"""A self-contained HTML report of one training run (plots embedded as base64 PNG)."""

from __future__ import annotations

import base64
import math
from importlib import resources
from typing import Any

import jinja2
import polars as pl

from models.evaluation import (
    ALL_FOLDS,
    SCORER_LABELS,
    SCORERS,
    WEIGHTED,
    fold_table,
    has_population,
    verdicts,
)
from models.family import FAMILY_ARTIFACT, FINAL
from models.metrics import AUDIT_METRICS
from models.prospective import read_record, record_summary, since_label
from models.targets import TARGETS_ARTIFACT, target_label_sv, target_sentence_sv
from models.tracking import Tracking
from models.verdicts import Verdict, label_sv, overall_sv, sentence_sv

TEMPLATE = "report.html.j2"
TOP_FEATURES = 5  # per area in the importance section
LINEAGE_KEYS = ("as_of", "snapshot_id", "feature_set_id", "code_version", "layout", "seed")
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


ATTRIBUTE_SV = {"ownership": "Ägarform", "region_code": "Region", "size_band": "Storlek"}
# Feature families that are not configured sources (those are named by their ``name_sv``).
FAMILY_SV = {
    "units": "Enhetens uppgifter (storlek, ålder, region, typ)",
    "providers": "Vårdgivare och ägarform",
    "inspections": "Tidigare inspektioner",
    "visits": "Besök (läkarkontinuitet)",
}


def _fmt(value: Any, digits: int = 3) -> str:
    """A figure as the report writes it: a decimal comma, ``–`` when missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}".replace(".", ",") if isinstance(value, float) else str(value)


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


def _verdict(found: dict[str, Verdict], area: str) -> dict[str, str] | None:
    verdict = found.get(area)
    if verdict is None:
        return None
    return {"label": label_sv(verdict), "sentence": sentence_sv(verdict)}


def _weighted_verdict(metrics: pl.DataFrame, found: dict[str, Verdict], area: str) -> dict[str, str] | None:
    """The verdict on the inspections with known inclusion probability, with their effective number."""
    verdict = _verdict(found, area)
    if verdict is None:
        return None
    effective = metrics.filter(
        (pl.col("population") == WEIGHTED)
        & (pl.col("fold") == ALL_FOLDS)
        & (pl.col("risk_area") == area)
        & (pl.col("metric") == "effective_n")
    ).get_column("value")
    size = f"{_thousands(found[area].n)} tillsyner"
    if effective.len():
        size += f", effektivt {_thousands(round(effective[0]))}"
    return verdict | {"size": size}


def _thousands(count: int) -> str:
    """``1 234``: a Swedish thousands separator (a space)."""
    return f"{count:,}".replace(",", " ")


def _interval_cell(row: dict[str, Any], metric: str) -> str:
    if row.get(f"{metric}_lower") is None:
        return _fmt(row.get(metric))
    return f"{_fmt(row[metric])} ({_fmt(row[f'{metric}_lower'])}–{_fmt(row[f'{metric}_upper'])})"


def _fold_rows(metrics: pl.DataFrame, area: str) -> list[dict[str, str]]:
    """The model per test year and population: where a change in the world shows as a drop."""
    rows = []
    for population, label in (("random", "slumpvis urval"), ("all", "alla tillsyner")):
        table = fold_table(metrics, population).filter(pl.col("risk_area") == area)
        rows += [
            {
                "fold": row["fold"],
                "population": label,
                "n": str(row["n"]),
                "base_rate": _fmt(row["base_rate"]),
                "precision": _interval_cell(row, "precision_at_10pct"),
                "expected": _fmt(row["expected_precision_at_10pct"]),
                "oracle_expected": _fmt(row["oracle_expected_precision_at_10pct"]),
                "auc": _fmt(row["roc_auc"]),
                "ece": _interval_cell(row, "ece"),
                "ece_noise_upper": _fmt(row["ece_noise_upper"]),
            }
            for row in table.iter_rows(named=True)
        ]
    return rows


def _frame_rows(frame: pl.DataFrame) -> list[dict[str, str]]:
    return [{k: _fmt(v) for k, v in row.items()} for row in frame.iter_rows(named=True)]


METRIC_SV = {
    "precision": "precision (andel med brist bland de valda)",
    "recall": "recall (andel av bristerna som modellen väljer)",
    "selection_rate": "urvalsandel (andel av gruppens tillsyner bland de valda)",
}


def _num(value: Any, digits: int = 2) -> str:
    """Two decimals: 0,62."""
    return _fmt(value, digits)


def flagged_sentences(
    subgroups: pl.DataFrame, bounds: tuple[float, float], area_names: dict[str, str] | None = None
) -> list[dict[str, str]]:
    """One sentence per flagged ratio: group in words, ratio, interval, reference, bound it lies beyond."""
    names = area_names or {}
    sentences: list[dict[str, str]] = []
    if subgroups.is_empty() or "selection_rate_lower" not in subgroups.columns:
        return sentences
    for row in subgroups.iter_rows(named=True):
        for metric in AUDIT_METRICS:
            if not row.get(f"{metric}_flagged"):
                continue
            ratio = row[f"{metric}_disparity"]
            lower, upper = row[f"{metric}_lower"], row[f"{metric}_upper"]
            side = f"under {_num(bounds[0])}" if upper < bounds[0] else f"över {_num(bounds[1])}"
            sentences.append(
                {
                    "risk_area": row["risk_area"],
                    "group": row.get("group_name") or row["group"],
                    "sentence": (
                        f"{row.get('group_name') or row['group']} "
                        f"({row['n']} tillsyner, {names.get(row['risk_area'], row['risk_area'])}): "
                        f"{METRIC_SV[metric]} är {_num(ratio)} gånger referensgruppens "
                        f"({row.get('reference_name') or row['reference']}), "
                        f"95 % KI {_num(lower)}–{_num(upper)}; "
                        f"hela intervallet ligger {side}." + _base_rate_clause(row)
                    ),
                }
            )
    return sentences


def _base_rate_clause(row: dict[str, Any]) -> str:
    """Whether the group's own deficiency rate differs too: a riskier group should be chosen more often."""
    if row.get("base_rate") is None:
        return ""
    return (
        f" Andel med brist i gruppen {_num(row['base_rate'])}, i referensgruppen "
        f"{_num(row['reference_base_rate'])}."
    )


def _subgroup_rows(subgroups: pl.DataFrame, area_names: dict[str, str]) -> list[dict[str, str]]:
    rows = []
    for row in subgroups.iter_rows(named=True):
        cells = {
            "risk_area": area_names.get(row["risk_area"], row["risk_area"]),
            "attribute": ATTRIBUTE_SV.get(row["attribute"], row["attribute"]),
            "group": row.get("group_name") or row["group"],
            "n": str(row["n"]) + (" (för liten)" if row.get("too_small") else ""),
            "precision": _fmt(row["precision"]),
            "recall": _fmt(row["recall"]),
            "selection_rate": _fmt(row["selection_rate"]),
        }
        for metric in AUDIT_METRICS:
            ratio = _fmt(row[f"{metric}_disparity"], 2)
            if row.get(f"{metric}_lower") is not None:
                ratio += f" ({_fmt(row[f'{metric}_lower'], 2)}–{_fmt(row[f'{metric}_upper'], 2)})"
            if row.get(f"{metric}_flagged"):
                ratio += " ⚑"
            cells[f"{metric}_disparity"] = ratio
        rows.append(cells)
    return rows


def _prospective(tracking: Tracking, run_id: str, area_names: dict[str, str]) -> dict[str, Any] | None:
    record = read_record(tracking, run_id)
    if record is None:
        return None
    rows = []
    for area, populations in record_summary(record).items():
        for population in ("random", "all"):
            entry = populations.get(population)
            if entry is None:
                continue
            ci = entry.get("precision_at_10pct_ci") or [None, None]
            auc_ci = entry.get("roc_auc_ci") or [None, None]
            rows.append(
                {
                    "risk_area": area_names.get(area, area),
                    "population": "slumpvis urval" if population == "random" else "alla tillsyner",
                    "n": str(entry.get("n", 0)),
                    "base_rate": _fmt(entry.get("base_rate")),
                    "precision": (
                        f"{_fmt(entry.get('precision_at_10pct'), 2)} ({_fmt(ci[0], 2)}–{_fmt(ci[1], 2)})"
                    ),
                    "auc": f"{_fmt(entry.get('roc_auc'), 2)} ({_fmt(auc_ci[0], 2)}–{_fmt(auc_ci[1], 2)})",
                    "brier": _fmt(entry.get("brier")),
                }
            )
    return {"label": since_label(record), "record": record, "rows": rows}


def _png(tracking: Tracking, run_id: str, name: str) -> str | None:
    try:
        return base64.b64encode(tracking.read_bytes(run_id, f"plots/{name}.png")).decode("ascii")
    except Exception:  # a missing plot leaves a gap in the report, not a failed report
        return None


def _families(tracking: Tracking, run_id: str) -> dict[str, dict[str, str]]:
    """Per area: the served model's family in Swedish and why (empty for a run from before the choice)."""
    try:
        choices = tracking.read_json(run_id, FAMILY_ARTIFACT).get(FINAL, {})
    except Exception:  # an older run: the report leaves the section out
        return {}
    return {
        str(area): {
            "name": str(choice.get("family_sv", choice.get("family"))),
            "why": str(choice.get("why_sv", "")),
        }
        for area, choice in choices.items()
    }


def _run_config(tracking: Tracking, run_id: str) -> Any:
    try:
        return tracking.read_json(run_id, "config.json")
    except Exception:  # an older run without its config: defaults in the report
        return {}


def _area_names(config: Any) -> dict[str, str]:
    """Risk area id → Swedish name, from the run's stored configuration (ids when it has none)."""
    areas = config.get("risk_areas", []) if isinstance(config, dict) else []
    return {str(area["id"]): str(area["name_sv"]) for area in areas if "id" in area and "name_sv" in area}


def _family_names(config: Any) -> dict[str, str]:
    """Feature family (a source id) → Swedish name: configured sources by their ``name_sv``."""
    sources = config.get("sources", {}) if isinstance(config, dict) else {}
    return FAMILY_SV | {str(key): str(source.get("name_sv", key)) for key, source in sources.items()}


def _importance(
    tracking: Tracking,
    run_id: str,
    areas: list[str],
    area_names: dict[str, str],
    family_names: dict[str, str],
) -> dict[str, Any] | None:
    """Mean absolute contribution per family (rows) and area (columns), and each area's top features."""
    try:
        families = tracking.read_table(run_id, "evaluation/importance_families.parquet")
        features = tracking.read_table(run_id, "evaluation/importance_features.parquet")
        catalog = tracking.read_json(run_id, "feature_catalog.json")
    except Exception:  # a run from before the importance was measured: the section says so
        return None
    rows = families.iter_rows(named=True)
    values = {(row["family"], row["risk_area"]): row["mean_abs_contribution"] for row in rows}
    order = (
        families.group_by("family")
        .agg(pl.col("mean_abs_contribution").max())
        .sort("mean_abs_contribution", descending=True)["family"]
        .to_list()
    )
    shown = [area for area in areas if any((family, area) in values for family in order)]
    feature_sv = {str(spec["name"]): str(spec.get("description_sv") or spec["name"]) for spec in catalog}
    return {
        "areas": [area_names.get(area, area) for area in shown],
        "rows": [
            {
                "family": family_names.get(family, family),
                "cells": [_fmt(values.get((family, area)), 2) for area in shown],
            }
            for family in order
        ],
        "top": [
            {
                "area": area_names.get(area, area),
                "features": [
                    f"{feature_sv.get(name, name)} ({_fmt(value, 2)})"
                    for name, value in features.filter(pl.col("risk_area") == area)
                    .head(TOP_FEATURES)
                    .select("feature", "mean_abs_contribution")
                    .iter_rows()
                ],
            }
            for area in shown
        ],
    }


def _targets(tracking: Tracking, run_id: str) -> dict[str, Any]:
    """The run's ``targets.json`` (empty for runs from before ranking targets)."""
    try:
        record = tracking.read_json(run_id, TARGETS_ARTIFACT)
    except Exception:  # an older run without targets: every area was ranked by deficiency
        return {}
    return record if isinstance(record, dict) else {}


def _target_words(targets: dict[str, Any], area: str) -> dict[str, str]:
    """The area's ranking target in Swedish, and what its base rate is a share of."""
    evaluated = targets.get("evaluated", {}).get(area) or ["deficiency"]
    # Folds whose models chose different targets are each scored against their own label.
    label = target_label_sv(evaluated[0]) if len(evaluated) == 1 else "andel med fyndet som rangordnar"
    return {
        "target": target_sentence_sv(targets.get("final", {}).get(area)) if targets else "",
        "label_sv": label,
    }


def render_report(tracking: Tracking, run_id: str) -> str:
    """The HTML report of ``run_id`` as one string (no external files)."""
    info = tracking.run_info(run_id)
    # A run logged by an older version may lack some lineage keys: the header says "–" for them.
    lineage = dict.fromkeys(LINEAGE_KEYS, "–") | {"folds": []} | tracking.read_json(run_id, "lineage.json")
    metrics = tracking.read_table(run_id, "evaluation/metrics.parquet")
    reliability = tracking.read_table(run_id, "evaluation/reliability.parquet")
    subgroups = tracking.read_table(run_id, "evaluation/subgroups.parquet")
    areas = list(dict.fromkeys(metrics.get_column("risk_area").to_list()))
    config = _run_config(tracking, run_id)
    model_config = config.get("model", {}) if isinstance(config, dict) else {}
    bounds = tuple(model_config.get("disparity_bounds", (0.8, 1.25)))
    names = _area_names(config)
    sentences = flagged_sentences(subgroups, (float(bounds[0]), float(bounds[1])), names)
    verdict_population = "random" if has_population(metrics, "random") else "all"
    found = verdicts(metrics, verdict_population)
    found_all = verdicts(metrics, "all")
    found_weighted = verdicts(metrics, WEIGHTED)
    targets = _targets(tracking, run_id)
    families = _families(tracking, run_id)
    context = {
        "run_id": run_id,
        "info": info,
        "lineage": lineage,
        "areas": [
            {
                "id": area,
                "name": names.get(area, area),
                **_target_words(targets, area),
                "random": _scorer_table(metrics, "random", area),
                "all": _scorer_table(metrics, "all", area),
                "facts_random": _area_facts(metrics, "random", area),
                "facts_all": _area_facts(metrics, "all", area),
                "verdict": _verdict(found, area),
                "verdict_all": _verdict(found_all, area) if verdict_population == "random" else None,
                "verdict_weighted": _weighted_verdict(metrics, found_weighted, area),
                "family": families.get(area),
                "folds": _fold_rows(metrics, area),
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
        "subgroups": _subgroup_rows(subgroups, names),
        "importance": _importance(tracking, run_id, areas, names, _family_names(config)),
        "flagged": sentences,
        "n_flagged": len(sentences),
        "audit_bounds": f"{_num(bounds[0])}–{_num(bounds[1])}",
        "audit_min_size": model_config.get("audit_min_group_size", 1),
        "prospective": _prospective(tracking, run_id, names),
        "overall": overall_sv(found, names),
        "verdict_population": "slumpvis urval" if verdict_population == "random" else "alla tillsyner",
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
