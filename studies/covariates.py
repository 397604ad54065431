"""Inspection covariates (team, method): what learning them and neutralising them at scoring does.

Usage::

    .venv/bin/python -m studies.covariates [--seeds 42] [--scale 1,4] [--units 1200] \
        [--scenario realistic]

For each world seed and team-effect ``scale`` a default-scale world is generated in memory. A world
from a generator without contract-version-2 covariates gets them here, the way the synthetic world of
contract version 2 draws them: the region's IVO department inspects with probability 0.8 (another
department otherwise), the method is drawn 60/30/10, and the team shifts the logit of every area's
true deficiency probability by ``scale`` × (nord −0.25, mitt 0, öst 0.15, sydost −0.1, syd 0.25,
väst −0.05), centred; findings are redrawn from the shifted probabilities. (A world that already
has a ``team`` column keeps its own and its ``truth`` effect; ``--scale`` then does not apply.)

The rolling-origin folds are then fitted three ways and scored on the random-selection test rows:

- ``none``: no covariates (team and method dropped);
- ``mix``: covariates learnt, scored averaged over their training mix (what ``tillsynsrisk score``
  does when the plan does not name the team; the default);
- ``actual``: covariates learnt, scored with the team and method that really inspected;
- ``mix, region_with_team=…``: as ``mix`` with the other value of ``[model] region_with_team`` (whether
  the trees may split on the region when the team is a covariate).

Reported per area with a base rate under 60 %: ROC AUC against the realised findings, expected
precision@10 % against the true probability of a finding *at that inspection* (team included) and
against the unit's own risk (team effect removed: what a plan made before the team is known should
rank by), the mean absolute calibration gap per team (|observed − predicted| averaged over teams),
and the **home-team leak** (``home_team_leak``): how much of the effect of the department that inspects
the unit's region by default reaches the score, relative to the unit's own risk. A region is inspected
by its own department most of the time, so a model can learn that department's strictness as a region
effect; with ``mix`` (team-neutral scoring) the leak should be near 0. ``--scenario`` (default
``default``) generates a named scenario's world, e.g. ``realistic`` with its ±10-point team effects.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
from typing import Any

import numpy as np
import polars as pl

from engine.config import load_config
from models.evaluation import ORACLE_COLUMN
from models.jobs import build_training_data, evaluation_splits
from models.metrics import batch_ranking_metrics
from models.training import fit_risk_model, predict_rows
from studies.leak import home_team_leak
from synthetic.numeric import shift_log_odds
from synthetic.params import WorldParams
from synthetic.regions import IVO_DEPARTMENT_OF_REGION
from synthetic.scenarios import scenario_params
from synthetic.world import generate_world

TEAM_EFFECTS = {"nord": -0.25, "mitt": 0.0, "ost": 0.15, "sydost": -0.1, "syd": 0.25, "vast": -0.05}
METHODS = {"platsbesok": 0.6, "dokumentgranskning": 0.3, "intervju": 0.1}
LOW_BASE_RATE = 0.6
OWN_RISK = "own_p_deficiency"
HOME_EFFECT = "home_team_effect"


def with_covariates(
    tables: dict[str, pl.DataFrame], truth: pl.DataFrame, scale: float, seed: int
) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    """Tables and truth with team and method (added and acted on when the world lacks them)."""
    inspections = tables["inspections"]
    if "team" in inspections.columns:
        effect = truth.get_column("team_effect").to_numpy() if "team_effect" in truth.columns else 0.0
        own = shift_log_odds(truth.get_column("p_deficiency").to_numpy(), -effect)
        return tables, truth.with_columns(pl.Series(OWN_RISK, own))
    rng = np.random.default_rng(seed + 1_000)
    teams = list(TEAM_EFFECTS)
    visits = (
        inspections.select("inspection_id", "unit_id")
        .unique("inspection_id", maintain_order=True)
        .join(tables["units"].select("unit_id", "region_code"), on="unit_id", how="left")
    )
    home = np.array([teams.index(IVO_DEPARTMENT_OF_REGION.get(r, "mitt")) for r in visits["region_code"]])
    away = rng.random(visits.height) >= 0.8
    team = np.where(away, (home + rng.integers(1, len(teams), visits.height)) % len(teams), home)
    raw = scale * np.array(list(TEAM_EFFECTS.values()))[team]
    visits = visits.select(
        "inspection_id",
        pl.Series("team", np.array(teams)[team]),
        pl.Series("method", rng.choice(list(METHODS), size=visits.height, p=list(METHODS.values()))),
        pl.Series("team_effect", raw - raw.mean()),
    )
    rows = (
        inspections.join(visits, on="inspection_id", how="left")
        .join(truth, on=["inspection_id", "risk_area"], how="left")
        .rename({"p_deficiency": OWN_RISK})
    )
    own = rows.get_column(OWN_RISK).to_numpy()
    shifted = shift_log_odds(own, rows.get_column("team_effect").to_numpy())
    serious_share = (rows.get_column("p_serious").to_numpy() / np.maximum(own, 1e-12)).clip(0, 1)
    draws = rng.random(rows.height)
    finding = np.where(
        draws < shifted * serious_share, "serious", np.where(draws < shifted, "deficiency", "none")
    )
    rows = rows.with_columns(pl.Series("finding", finding), pl.Series("p_deficiency", shifted))
    tables = {**tables, "inspections": rows.select(*inspections.columns, "team", "method")}
    return tables, rows.select("inspection_id", "risk_area", "p_deficiency", OWN_RISK)


def fold_predictions(seed: int, scale: float, units: int, scenario: str = "default") -> pl.DataFrame:
    """Random-selection test rows of every fold with every way's scores, both truths and the
    team effect of the unit's home department (``HOME_EFFECT``)."""
    config = load_config()
    world = generate_world(scenario_params(scenario, seed=seed, n_units=units), config)
    own_teams = "team" in world.tables["inspections"].columns
    tables, truth = with_covariates(world.tables, world.truth["inspections"], scale, seed)
    effects = world.params.team_effects if own_teams else {t: scale * e for t, e in TEAM_EFFECTS.items()}
    home_effect = {code: effects.get(team, 0.0) for code, team in IVO_DEPARTMENT_OF_REGION.items()}
    as_of = dt.date(int(world.params.end[:4]) + 1, 1, 1)
    data = build_training_data(
        {name: frame.lazy() for name, frame in tables.items()},
        config,
        as_of=as_of,
        snapshot_id=f"covariates-{seed}",
        truth_inspections=truth.select("inspection_id", "risk_area", "p_deficiency").lazy(),
    )
    rows = data.rows.join(
        truth.select("inspection_id", "risk_area", OWN_RISK), on=["inspection_id", "risk_area"]
    )
    parts = []
    for split in evaluation_splits(rows, config, as_of):
        test = rows.filter(split.test_filter() & pl.col("is_random"))
        with_teams = fit_risk_model(rows, split, data.catalog, config.risk_area_ids, config.model)
        without = fit_risk_model(
            rows.drop("team", "method"), split, data.catalog, config.risk_area_ids, config.model
        )
        other_region = "keep" if config.model.region_with_team == "drop" else "drop"
        region_flipped = fit_risk_model(
            rows,
            split,
            data.catalog,
            config.risk_area_ids,
            config.model.model_copy(update={"region_with_team": other_region}),
        )
        key = ["inspection_id", "risk_area"]
        scores = {
            "none": predict_rows(without, test.drop("team", "method")),
            "mix": predict_rows(with_teams, test, covariates="mix"),
            "actual": predict_rows(with_teams, test, covariates="actual"),
            f"mix, region_with_team={other_region}": predict_rows(region_flipped, test, covariates="mix"),
        }
        frame = test.select(*key, "team", "region_code", "deficiency", ORACLE_COLUMN, OWN_RISK).with_columns(
            fold=pl.lit(split.name),
            **{
                HOME_EFFECT: pl.col("region_code")
                .cast(pl.String)
                .replace_strict(home_effect, default=0.0, return_dtype=pl.Float64)
            },
        )
        for name, predicted in scores.items():
            frame = frame.join(predicted.select(*key, pl.col("p_deficiency").alias(f"score_{name}")), on=key)
        parts.append(frame)
    return pl.concat(parts)


def area_figures(frame: pl.DataFrame) -> dict[str, dict[str, float]]:
    """Per way: ROC AUC, expected p@10 % against both truths, mean calibration gap over teams."""
    groups = frame.get_column("fold").to_numpy()
    ones = np.ones((1, frame.height))
    out: dict[str, dict[str, float]] = {}
    ways = [column.removeprefix("score_") for column in frame.columns if column.startswith("score_")]
    for way in ways:
        scores = frame.get_column(f"score_{way}").to_numpy()
        labels = frame.get_column("deficiency").to_numpy().astype(float)
        figures: dict[str, float] = {
            "auc": float(batch_ranking_metrics(labels, scores, groups, [0.1], ones)["roc_auc"][0])
        }
        for truth, name in ((ORACLE_COLUMN, "expected_at_inspection"), (OWN_RISK, "expected_own_risk")):
            values = frame.get_column(truth).to_numpy()
            top = batch_ranking_metrics(values, scores, groups, [0.1], ones, with_auc=False)
            figures[name] = float(top["precision_at_10pct"][0])
        gaps = frame.group_by("team").agg(
            (pl.col("deficiency").mean() - pl.col(f"score_{way}").mean()).abs().alias("gap")
        )
        figures["team_gap"] = float(gaps.get_column("gap").mean() or 0.0)  # type: ignore[arg-type]
        figures["home_leak"] = home_team_leak(
            scores, frame.get_column(OWN_RISK).to_numpy(), frame.get_column(HOME_EFFECT).to_numpy()
        )
        out[way] = figures
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="42")
    parser.add_argument("--scale", default="1,4", help="team-effect multipliers to try")
    parser.add_argument("--units", type=int, default=WorldParams().n_units)
    parser.add_argument("--scenario", default="default", help="synthetic.scenarios name")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    print(
        "| seed | scale | area | way | ROC AUC | expected p@10 % (at the inspection) "
        "| expected p@10 % (unit's own risk) | mean |observed − predicted| over teams "
        "| home-team leak |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for seed in (int(s) for s in args.seeds.split(",")):
        for scale in (float(s) for s in args.scale.split(",")):
            frame = fold_predictions(seed, scale, args.units, args.scenario)
            for (area,), rows in frame.group_by("risk_area", maintain_order=True):
                if rows.get_column("deficiency").mean() >= LOW_BASE_RATE:  # type: ignore[operator]
                    continue
                figures: dict[str, Any] = area_figures(rows)
                for way, f in figures.items():
                    print(
                        f"| {seed} | {scale:g} | {area} | {way} | {f['auc']:.3f} "
                        f"| {f['expected_at_inspection']:.3f} | {f['expected_own_risk']:.3f} "
                        f"| {f['team_gap']:.3f} | {f['home_leak']:+.2f} |",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
