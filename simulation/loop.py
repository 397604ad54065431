"""The planning loop in a synthetic world: train, score, plan with each design, reveal, repeat.

``tillsynsrisk simulate`` runs, per seed, one synthetic world (the scenario's parameters with that seed)
whose history up to the first planning date is kept and whose later inspections are replaced by the
designs' own. At each yearly planning date (1 January of each of the last ``years`` years of the
world), for each design:

1. **train** (model designs ``top`` and ``pps`` only) on the inspections the design has produced so
   far, decided before the planning date (:func:`models.jobs.build_training_data`, a fixed small
   LightGBM configuration, the final split of :mod:`models.validation`); the first year's model is the
   same for every design (same history) and is trained once;
2. **score** every active unit (``predict_frame`` + :func:`serving.scoring.unit_context` +
   :func:`engine.scores.ranked_scores`); ``oracle`` ranks by the true probability, ``stratified`` and
   ``random`` do not use scores;
3. **plan** with :func:`serving.planning.plan_selection` (``oracle`` = top without exploration on the
   truth, ``random`` = pps with every probability equal);
4. **reveal** the outcomes of the planned units from the world's truth. Outcomes are *potential
   outcomes* drawn once per seed and year for every active unit (an inspection month, and for each
   risk area one uniform compared with the true probabilities at that month), so every design sees the
   same world (common random numbers) and the prevalence estimate can be compared with the realised
   share of the whole frame.

Metrics per seed, design and year are in :func:`simulate`'s ``metrics`` frame; :func:`summary_table`
gives means and 95 % intervals over seeds. The trade-off curve (:func:`tradeoff_curve`) is analytic
per seed on the first year's model: expected findings ``Σ π_i p_i`` and the anticipated standard error
of the estimate (:func:`serving.estimation.anticipated_standard_error` on the *true* probabilities) as
the pps floor or top's exploration share varies.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import polars as pl

from engine.config import Config, PlanningSettings
from engine.scores import ranked_scores
from models.jobs import build_training_data
from models.metrics import expected_calibration_error
from models.training import fit_risk_model
from models.validation import final_split
from serving.estimation import anticipated_standard_error, hajek_estimate
from serving.planning import (
    PPS,
    RANDOM,
    STRATIFIED,
    TOP,
    PlanParameters,
    PlanSelection,
    cooldown_units,
    plan_parameters,
    plan_selection,
)
from serving.scoring import unit_context
from synthetic.params import AREAS, WorldParams
from synthetic.scenarios import SCENARIOS, scenario_params
from synthetic.world import World, generate_world

logger = logging.getLogger(__name__)

ORACLE = "oracle"
SIM_RANDOM = "random"
SIM_DESIGNS = (TOP, PPS, STRATIFIED, ORACLE, SIM_RANDOM)
MODEL_DESIGNS = (TOP, PPS)
Progress = Callable[[str], None]


@dataclass(frozen=True)
class SimulationSettings:
    """What ``tillsynsrisk simulate`` is asked for."""

    scenario: str = "default"
    years: int = 4
    capacity: int = 150
    designs: tuple[str, ...] = SIM_DESIGNS
    seeds: tuple[int, ...] = (1, 2, 3, 4, 5)
    risk_area: str = "tillganglighet"
    exploration: float | None = None  # top's random share; None: the configuration's [planning] one
    # The pps arm's π_min ≈ ½·K/N on the default world (docs/planning.md): a setting of the comparison, not
    # the plans' default floor.
    floor: float = 0.1
    cooldown_months: int | None = None  # None: the configuration's [planning] one
    n_units: int | None = None
    # A fixed small LightGBM (fewer, larger boosting steps) keeps 35 fits inside the time budget.
    n_estimators: int = 150
    learning_rate: float = 0.1
    curve_floors: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
    curve_explorations: tuple[float, ...] = (0.0, 0.3, 0.5, 1.0)  # and the top arm's own share

    def __post_init__(self) -> None:
        if self.scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {self.scenario!r}; available: {sorted(SCENARIOS)}")
        unknown = sorted(set(self.designs) - set(SIM_DESIGNS))
        if unknown or not self.designs:
            raise ValueError(f"unknown designs {unknown}; allowed: {list(SIM_DESIGNS)}")
        if self.years < 1 or self.capacity < 1 or not self.seeds:
            raise ValueError("years and capacity must be at least 1, and at least one seed is needed")
        if self.risk_area not in AREAS:
            raise ValueError(f"unknown risk area {self.risk_area!r}; allowed: {list(AREAS)}")

    def with_defaults(self, planning: PlanningSettings) -> SimulationSettings:
        """These settings with the configured plan defaults (``[planning]``) where none was given."""
        exploration, cooldown_months = self.exploration, self.cooldown_months
        return replace(
            self,
            exploration=planning.exploration if exploration is None else exploration,
            cooldown_months=planning.cooldown_months if cooldown_months is None else cooldown_months,
        )

    def world_params(self, seed: int) -> WorldParams:
        """The scenario's world (synthetic.scenarios) with this seed and, if given, this size."""
        overrides: dict[str, Any] = {"seed": seed}
        if self.n_units is not None:
            overrides["n_units"] = self.n_units
        return scenario_params(self.scenario, **overrides)

    def as_dict(self) -> dict[str, Any]:
        return {
            key: (",".join(map(str, value)) if isinstance(value, tuple) else value)
            for key, value in self.__dict__.items()
        }


@dataclass
class SimulationResult:
    """Per-seed metrics, estimates, coverage and the trade-off curve."""

    settings: SimulationSettings
    metrics: pl.DataFrame
    estimates: pl.DataFrame
    coverage: pl.DataFrame
    curve: pl.DataFrame
    timings: dict[str, float] = field(default_factory=dict)


def simulation_config(config: Config, settings: SimulationSettings) -> Config:
    """``config`` with the fixed small LightGBM of the simulation (fewer boosting rounds)."""
    lightgbm = config.model.lightgbm.model_copy(
        update={"n_estimators": settings.n_estimators, "learning_rate": settings.learning_rate}
    )
    return config.model_copy(update={"model": config.model.model_copy(update={"lightgbm": lightgbm})})


def planning_dates(params: WorldParams, years: int) -> list[dt.date]:
    """1 January of each of the world's last ``years`` years; at least two years of history before."""
    end_year = params.end_month.year
    first = end_year - years + 1
    if first - params.start_month.year < 2:
        raise ValueError(
            f"a {params.years}-year world leaves {first - params.start_month.year} years of history before "
            f"{years} simulated years; at least 2 are needed (one to fit, one to calibrate)"
        )
    return [dt.date(year, 1, 1) for year in range(first, end_year + 1)]


def potential_outcomes(world: World, year: int, seed: int) -> pl.DataFrame:
    """Every unit active in ``year``: an inspection month and, per area, its finding if inspected then.

    Columns: ``unit_id``, ``month``, ``risk_area``, ``p_true``, ``p_serious_true``, ``finding``,
    ``start_date``, ``decision_date``. Drawn from ``seed`` and ``year`` only (common to every design).
    """
    rng = np.random.default_rng([seed, year, 14])
    truth = world.truth["risk"].filter(pl.col("month").dt.year() == year)
    months = truth.select("unit_id", "month").unique().sort("unit_id", "month")
    per_unit = months.group_by("unit_id", maintain_order=True).agg(pl.col("month"))
    pick = rng.random(per_unit.height)
    chosen_month = [row[int(u * len(row))] for row, u in zip(per_unit["month"].to_list(), pick, strict=True)]
    day = rng.integers(0, 28, per_unit.height)
    lag = np.maximum(np.round(rng.lognormal(np.log(80.0), 0.4, per_unit.height)), 14).astype(np.int64)
    units = (
        per_unit.select("unit_id")
        .with_columns(
            month=pl.Series(chosen_month, dtype=pl.Date),
            day=pl.Series(day),
            lag=pl.Series(lag),
        )
        .with_columns(start_date=pl.col("month") + pl.duration(days=pl.col("day")))
    )
    uniforms = rng.random((units.height, len(AREAS)))
    draws = pl.DataFrame(
        {
            "unit_id": np.repeat(units["unit_id"].to_numpy(), len(AREAS)),
            "risk_area": np.tile(np.array(AREAS), units.height),
            "u": uniforms.ravel(),
        }
    )
    return (
        units.join(draws, on="unit_id")
        .join(
            truth.select("unit_id", "month", "risk_area", "p_deficiency", "p_serious"),
            on=["unit_id", "month", "risk_area"],
        )
        .select(
            "unit_id",
            "month",
            "risk_area",
            pl.col("p_deficiency").alias("p_true"),
            pl.col("p_serious").alias("p_serious_true"),
            pl.when(pl.col("u") < pl.col("p_serious"))
            .then(pl.lit("serious"))
            .when(pl.col("u") < pl.col("p_deficiency"))
            .then(pl.lit("deficiency"))
            .otherwise(pl.lit("none"))
            .alias("finding"),
            "start_date",
            (pl.col("start_date") + pl.duration(days=pl.col("lag"))).alias("decision_date"),
        )
        .sort("unit_id", "risk_area")
    )


def _unit_context(world: World, unit_ids: pl.Series) -> pl.DataFrame:
    units = world.tables["units"]
    providers = world.tables["providers"]
    return (
        units.filter(pl.col("unit_id").is_in(unit_ids.implode()))
        .join(
            providers.select("provider_id", "ownership", pl.col("name").alias("provider_name")),
            on="provider_id",
        )
        .select(
            "unit_id",
            pl.col("name").alias("unit_name"),
            "provider_id",
            "provider_name",
            "region_code",
            "municipality_code",
            "unit_type",
            "ownership",
        )
    )


def truth_scores(outcomes: pl.DataFrame, context: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """A scores frame whose probabilities are the truth (for the oracle and the model-free designs)."""
    frame = outcomes.select(
        "unit_id",
        "risk_area",
        pl.col("p_true").alias("p_deficiency"),
        pl.col("p_serious_true").alias("p_serious"),
    ).with_columns(as_of=pl.lit(as_of))
    return ranked_scores(frame.join(context, on="unit_id").lazy()).collect()


def model_scores(
    world: World, inspections: pl.DataFrame, config: Config, as_of: dt.date, snapshot_id: str
) -> pl.DataFrame:
    """Train on ``inspections`` decided before ``as_of`` and score every unit active at ``as_of``."""
    tables = {name: frame.lazy() for name, frame in world.tables.items() if name != "inspections"}
    tables["inspections"] = inspections.lazy()
    data = build_training_data(tables, config, as_of=as_of, snapshot_id=snapshot_id)
    model = fit_risk_model(data.rows, final_split(as_of), data.catalog, config.risk_area_ids, config.model)
    predictions = model.predict_frame(data.latest_features, contributions=False)
    context = unit_context(
        data.latest_features.lazy(), world.tables["units"].lazy(), world.tables["providers"].lazy()
    ).drop("listed_patients")
    return ranked_scores(predictions.lazy().join(context, on="unit_id")).collect()


def _top_parameters(settings: SimulationSettings, planning: PlanningSettings, seed: int) -> PlanParameters:
    """The top arm's plan: the settings' capacity, area, exploration share and cooldown, no caps."""
    return plan_parameters(
        planning,
        capacity=settings.capacity,
        seed=seed,
        risk_area=settings.risk_area,
        design=TOP,
        exploration=settings.exploration,
        floor=0.0,
        cooldown_months=settings.cooldown_months,
    )


def _parameters(design: str, base: PlanParameters, floor: float) -> PlanParameters:
    """The plan of ``design`` from the top arm's ``base`` (same capacity, area, cooldown and seed)."""
    if design == TOP:
        return base
    if design == ORACLE:
        return replace(base, exploration=0.0)
    if design == PPS:
        return replace(base, design=PPS, floor=floor)
    if design == SIM_RANDOM:  # every probability equal: the floor is lowered to K/N
        return replace(base, design=PPS, floor=1.0)
    return replace(base, design=STRATIFIED)


def _mean(series: pl.Series) -> float:
    value = series.cast(pl.Float64).mean()
    return float(value) if isinstance(value, (int, float)) else math.nan


def revealed_inspections(
    selection: PlanSelection, outcomes: pl.DataFrame, design: str, year: int
) -> pl.DataFrame:
    """Contract inspection rows for the chosen units, findings from the potential outcomes."""
    chosen = selection.chosen.select("plan_position", "unit_id", "selection", "inclusion_probability")
    return (
        chosen.join(outcomes, on="unit_id")
        .select(
            pl.format(
                "SIM-{}-{}-{}",
                pl.lit(design),
                pl.lit(year),
                pl.col("plan_position").cast(pl.String).str.zfill(4),
            ).alias("inspection_id"),
            "unit_id",
            "start_date",
            "decision_date",
            "risk_area",
            "finding",
            "selection",
            "inclusion_probability",
        )
        .sort("inspection_id", "risk_area")
    )


def _estimates(
    selection: PlanSelection, outcomes: pl.DataFrame, design: str, seed: int, year: int
) -> list[dict[str, Any]]:
    """Hájek estimate per area vs the realised share of the frame (and top's exploration-only one)."""
    if selection.zero_probability_units > 0 or selection.chosen.is_empty():
        return []
    frame_ids = selection.frame["unit_id"]
    chosen = selection.chosen.select("unit_id", "reason", "inclusion_probability")
    rows: list[dict[str, Any]] = []
    estimators = [("design", pl.lit(True))]
    if design == TOP:
        estimators.append(("exploration_only", pl.col("reason") == RANDOM))
    for area in AREAS:
        area_outcomes = outcomes.filter(pl.col("risk_area") == area)
        in_frame = area_outcomes.filter(pl.col("unit_id").is_in(frame_ids.implode()))
        truth = _mean(in_frame["finding"].is_in(["deficiency", "serious"]))
        sample = chosen.join(area_outcomes, on="unit_id")
        for name, keep in estimators:
            part = sample.filter(keep)
            y = part["finding"].is_in(["deficiency", "serious"]).cast(pl.Float64).to_numpy()
            estimate = hajek_estimate(y, part["inclusion_probability"].to_numpy())
            if estimate is None:
                continue
            rows.append(
                {
                    "seed": seed,
                    "year": year,
                    "design": design,
                    "estimator": name,
                    "risk_area": area,
                    "truth": truth,
                    "estimate": estimate.share,
                    "standard_error": estimate.standard_error,
                    "lower": estimate.lower,
                    "upper": estimate.upper,
                    "error": estimate.share - truth,
                    "covered": estimate.lower <= truth <= estimate.upper,
                    "n": estimate.n,
                }
            )
    return rows


def _year_metrics(
    *,
    selection: PlanSelection,
    scores: pl.DataFrame | None,
    outcomes: pl.DataFrame,
    settings: SimulationSettings,
    design: str,
    seed: int,
    year: int,
) -> dict[str, Any]:
    area = settings.risk_area
    area_outcomes = outcomes.filter(pl.col("risk_area") == area)
    chosen = selection.chosen.select("unit_id", "p_deficiency").join(area_outcomes, on="unit_id")
    worst = area_outcomes.filter(pl.col("p_true") >= pl.col("p_true").quantile(0.9))
    found = chosen["finding"].is_in(["deficiency", "serious"])
    row: dict[str, Any] = {
        "seed": seed,
        "year": year,
        "design": design,
        "planned": selection.chosen.height,
        "eligible": selection.frame.height,
        "true_expected_findings": float(chosen["p_true"].sum()),
        "true_expected_serious": float(chosen["p_serious_true"].sum()),
        "findings": int(found.sum()),
        "serious_findings": int((chosen["finding"] == "serious").sum()),
        "worst_decile": worst.height,
        "worst_decile_reached": int(worst["unit_id"].is_in(chosen["unit_id"].implode()).sum()),
        "expected_findings": None,
        "calibration_gap_selected": None,
        "observed_minus_expected_selected": None,
        "ece_truth_population": None,
    }
    if scores is not None and design in MODEL_DESIGNS:
        predicted = float(chosen["p_deficiency"].sum())
        row["expected_findings"] = predicted
        n = max(chosen.height, 1)
        row["calibration_gap_selected"] = (predicted - float(chosen["p_true"].sum())) / n
        row["observed_minus_expected_selected"] = (float(found.sum()) - predicted) / n
        population = (
            scores.filter(pl.col("risk_area") == area)
            .select("unit_id", "p_deficiency")
            .join(area_outcomes.select("unit_id", "p_true"), on="unit_id")
        )
        # Against the true probabilities, not the drawn outcomes: the model's own calibration error.
        row["ece_truth_population"] = expected_calibration_error(
            population["p_true"].to_numpy(), population["p_deficiency"].to_numpy()
        )
    return row


def tradeoff_curve(  # noqa: PLR0917 - the year's state, one argument each
    scores: pl.DataFrame,
    outcomes: pl.DataFrame,
    recent: pl.DataFrame,
    settings: SimulationSettings,
    base: PlanParameters,
    year: int,
) -> list[dict[str, Any]]:
    """Expected findings and estimate error as the pps floor / top's exploration share vary (analytic).

    ``base`` is the top arm's plan (its seed names the world); the shares are ``settings.curve_explorations``
    and ``base``'s own.
    """
    seed = base.seed
    area_truth = outcomes.filter(pl.col("risk_area") == settings.risk_area).select("unit_id", "p_true")
    rows: list[dict[str, Any]] = []
    configurations: list[tuple[str, float, PlanParameters]] = []
    eligible = scores.filter(pl.col("risk_area") == settings.risk_area).height - recent.height
    share = settings.capacity / max(eligible, 1)
    for relative in settings.curve_floors:
        configurations.append((PPS, relative, replace(base, design=PPS, floor=min(1.0, relative * share))))
    for exploration in sorted({*settings.curve_explorations, base.exploration}):
        configurations.append((TOP, exploration, replace(base, exploration=exploration)))
    for design, setting, parameters in configurations:
        selection = plan_selection(scores, recent, parameters)
        frame = selection.frame.join(area_truth, on="unit_id")
        pi = frame["inclusion_probability"].to_numpy()
        p = frame["p_true"].to_numpy()
        error = anticipated_standard_error(p, pi)
        row = {
            "seed": seed,
            "year": year,
            "design": design,
            "setting": setting,
            "floor": parameters.floor,
            "expected_findings": float((pi * p).sum()),
            "estimate_rmse": error,
            "exploration_only_rmse": None,
        }
        if design == TOP and parameters.exploration > 0:
            pool = frame.filter(pl.col("inclusion_probability") < 1.0)
            drawn = float(pool["inclusion_probability"].sum())
            if drawn >= 1 and pool.height > 1:
                bias = _mean(pool["p_true"]) - float(p.mean())
                spread = pool["p_true"].to_numpy()
                variance = (
                    (1 - drawn / pool.height)
                    * float((spread * (1 - spread)).mean() + spread.var(ddof=1))
                    / drawn
                )
                row["exploration_only_rmse"] = math.sqrt(bias**2 + variance)
        rows.append(row)
    return rows


def simulate(
    config: Config, settings: SimulationSettings, progress: Progress | None = None
) -> SimulationResult:
    """Run the loop for every seed (see the module docstring)."""
    step = progress or (lambda _: None)
    settings = settings.with_defaults(config.planning)  # the report and MLflow show the values used
    sim_config = simulation_config(config, settings)
    metrics: list[dict[str, Any]] = []
    estimates: list[dict[str, Any]] = []
    coverage: list[dict[str, Any]] = []
    curve: list[dict[str, Any]] = []
    for seed in settings.seeds:
        params = settings.world_params(seed)
        world = generate_world(params, config)
        dates = planning_dates(params, settings.years)
        history = world.tables["inspections"].filter(pl.col("start_date") < dates[0])
        state = {design: history for design in settings.designs}
        inspected: dict[str, set[str]] = {design: set() for design in settings.designs}
        for as_of in dates:
            year = as_of.year
            outcomes = potential_outcomes(world, year, seed)
            context = _unit_context(world, outcomes["unit_id"].unique())
            oracle_scores = truth_scores(outcomes, context, as_of)
            shared_model: pl.DataFrame | None = None
            base = _top_parameters(settings, config.planning, seed * 10_000 + year)
            for design in settings.designs:
                scores: pl.DataFrame | None = None
                if design in MODEL_DESIGNS:
                    if as_of == dates[0] and shared_model is not None:
                        scores = shared_model
                    else:
                        scores = model_scores(world, state[design], sim_config, as_of, f"sim-{seed}-{design}")
                        if as_of == dates[0]:
                            shared_model = scores
                    step(f"seed {seed} {year} {design}: trained")
                recent = cooldown_units(state[design].lazy(), as_of, base.cooldown_months).collect()
                plan_on = scores if scores is not None else oracle_scores
                selection = plan_selection(plan_on, recent, _parameters(design, base, settings.floor))
                # diagonal: the world's inspections carry contract-v2 columns (team, method, counts) that a
                # simulated inspection leaves empty (its inspecting team is not drawn)
                state[design] = pl.concat(
                    [state[design], revealed_inspections(selection, outcomes, design, year)],
                    how="diagonal_relaxed",
                )
                inspected[design].update(selection.chosen["unit_id"].to_list())
                metrics.append(
                    _year_metrics(
                        selection=selection,
                        scores=scores,
                        outcomes=outcomes,
                        settings=settings,
                        design=design,
                        seed=seed,
                        year=year,
                    )
                )
                estimates.extend(_estimates(selection, outcomes, design, seed, year))
                if as_of == dates[0] and design == TOP and scores is not None:
                    curve.extend(
                        tradeoff_curve(scores, outcomes, recent, settings, replace(base, seed=seed), year)
                    )
        active = _unit_context(world, potential_outcomes_units(world, dates[-1].year))
        for design in settings.designs:
            never = active.with_columns(never=~pl.col("unit_id").is_in(list(inspected[design])))
            for attribute in ("region_code", "ownership"):
                for (group,), rows in never.group_by(attribute, maintain_order=True):
                    coverage.append(
                        {
                            "seed": seed,
                            "design": design,
                            "attribute": attribute,
                            "group": str(group),
                            "units": rows.height,
                            "never_inspected_share": _mean(rows["never"]),
                        }
                    )
        step(f"seed {seed} done")
    return SimulationResult(
        settings=settings,
        metrics=pl.DataFrame(metrics, infer_schema_length=None),
        estimates=pl.DataFrame(estimates, infer_schema_length=None),
        coverage=pl.DataFrame(coverage),
        curve=pl.DataFrame(curve, infer_schema_length=None),
    )


def potential_outcomes_units(world: World, year: int) -> pl.Series:
    """Units active at some month of ``year``."""
    return world.truth["risk"].filter(pl.col("month").dt.year() == year).get_column("unit_id").unique().sort()


def interval(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean and a 95 % t-interval over seeds (the mean itself with one seed)."""
    data = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=np.float64)
    if len(data) == 0:
        return math.nan, math.nan, math.nan
    mean = float(data.mean())
    if len(data) < 2:
        return mean, mean, mean
    half = t_quantile_975(len(data) - 1) * float(data.std(ddof=1)) / math.sqrt(len(data))
    return mean, mean - half, mean + half


# Student's t 97.5 % quantiles for 1–30 degrees of freedom (scipy is not a declared dependency).
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
         2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
         2.045, 2.042)  # fmt: skip


def t_quantile_975(degrees: int) -> float:
    """The 97.5 % quantile of Student's t (normal 1.96 beyond 30 degrees of freedom)."""
    return _T975[degrees - 1] if 1 <= degrees <= len(_T975) else 1.959964


def cumulative_metrics(metrics: pl.DataFrame) -> pl.DataFrame:
    """Per seed and design, the sums over all simulated years."""
    return (
        metrics.group_by("seed", "design")
        .agg(
            pl.col(
                "findings", "serious_findings", "true_expected_findings", "true_expected_serious", "planned"
            ).sum(),
            (pl.col("worst_decile_reached").sum() / pl.col("worst_decile").sum()).alias("worst_decile_share"),
        )
        .sort("design", "seed")
    )


def summary_table(result: SimulationResult) -> pl.DataFrame:
    """Per design and year (and ``all``): mean and 95 % interval over seeds of the headline metrics."""
    metrics = result.metrics.with_columns(
        (pl.col("worst_decile_reached") / pl.col("worst_decile")).alias("worst_decile_share")
    )
    estimates = result.estimates.filter(pl.col("risk_area") == result.settings.risk_area)
    rows: list[dict[str, Any]] = []
    cumulative = cumulative_metrics(result.metrics)
    for design in result.settings.designs:
        groups: list[tuple[str, pl.DataFrame, pl.DataFrame]] = [
            (str(year), metrics.filter((pl.col("design") == design) & (pl.col("year") == year)),
             estimates.filter((pl.col("design") == design) & (pl.col("year") == year)))
            for year in sorted(set(metrics["year"].to_list()))
        ]  # fmt: skip
        groups.append(
            (
                "all",
                cumulative.filter(pl.col("design") == design),
                estimates.filter(pl.col("design") == design),
            )
        )
        for period, frame, est in groups:
            row: dict[str, Any] = {"design": design, "period": period}
            for column in ("findings", "serious_findings", "true_expected_findings", "worst_decile_share"):
                mean, low, high = interval(frame[column].to_list())
                row |= {column: mean, f"{column}_lower": low, f"{column}_upper": high}
            if period != "all":
                for column in ("expected_findings", "calibration_gap_selected", "ece_truth_population"):
                    values = frame[column].to_list()
                    mean, low, high = interval([v for v in values if v is not None])
                    row |= {column: mean, f"{column}_lower": low, f"{column}_upper": high}
            for estimator in ("design", "exploration_only"):
                part = est.filter(pl.col("estimator") == estimator) if est.height else est
                prefix = "estimate" if estimator == "design" else "exploration_only"
                if part.height:
                    rmse = math.sqrt(_mean(part["error"] ** 2))
                    row |= {
                        f"{prefix}_rmse": rmse,
                        f"{prefix}_coverage": _mean(part["covered"]),
                        f"{prefix}_n": part.height,
                    }
            rows.append(row)
    return pl.DataFrame(rows, infer_schema_length=None)


def coverage_summary(result: SimulationResult) -> pl.DataFrame:
    """Interval coverage of the estimate per design and estimator over every area, seed and year."""
    if result.estimates.is_empty():
        return pl.DataFrame()
    return (
        result.estimates.group_by("design", "estimator")
        .agg(
            n=pl.len(),
            coverage=pl.col("covered").mean(),
            rmse=(pl.col("error") ** 2).mean().sqrt(),
            mean_error=pl.col("error").mean(),
            mean_standard_error=pl.col("standard_error").mean(),
        )
        .with_columns(coverage_mc_se=(0.95 * 0.05 / pl.col("n")).sqrt())
        .sort("design", "estimator")
    )
