"""Model quality on synthetic worlds the modelling choices were never made on.

Usage::

    .venv/bin/python -m studies.worlds [--seeds 7,11,23,101,2026] [--units 1200] [--years 6] \
        [--set fit_on_all_labelled=false] [--set lightgbm.max_bin=63] \
        [--scenario default,realistic,weak,shifted] [--truth inspection,unit] [--by-year] \
        [--elastic-net-without-region]

Every setting in ``[model]`` was chosen on the default world (seed 42), looking at its test folds.
This script asks whether those choices carry over: for each seed it generates a default-scale world
in memory, builds the training set through the feature builders, runs the rolling-origin evaluation
(the same folds, baselines and metrics as ``tillsynsrisk train``; no final model, no MLflow) and
prints, per world and per area with a base rate under 60 %, the issue's targets: model
precision@10 % against the oracle (realised on random-selection inspections, and expected from the
true probabilities), lift over the base rate, the best baseline, and the ECE on all inspections
next to the noise band of a calibrated model and the truth's own ECE on the same rows. The last
lines count, per target, in how many worlds it is met. Nothing is timed.

A second table (issue 10) compares the model with the elastic-net baseline (``logistic``) per world
and area with a base rate under 60 %: expected precision@10 % and ROC AUC of each with its 95 %
bootstrap interval, and the paired difference model − baseline with its interval (the same resamples
of inspections within folds for both scorers, so the interval is that of the difference itself), and
each one's home-team leak (:func:`studies.leak.home_team_leak`: how much of the strictness of the
department that inspects a unit's region by default reaches the score, per unit of the unit's own risk).
``--set key=value`` overrides a ``[model]`` setting (e.g. ``fit_on_all_labelled=false``) to measure a
choice on the same worlds.

``--by-year`` adds a table per scenario, seed, area and test year (expected precision@10 % of the model
with its interval, the elastic net and the oracle, and the model's share of the oracle): a change part
way through the history (``shifted``, from 2023-07) shows as the share falling in the later test years;
with ``--years 8 --set evaluation_years=5`` the test years reach back to 2021, before the change.

``--scenario`` (issue 11; comma-separated, default ``default``) runs every seed in each named scenario
(``synthetic.scenarios``) and adds a third table, per scenario, seed and area with a base rate
under 60 %: model, elastic-net logistic, complaints, banding and oracle, each with expected
precision@10 % (95 % interval) and ROC AUC on the random-selection inspections, and for the model and
the oracle the ECE on all inspections (the model's next to the 97.5 % noise band of a calibrated model).
It ends with, per scenario and area, in how many worlds the issue's done-when holds: model ≥ 0.85 ×
oracle (expected), model above complaints by more than the complaints' interval, model ≥ elastic net.

A table over **every** area (whatever its base rate) compares the model — each test year served by the
family chosen on the validation years before it (``models.family``) — with the calibrated elastic-net
family and with the uncalibrated baseline, and LightGBM alone with the calibrated elastic net: the family
of each test year, the paired differences of expected precision@10 % and ROC AUC with their intervals,
and whether the family choice's done-when holds (difference ≥ 0, or its interval covers 0 with the point
≥ −0.005), with a count over the worlds.

``--truth unit`` measures the oracle and every expected figure against the unit's own risk (the
inspection's true probability without the inspecting department's effect, :func:`own_risk_truth`), what
the team-neutral score estimates; the default ``inspection`` keeps the department's effect in the truth.
``--truth inspection,unit`` prints a set of tables per truth from the same fits.

``--elastic-net-without-region`` adds two elastic nets to compare the model with, fitted per fold and
area as the baseline is (:func:`elastic_net_variants`): one on the model's own features (the
catalog without ``region_code``, as the model is grown where a team column exists), and one that also has
the team and method and is scored averaged over their training mix, as the model is (team-neutral). They
say whether the baseline's lead against the inspection's truth comes from the department's strictness
(docs/models.md, "Realistic at national scale").
ROC AUC and realised precision are on the findings and do not depend on it (docs/models.md, "Against
which truth").
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import statistics
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from engine.config import Config, load_config
from models.artifact import covariate_mix, features_for_area
from models.baselines import fit_logistic, logistic_scores
from models.evaluation import ORACLE_COLUMN, metrics_table, summary
from models.jobs import TrainingData, evaluation_splits, temporal_evaluation
from models.metrics import batch_ranking_metrics, bootstrap_counts
from models.training import REGION_FEATURE, covariate_feature, inspection_covariates
from models.validation import Split
from simulation.worlds import synthetic_training_data
from studies.leak import home_team_leak
from synthetic.numeric import shift_log_odds
from synthetic.params import WorldParams
from synthetic.regions import IVO_DEPARTMENT_OF_REGION
from synthetic.scenarios import SCENARIOS, scenario_params
from synthetic.world import generate_world

TARGET_SHARE_OF_ORACLE = 0.9
TARGET_LIFT = 2.5
TARGET_ECE = 0.03
LOW_BASE_RATE = 0.6
# The family choice's done-when: a difference below zero still counts when its interval covers zero and
# the point is at least this.
DONE_TOLERANCE = -0.005
BASELINES = ("complaints", "banding", "logistic")


def configured(overrides: list[str]) -> Config:
    """The default configuration with ``[model]`` settings overridden (``key=value``, validated).

    A dotted key reaches a nested table: ``lightgbm.max_bin=63`` is ``[model.lightgbm] max_bin``.
    Every area is ranked by deficiency (``targets.AREA=deficiency``) unless an override says otherwise:
    the study's labels, own-risk truth and home-team leak are of deficiencies, and so are the figures it
    has recorded.
    """
    config = load_config()
    model = config.model.model_dump()
    model["targets"] = dict.fromkeys(config.risk_area_ids, "deficiency")
    for item in overrides:
        key, _, value = item.partition("=")
        *tables, name = key.split(".")
        target = model
        for table in tables:
            target = target[table]
        target[name] = value
    return config.model_copy(update={"model": config.model.model_validate(model)})


SCENARIO_SCORERS = ("model", "logistic", "complaints", "banding", "oracle")
SHARE_OF_ORACLE_DONE = 0.85
HOME_EFFECT = "home_team_effect"
OWN_RISK = "own_risk"
NO_REGION_SCORE = "score_logistic_without_region"
TEAM_NEUTRAL_SCORE = "score_logistic_team_neutral"


TRUTHS = ("inspection", "unit")


def own_risk_truth(
    rows: pl.DataFrame, truth_inspections: pl.DataFrame, column: str = ORACLE_COLUMN
) -> pl.DataFrame:
    """``rows`` with the oracle ``column`` as the unit's own risk: the true probability of each
    inspection with its team's logit effect taken out, i.e. as the world's average team would find (the
    effects are centred on the world's inspections). Rows without a truth keep a null oracle."""
    effects = truth_inspections.select(
        pl.col("inspection_id").cast(pl.String),
        pl.col("risk_area").cast(pl.String),
        pl.col("team_effect").cast(pl.Float64).alias("_team_effect"),
    )
    joined = rows.join(effects, on=["inspection_id", "risk_area"], how="left", maintain_order="left")
    p = joined.get_column(column).cast(pl.Float64).to_numpy()
    effect = joined.get_column("_team_effect").fill_null(0.0).to_numpy()
    return joined.with_columns(pl.Series(column, shift_log_odds(p, -effect), nan_to_null=True)).drop(
        "_team_effect"
    )


def with_home_team(
    predictions: pl.DataFrame, truth_inspections: pl.DataFrame, team_effects: dict[str, float]
) -> pl.DataFrame:
    """Test-fold predictions with the logit effect of the department that inspects each unit's region by
    default (``HOME_EFFECT``) and the unit's own risk (``OWN_RISK``), what :func:`home_team_leak` needs."""
    home = {region: team_effects.get(team, 0.0) for region, team in IVO_DEPARTMENT_OF_REGION.items()}
    own = own_risk_truth(predictions, truth_inspections, column="score_oracle").get_column("score_oracle")
    return predictions.with_columns(
        pl.col("region_code").replace_strict(home, default=0.0, return_dtype=pl.Float64).alias(HOME_EFFECT),
        own.alias(OWN_RISK),
    )


def elastic_net_variants(data: TrainingData, splits: Sequence[Split], config: Config) -> pl.DataFrame:
    """The elastic-net baseline's test-fold scores when it has the model's features: the catalog without
    ``region_code``, as the model is grown with ``region_with_team = "drop"`` (column
    ``NO_REGION_SCORE``); and, where the rows carry the inspection covariates, also with them as the
    model has them: fitted with team and method, scored averaged over their training mix as
    ``tillsynsrisk score`` scores (column ``TEAM_NEUTRAL_SCORE``). Fitted as the evaluation fits the
    baseline: per split and area, on the rows decided before the test fold."""
    catalog = [feature for feature in data.catalog if feature.name != REGION_FEATURE]
    covariates = inspection_covariates(data.rows)
    threads = config.model.lightgbm.num_threads
    parts = []
    for split in splits:
        train = data.rows.filter(split.fit_filter() | split.held_out_filter())
        test = data.rows.filter(split.test_filter())
        for index, area in enumerate(config.risk_area_ids):
            area_test = test.filter(pl.col("risk_area") == area)
            if area_test.is_empty():
                continue
            area_train = train.filter(pl.col("risk_area") == area)
            features = features_for_area(catalog, area)
            seed = config.model.seed + 10 * index
            pipeline, levels = fit_logistic(area_train, features, seed, threads)
            scores = [pl.Series(NO_REGION_SCORE, logistic_scores(pipeline, levels, area_test, features))]
            if covariates:
                with_covariates = [*features, *(covariate_feature(name) for name in covariates)]
                pipeline, levels = fit_logistic(area_train, with_covariates, seed, threads)
                mix = covariate_mix(area_train, covariates)
                neutral = np.zeros(area_test.height)
                for combination, share in zip(mix.combinations, mix.shares, strict=True) if mix else ():
                    fixed = area_test.with_columns(
                        pl.lit(value, dtype=pl.String).alias(name)
                        for name, value in zip(covariates, combination, strict=True)
                    )
                    neutral += share * logistic_scores(pipeline, levels, fixed, with_covariates)
                scores.append(pl.Series(TEAM_NEUTRAL_SCORE, neutral))
            parts.append(area_test.select("inspection_id", "risk_area").with_columns(scores))
    return pl.concat(parts)


def world_evaluation(
    seed: int,
    units: int,
    years: int,
    config: Config,
    scenario: str = "default",
    *,
    truths: Sequence[str] = ("inspection",),
    without_region: bool = False,
) -> dict[str, tuple[dict[str, Any], dict[str, Any], pl.DataFrame]]:
    """Per truth, per area the random-selection and all-inspection summaries, and the test-fold
    predictions; one fit serves every truth.

    A truth says what the oracle and every expected metric use: the true probability of the inspection
    as it happened (``"inspection"``, the inspecting team's effect included) or the unit's own risk
    under the average team (``"unit"``; :func:`own_risk_truth`), what team-neutral scoring estimates.
    ``without_region``: the predictions also hold :func:`elastic_net_variants`'s scores.
    """
    world = generate_world(scenario_params(scenario, seed=seed, n_units=units, years=years), config)
    data, as_of = synthetic_training_data(world, config)
    splits = evaluation_splits(data.rows, config, as_of)
    predictions, metrics = temporal_evaluation(data, config, splits)
    if without_region:
        predictions = predictions.join(
            elastic_net_variants(data, splits, config), on=["inspection_id", "risk_area"], how="left"
        )
    predictions = with_home_team(predictions, world.truth["inspections"], world.params.team_effects)
    out = {}
    for truth in truths:
        if truth == "unit":
            scored = predictions.with_columns(pl.col(OWN_RISK).alias("score_oracle"))
            table = metrics_table(scored, config)
        else:
            scored, table = predictions, metrics
        out[truth] = (summary(table, "random"), summary(table, "all"), scored)
    return out


def _interval(values: np.ndarray) -> str:
    low, high = np.nanpercentile(values, [2.5, 97.5])
    return f"{low:.3f}–{high:.3f}"


def versus_baseline(
    predictions: pl.DataFrame,
    area: str,
    resamples: int,
    seed: int,
    baseline: str = "logistic",
    *,
    model: str = "model",
) -> dict[str, str]:
    """``model`` against ``baseline`` on the random-selection rows of ``area``: point, interval, paired diff.

    ``<metric> done`` says whether the family choice's done-when holds: the difference is at least zero,
    or its interval covers zero with the point at least −0.005.
    """
    rows = predictions.filter(pl.col("is_random") & (pl.col("risk_area") == area))
    groups = rows.get_column("fold").to_numpy()
    counts = np.vstack([np.ones((1, rows.height)), bootstrap_counts(groups, resamples, seed)])
    labels = rows.get_column("deficiency").to_numpy().astype(float)
    truth = rows.get_column("score_oracle").to_numpy().astype(float)
    out: dict[str, str] = {}
    figures: dict[str, dict[str, np.ndarray]] = {}
    for scorer in (model, baseline):
        scores = rows.get_column(f"score_{scorer}").to_numpy().astype(float)
        expected = batch_ranking_metrics(truth, scores, groups, [0.10], counts, with_auc=False)
        realised = batch_ranking_metrics(labels, scores, groups, [0.10], counts)
        figures[scorer] = {
            "expected p@10 %": expected["precision_at_10pct"],
            "AUC": realised["roc_auc"],
            "AUC within years": auc_within_years(labels, scores, groups, counts),
        }
    own, home = rows.get_column(OWN_RISK).to_numpy(), rows.get_column(HOME_EFFECT).to_numpy()
    known = ~np.isnan(own.astype(float))
    leaks = [
        home_team_leak(rows.get_column(f"score_{scorer}").to_numpy()[known], own[known], home[known])
        for scorer in (model, baseline)
    ]
    out["home-team leak"] = f"{leaks[0]:+.2f} | {leaks[1]:+.2f}"
    for metric in ("expected p@10 %", "AUC", "AUC within years"):
        mine, other = figures[model][metric], figures[baseline][metric]
        difference = mine - other
        out[metric] = (
            f"{mine[0]:.3f} ({_interval(mine[1:])}) | {other[0]:.3f} ({_interval(other[1:])}) "
            f"| {difference[0]:+.3f} ({_interval(difference[1:])})"
        )
        out[f"{metric} difference"] = f"{difference[0]:+.3f} ({_interval(difference[1:])})"
        out[f"{metric} met"] = "yes" if difference[0] >= 0 else "no"
        low, high = np.nanpercentile(difference[1:], [2.5, 97.5])
        covers = bool(low <= 0 <= high)
        out[f"{metric} done"] = (
            "yes" if difference[0] >= 0 or (covers and difference[0] >= DONE_TOLERANCE) else "no"
        )
    return out


def auc_within_years(
    labels: np.ndarray, scores: np.ndarray, groups: np.ndarray, counts: np.ndarray
) -> np.ndarray:
    """ROC AUC within each test year, averaged over the years weighted by their rows, per row of ``counts``.

    Unlike the AUC over the years pooled it does not move when each year's scores are recalibrated (a
    calibrated and an uncalibrated elastic net rank every year alike and get the same figure).
    """
    total, weight = np.zeros(counts.shape[0]), np.zeros(counts.shape[0])
    for label in np.unique(groups):
        member = groups == label
        if np.unique(labels[member]).size < 2:
            continue
        year = batch_ranking_metrics(
            labels[member], scores[member], groups[member], [0.10], counts[:, member]
        )
        size = counts[:, member].sum(axis=1)
        total += np.nan_to_num(year["roc_auc"]) * size
        weight += size
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / weight


def chosen_families(predictions: pl.DataFrame, area: str) -> str:
    """The family the model served ``area`` with in each test year: ``2023 elastic_net, 2024 blend``."""
    if "family" not in predictions.columns:
        return "–"
    folds = predictions.filter(pl.col("risk_area") == area).select("fold", "family").unique().sort("fold")
    return ", ".join(f"{fold} {family}" for fold, family in folds.iter_rows())


def family_row(
    scenario: str,
    seed: int,
    *,
    area: str,
    base_rate: float,
    predictions: pl.DataFrame,
    resamples: int,
    rng_seed: int,
) -> dict[str, str]:
    """One world × area of the family table: the chosen model and LightGBM, each against the elastic net."""
    chosen = versus_baseline(predictions, area, resamples, rng_seed, "elastic_net")
    raw = versus_baseline(predictions, area, resamples, rng_seed)
    trees = versus_baseline(predictions, area, resamples, rng_seed, "elastic_net", model="lightgbm")
    return {
        "line": (
            f"| {scenario} | {seed} | {area} | {base_rate:.2f} | {chosen_families(predictions, area)} "
            f"| {chosen['expected p@10 % difference']} | {chosen['AUC difference']} "
            f"| {chosen['expected p@10 % done']} / {chosen['AUC done']} "
            f"| {raw['expected p@10 % difference']} | {raw['AUC difference']} "
            f"| {raw['expected p@10 % done']} / {raw['AUC done']} "
            f"| {raw['AUC within years difference']} | {raw['AUC within years done']} "
            f"| {trees['expected p@10 % difference']} | {trees['AUC difference']} |"
        ),
        "done": "yes" if chosen["expected p@10 % done"] == chosen["AUC done"] == "yes" else "no",
        "done_raw": "yes" if raw["expected p@10 % done"] == raw["AUC done"] == "yes" else "no",
        "done_raw_within": (
            "yes" if raw["expected p@10 % done"] == raw["AUC within years done"] == "yes" else "no"
        ),
        "lightgbm_done": "yes" if trees["expected p@10 % done"] == trees["AUC done"] == "yes" else "no",
    }


def target_row(seed: int, area: str, random: dict[str, Any], every: dict[str, Any]) -> dict[str, Any]:
    """One world × area: the figures the targets are judged on."""
    model, oracle = random["model"], random["oracle"]
    expected = {name: random[name]["expected_precision_at_10pct"] for name in BASELINES}
    best = max(expected, key=lambda name: expected[name])
    realised = {name: random[name]["precision_at_10pct"] for name in BASELINES}
    return {
        "seed": seed,
        "area": area,
        "n": random["n"],
        "base_rate": random["base_rate"],
        "realised": model["precision_at_10pct"],
        "realised_oracle": oracle["precision_at_10pct"],
        "expected": model["expected_precision_at_10pct"],
        "expected_oracle": oracle["expected_precision_at_10pct"],
        "best_baseline": best,
        "best_baseline_expected": expected[best],
        "best_baseline_realised": max(realised.values()),
        "ece": every["model"]["ece"],
        "ece_noise_upper": every["model"]["ece_noise_upper"],
        "ece_truth": every["oracle"]["ece"],
    }


def targets_met(row: dict[str, Any]) -> dict[str, bool]:
    """Each of the issue's targets for one world × area."""
    return {
        "p@10 % ≥ 0.9 × oracle, realised": row["realised"] >= TARGET_SHARE_OF_ORACLE * row["realised_oracle"],
        "p@10 % ≥ 0.9 × oracle, expected": row["expected"] >= TARGET_SHARE_OF_ORACLE * row["expected_oracle"],
        "≥ 2.5 × base rate, expected": row["expected"] >= TARGET_LIFT * row["base_rate"],
        "oracle itself ≥ 2.5 × base rate, expected": row["expected_oracle"] >= TARGET_LIFT * row["base_rate"],
        "above every baseline, realised": row["realised"] > row["best_baseline_realised"],
        "above every baseline, expected": row["expected"] > row["best_baseline_expected"],
        "ECE ≤ 0.03": row["ece"] <= TARGET_ECE,
        "truth's own ECE ≤ 0.03": row["ece_truth"] <= TARGET_ECE,
        "ECE inside the noise band": row["ece"] <= row["ece_noise_upper"],
    }


def _ci(values: list[float] | None) -> str:
    return "–" if values is None else f"{values[0]:.3f}–{values[1]:.3f}"


def scenario_lines(
    scenario: str, seed: int, area: str, random: dict[str, Any], every: dict[str, Any]
) -> list[str]:
    """Markdown rows: one per scorer, expected p@10 % (CI), AUC and (model, oracle) ECE."""
    lines = []
    for scorer in SCENARIO_SCORERS:
        figures = random.get(scorer)
        if figures is None:
            continue
        all_rows = every.get(scorer) or {}
        ece = all_rows.get("ece")
        band = all_rows.get("ece_noise_upper") if scorer == "model" else None
        ece_text = "" if ece is None else f"{ece:.3f}" + ("" if band is None else f" (band ≤ {band:.3f})")
        expected = figures["expected_precision_at_10pct"]
        interval = _ci(figures.get("expected_precision_at_10pct_ci"))
        lines.append(
            f"| {scenario} | {seed} | {area} | {random['base_rate']:.2f} | {scorer} "
            f"| {expected:.3f} ({interval}) "
            f"| {figures['roc_auc']:.3f} | {ece_text} |"
        )
    return lines


def scenario_done(random: dict[str, Any]) -> dict[str, bool]:
    """The issue-11 done-when checks for one world × area (expected precision@10 %, random selection)."""
    model, oracle = random["model"], random["oracle"]
    complaints, logistic = random["complaints"], random["logistic"]
    key = "expected_precision_at_10pct"
    complaints_upper = (complaints.get(f"{key}_ci") or [complaints[key], complaints[key]])[1]
    return {
        f"model ≥ {SHARE_OF_ORACLE_DONE} × oracle": model[key] >= SHARE_OF_ORACLE_DONE * oracle[key],
        "model > complaints' upper 95 % bound": model[key] > complaints_upper,
        "model ≥ elastic net": model[key] >= logistic[key],
    }


def per_year_lines(
    scenario: str, seed: int, predictions: pl.DataFrame, areas: list[str], *, resamples: int, rng_seed: int
) -> list[str]:
    """Markdown rows per area and test year: expected precision@10 % of the model (95 % interval), the
    elastic net and the oracle on that year's random-selection inspections, and the model's share of the
    oracle — where a change part way through (``shifted``) shows, year by year."""
    lines = []
    for area in areas:
        rows = predictions.filter(pl.col("is_random") & (pl.col("risk_area") == area))
        for (year,), fold in rows.group_by("fold", maintain_order=True):
            groups = fold.get_column("fold").to_numpy()
            counts = np.vstack([np.ones((1, fold.height)), bootstrap_counts(groups, resamples, rng_seed)])
            truth = fold.get_column("score_oracle").to_numpy().astype(float)
            expected = {
                scorer: batch_ranking_metrics(
                    truth,
                    fold.get_column(f"score_{scorer}").to_numpy().astype(float),
                    groups,
                    [0.10],
                    counts,
                    with_auc=False,
                )["precision_at_10pct"]
                for scorer in ("model", "logistic", "oracle")
            }
            model, logistic, oracle = expected["model"], expected["logistic"], expected["oracle"]
            lines.append(
                f"| {scenario} | {seed} | {area} | {year} | {fold.height} "
                f"| {model[0]:.3f} ({_interval(model[1:])}) | {logistic[0]:.3f} | {oracle[0]:.3f} "
                f"| {model[0] / oracle[0]:.2f} |"
            )
    return lines


def markdown_line(row: dict[str, Any]) -> str:
    realised, expected = row["realised"], row["expected"]
    return (
        f"| {row['seed']} | {row['area']} | {row['n']} | {row['base_rate']:.2f} "
        f"| {realised:.3f} / {row['realised_oracle']:.3f} = {realised / row['realised_oracle']:.2f} "
        f"| {expected:.3f} / {row['expected_oracle']:.3f} = {expected / row['expected_oracle']:.2f} "
        f"| {row['expected'] / row['base_rate']:.2f}× "
        f"| {row['best_baseline']} {row['best_baseline_expected']:.3f} "
        f"| {row['ece']:.3f} ({row['ece_noise_upper']:.3f}; {row['ece_truth']:.3f}) |"
    )


def versus_lines(baseline: str, versus: list[dict[str, Any]]) -> None:
    """Print the model against ``baseline`` per world and area, and how often the model is at least it."""
    print()
    print(f"Model against {baseline}, random-selection inspections of the test folds:")
    print(
        "| scenario, world seed | area | expected p@10 %: model (95 % CI) | baseline (95 % CI) "
        "| difference (95 % CI) | ROC AUC: model (95 % CI) | baseline (95 % CI) "
        "| difference (95 % CI) | home-team leak: model | baseline |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for entry in versus:
        print(
            f"| {entry['seed']} | {entry['area']} | {entry['expected p@10 %']} | {entry['AUC']} "
            f"| {entry['home-team leak']} |"
        )
    for metric in ("expected p@10 %", "AUC"):
        wins = sum(entry[f"{metric} met"] == "yes" for entry in versus)
        print(f"model ≥ {baseline} on {metric}: {wins} of {len(versus)} world × area")


@dataclasses.dataclass
class Tables:
    """The tables of one truth, collected world by world."""

    rows: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    versus: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    versus_no_region: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    versus_team_neutral: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    per_scenario: list[str] = dataclasses.field(default_factory=list)
    by_year: list[str] = dataclasses.field(default_factory=list)
    families: list[dict[str, str]] = dataclasses.field(default_factory=list)
    done: dict[tuple[str, str], list[dict[str, bool]]] = dataclasses.field(default_factory=dict)

    def add(
        self,
        scenario: str,
        seed: int,
        random: dict[str, Any],
        every: dict[str, Any],
        predictions: pl.DataFrame,
        *,
        first: bool,
        by_year: bool,
        config: Config,
    ) -> None:
        """One world's figures; the first scenario's also go to the first table (the comparisons with the
        elastic net hold every scenario's)."""
        areas = [
            area
            for area in sorted(random)
            if random[area]["base_rate"] is not None and random[area]["base_rate"] < LOW_BASE_RATE
        ]
        for area in areas:
            self.per_scenario += scenario_lines(scenario, seed, area, random[area], every[area])
            self.done.setdefault((scenario, area), []).append(scenario_done(random[area]))
        resamples, rng_seed = config.model.bootstrap_resamples, config.model.seed
        self.families += [
            family_row(
                scenario,
                seed,
                area=area,
                base_rate=random[area]["base_rate"],
                predictions=predictions,
                resamples=resamples,
                rng_seed=rng_seed,
            )
            for area in sorted(random)
            if random[area]["base_rate"] is not None
        ]
        if by_year:
            self.by_year += per_year_lines(
                scenario, seed, predictions, areas, resamples=resamples, rng_seed=rng_seed
            )
        if first:
            self.rows += [target_row(seed, area, random[area], every[area]) for area in areas]
        world = f"{scenario} {seed}"
        self.versus += [
            {"seed": world, "area": area, **versus_baseline(predictions, area, resamples, rng_seed)}
            for area in areas
        ]
        for column, versus in (
            (NO_REGION_SCORE, self.versus_no_region),
            (TEAM_NEUTRAL_SCORE, self.versus_team_neutral),
        ):
            if column in predictions.columns:
                baseline = column.removeprefix("score_")
                versus += [
                    {
                        "seed": world,
                        "area": area,
                        **versus_baseline(predictions, area, resamples, rng_seed, baseline=baseline),
                    }
                    for area in areas
                ]

    def show(self) -> None:
        """Print the tables and the per-target counts."""
        print(
            "| world seed | area | random-selection n | base rate | p@10 % realised: model / oracle = ratio "
            "| expected: model / oracle = ratio | lift (expected) | best baseline (expected) "
            "| ECE all inspections (noise band 97.5 %; truth's ECE) |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for row in self.rows:
            print(markdown_line(row))
        print()
        for area in sorted({row["area"] for row in self.rows}):
            mine = [row for row in self.rows if row["area"] == area]
            met = [targets_met(row) for row in mine]
            ratio = statistics.median(row["expected"] / row["expected_oracle"] for row in mine)
            print(f"{area}: {len(mine)} worlds; median expected share of oracle {ratio:.2f}")
            for target in met[0]:
                print(f"  {target}: {sum(entry[target] for entry in met)} of {len(met)}")

        versus_lines("the elastic-net baseline", self.versus)
        print()
        print(
            "Chosen model and LightGBM against the elastic net, every area, random-selection inspections of "
            "the test folds (paired differences, 95 % CI; done = difference ≥ 0, or its interval covers 0 "
            f"with the point ≥ {DONE_TOLERANCE}):"
        )
        print(
            "| scenario | world seed | area | base rate | family per test year | chosen − elastic net "
            "(calibrated): expected p@10 % | ROC AUC | done (p@10 / AUC) | chosen − elastic-net baseline "
            "(uncalibrated): expected p@10 % | ROC AUC | done | ROC AUC within years | done "
            "| LightGBM − elastic net (calibrated): expected p@10 % | ROC AUC |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for row in self.families:
            print(row["line"])
        total = len(self.families)
        for key, what in (
            ("done", "chosen model against the calibrated elastic net"),
            ("done_raw", "chosen model against the uncalibrated elastic-net baseline"),
            ("done_raw_within", "chosen model against the uncalibrated baseline, ROC AUC within years"),
            ("lightgbm_done", "LightGBM alone against the calibrated elastic net"),
        ):
            print(f"{what}: done in {sum(r[key] == 'yes' for r in self.families)} of {total} world × area")
        if self.versus_no_region:
            versus_lines("the elastic net on the model's features (no region_code)", self.versus_no_region)
        if self.versus_team_neutral:
            versus_lines(
                "the team-neutral elastic net (no region_code; team and method, scored over their mix)",
                self.versus_team_neutral,
            )

        print()
        print("Per scenario (the first table is for the first scenario only):")
        print(
            "| scenario | world seed | area | base rate | scorer | expected p@10 % (95 % CI) "
            "| ROC AUC (random selection) | ECE all inspections |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for line in self.per_scenario:
            print(line)
        print()
        for (scenario, area), checks in self.done.items():
            counts = ", ".join(
                f"{name}: {sum(c[name] for c in checks)} of {len(checks)}" for name in checks[0]
            )
            print(f"{scenario} / {area}: {counts}")
        if self.by_year:
            print()
            print(
                "Per test year (random-selection inspections of that year's fold; expected precision@10 %):"
            )
            print(
                "| scenario | world seed | area | test year | n | model (95 % CI) | elastic net | oracle "
                "| model / oracle |"
            )
            print("|---|---|---|---|---|---|---|---|---|")
            for line in self.by_year:
                print(line)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", default="7,11,23,101,2026", help="comma-separated world seeds")
    parser.add_argument("--units", type=int, default=WorldParams().n_units)
    parser.add_argument("--years", type=int, default=WorldParams().years)
    parser.add_argument("--set", action="append", default=[], help="override a [model] setting: key=value")
    parser.add_argument(
        "--scenario", default="default", help=f"comma-separated scenarios among {', '.join(SCENARIOS)}"
    )
    parser.add_argument(
        "--truth",
        default="inspection",
        help="comma-separated, among inspection (the inspection's true probability, team included) and "
        "unit (the unit's own risk under the average team): the oracle and expected metrics of the tables, "
        "one set of tables per truth from the same fits",
    )
    parser.add_argument(
        "--elastic-net-without-region",
        action="store_true",
        help="also compare the model with the elastic net fitted on the model's features (no region_code), "
        "and with it fitted with the inspection covariates too and scored over their mix (team-neutral)",
    )
    parser.add_argument(
        "--by-year", action="store_true", help="also a table per test year (expected p@10 %%, model/oracle)"
    )
    args = parser.parse_args()
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    config = configured(args.set)
    scenarios = args.scenario.split(",")
    unknown = sorted(set(scenarios) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenarios {unknown}; known: {sorted(SCENARIOS)}")

    truths = args.truth.split(",")
    if unknown := sorted(set(truths) - set(TRUTHS)):
        parser.error(f"unknown truths {unknown}; known: {list(TRUTHS)}")

    tables = {truth: Tables() for truth in truths}
    for scenario in scenarios:
        for seed in (int(part) for part in args.seeds.split(",")):
            evaluated = world_evaluation(
                seed,
                args.units,
                args.years,
                config,
                scenario,
                truths=truths,
                without_region=args.elastic_net_without_region,
            )
            for truth, (random, every, predictions) in evaluated.items():
                tables[truth].add(
                    scenario,
                    seed,
                    random,
                    every,
                    predictions,
                    first=scenario == scenarios[0],
                    by_year=args.by_year,
                    config=config,
                )
            print(f"{scenario} world {seed}: evaluated", flush=True)
    for truth, collected in tables.items():
        print()
        print(f"## Truth: {truth} (--units {args.units} --years {args.years})")
        collected.show()


if __name__ == "__main__":
    main()
