"""Backtest: several model versions scored on the *same* inspections, with paired intervals.

A rolling-origin evaluation judges each training run on its own test years, so comparing two runs
mixes a change of model with a change of test years. A backtest fixes the inspections instead: every
listed model version scores the inspections decided in one window, each with the features as of its
own planning rule (the first day of the month of start − its ``lead_time_days``, the rule its training
set used), and the differences between versions are bootstrapped on the same resamples (paired), so
the interval of a difference carries only the uncertainty of the difference.

A version whose training data overlaps the window (inspections decided before its cut-off ``as_of``)
saw some of the labels it is judged on: it is marked ``in_sample`` with the number of such
inspections, and callers can refuse it (``tillsynsrisk backtest --out-of-sample-only``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from engine.config import Config, ModelSettings
from engine.contract import REGIONS
from models.artifact import AREA_COLUMN, RiskModel
from models.baselines import tie_break_jitter
from models.calibration_metrics import calibration_error
from models.dataset import inspection_as_of, labelled_inspections
from models.evaluation import POPULATIONS, WEIGHTED, population_filter, population_weights, probability_sample
from models.metrics import batch_ranking_metrics, bootstrap_counts
from models.refusals import GateRefusal, area_sv, decimal_sv, inspected_sv, metric_sv, reasons_en
from models.verdicts import POPULATION_SV

RANKING_METRICS = ("precision_at_5pct", "precision_at_10pct", "precision_at_20pct", "recall_at_10pct",
                   "lift_at_10pct", "roc_auc", "average_precision")  # fmt: skip
PAIRED_METRICS = (*RANKING_METRICS, "brier")
PAIRED_LEVEL = 0.95  # the paired intervals' level; "better" may be read on a wider one (family_level)


@dataclass(frozen=True)
class VersionToScore:
    """One registered model version as the backtest needs it."""

    version: str
    run_id: str
    as_of: dt.date  # training cut-off: its labels were decided before this date
    lead_time_days: int
    model: RiskModel
    stored_scores: pl.DataFrame | None = None  # unit_id, as_of, risk_area, p_deficiency (its own scores)


@dataclass
class BacktestResult:
    """The window, each version's sample status, and the long metrics and differences tables."""

    since: dt.date
    until: dt.date | None
    versions: list[dict[str, Any]]
    counts: pl.DataFrame  # population, risk_area, n, base_rate
    metrics: pl.DataFrame  # population, risk_area, version, metric, value, lower, upper
    # population, risk_area, version, reference, metric, value, lower, upper, family_lower, family_upper
    differences: pl.DataFrame
    scores: pl.DataFrame = field(default_factory=pl.DataFrame)
    newest_decision: dt.date | None = None
    regions: tuple[str, ...] = ()  # region codes the inspections were restricted to; () = every region

    @property
    def reference(self) -> str:
        """The version every difference is taken against (the first one listed)."""
        return str(self.versions[0]["version"])

    def window_text(self) -> str:
        """``2025-01-01 – 2025-12-31`` (decision dates, both ends inclusive) or ``2026-01-01 –``."""
        if self.until is not None:
            end = (self.until - dt.timedelta(days=1)).isoformat()
        else:
            end = self.newest_decision.isoformat() if self.newest_decision else ""
        return f"{self.since.isoformat()} – {end}".rstrip()

    def regions_text(self) -> str:
        """``01 Stockholm, 12 Skåne`` for a region-restricted backtest, ``""`` for all regions."""
        return ", ".join(f"{code} {REGIONS[code]}" for code in self.regions)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (``--json``, the MLflow artifact); ``regions`` only when restricted."""
        view: dict[str, Any] = {
            "since": self.since.isoformat(),
            "until": self.until.isoformat() if self.until else None,
            "reference": self.reference,
            "versions": self.versions,
            "counts": self.counts.to_dicts(),
            "metrics": self.metrics.to_dicts(),
            "differences": self.differences.to_dicts(),
        }
        if self.regions:
            view["regions"] = [{"region_code": code, "name": REGIONS[code]} for code in self.regions]
        return view


def checked_regions(codes: Sequence[str]) -> tuple[str, ...]:
    """The region codes sorted and without repeats; ValueError naming the valid codes for an unknown one."""
    unknown = sorted({code for code in codes if code not in REGIONS})
    if unknown:
        valid = ", ".join(f"{code} ({name})" for code, name in REGIONS.items())
        raise ValueError(f"unknown region code(s) {', '.join(unknown)}; valid codes: {valid}")
    return tuple(sorted(set(codes)))


def in_regions(window: pl.LazyFrame, units: pl.LazyFrame, regions: Sequence[str]) -> pl.LazyFrame:
    """The rows of ``window`` whose unit's ``region_code`` (the snapshot's units table) is in ``regions``."""
    chosen = units.filter(pl.col("region_code").cast(pl.String).is_in(list(regions))).select(
        pl.col("unit_id").cast(pl.String)
    )
    return window.with_columns(pl.col("unit_id").cast(pl.String)).join(
        chosen, on="unit_id", how="semi", maintain_order="left"
    )


def window_inspections(
    inspections: pl.LazyFrame,
    *,
    since: dt.date,
    until: dt.date | None,
    lead_time_days: int,
    max_weight: float = math.inf,
) -> pl.LazyFrame:
    """Labelled inspections (one row per inspection × area) decided in ``[since, until)``.

    ``max_weight`` truncates the inverse-probability weights of the ``weighted`` population.
    """
    frame = labelled_inspections(
        inspections, lead_time_days=lead_time_days, decided_before=until, max_weight=max_weight
    )
    return frame.filter(pl.col("decision_date") >= since).drop("as_of")


def planning_dates(window: pl.DataFrame, lead_times: Sequence[int]) -> list[dt.date]:
    """Every feature date the versions' planning rules need for ``window``'s inspections."""
    dates: set[dt.date] = set()
    for lead in set(lead_times):
        dates |= set(window.select(inspection_as_of(pl.col("start_date"), lead)).to_series().to_list())
    return sorted(dates)


def version_scores(version: VersionToScore, window: pl.DataFrame, features: pl.DataFrame) -> pl.DataFrame:
    """inspection_id, risk_area, p_<version>, stored_<version> for the window's rows this version scores.

    Where the version's own stored scores (``tillsynsrisk score`` snapshots) hold the unit and planning
    date, those are used as they were; the other rows are scored now from the features as of the
    version's planning rule. Rows of units without a feature row at that date are left out.
    """
    rows = window.select(
        "inspection_id",
        AREA_COLUMN,
        "unit_id",
        inspection_as_of(pl.col("start_date"), version.lead_time_days).alias("as_of"),
    )
    stored = _stored(version.stored_scores)
    rows = rows.join(stored, on=["unit_id", "as_of", AREA_COLUMN], how="left")
    todo = rows.filter(pl.col("stored_p").is_null())
    needed = todo.select("unit_id", "as_of").unique()
    scored = pl.DataFrame(schema={"unit_id": pl.String, "as_of": pl.Date, AREA_COLUMN: pl.String,
                                  "fresh_p": pl.Float64})  # fmt: skip
    if not needed.is_empty():
        unit_features = features.join(needed, on=["unit_id", "as_of"], how="inner")
        if not unit_features.is_empty():
            predicted = version.model.predict_frame(unit_features, contributions=False)
            scored = predicted.select(
                "unit_id",
                "as_of",
                pl.col(AREA_COLUMN).cast(pl.String),
                pl.col("p_deficiency").alias("fresh_p"),
            )
    rows = rows.join(scored, on=["unit_id", "as_of", AREA_COLUMN], how="left")
    name = version.version
    return rows.filter(pl.col("stored_p").is_not_null() | pl.col("fresh_p").is_not_null()).select(
        "inspection_id",
        AREA_COLUMN,
        pl.coalesce("stored_p", "fresh_p").alias(f"p_{name}"),
        pl.col("stored_p").is_not_null().alias(f"stored_{name}"),
    )


def _stored(scores: pl.DataFrame | None) -> pl.DataFrame:
    schema = {"unit_id": pl.String, "as_of": pl.Date, AREA_COLUMN: pl.String, "stored_p": pl.Float64}
    if scores is None or scores.is_empty():
        return pl.DataFrame(schema=schema)
    return scores.select(
        pl.col("unit_id").cast(pl.String),
        pl.col("as_of").cast(pl.Date),
        pl.col(AREA_COLUMN).cast(pl.String),
        pl.col("p_deficiency").cast(pl.Float64).alias("stored_p"),
    ).unique(["unit_id", "as_of", AREA_COLUMN], keep="last")


def bootstrap_interval(values: np.ndarray, level: float) -> tuple[float, float]:
    """The central ``level`` interval of bootstrap ``values`` (NaNs, e.g. a resample without positives,
    dropped; NaN bounds when none is left)."""
    finite = values[~np.isnan(values)]
    if not finite.size:
        return float("nan"), float("nan")
    alpha = (1.0 - level) / 2.0
    return float(np.quantile(finite, alpha)), float(np.quantile(finite, 1.0 - alpha))


def _resampled_metrics(
    y: np.ndarray, p: np.ndarray, counts: np.ndarray, fractions: Sequence[float], weights: np.ndarray | None
) -> dict[str, np.ndarray]:
    groups = np.zeros(y.shape[0])
    batch = batch_ranking_metrics(y, p, groups, fractions, counts, weights=weights)
    mass = counts if weights is None else counts * weights
    with np.errstate(invalid="ignore", divide="ignore"):
        batch["brier"] = (mass * (p - y) ** 2).sum(axis=1) / mass.sum(axis=1)
    return batch


def family_level(level: float, areas: int, settings: ModelSettings) -> float:
    """The interval level at which "better" is read for ``areas`` areas compared at once.

    ``paired_gate_family = "bonferroni"``: 1 − (1 − ``level``) / ``areas`` (five areas at 95 %: 99 %), so
    the chance that an equally good challenger clears zero in *some* area stays within 1 − ``level``;
    ``"none"``: ``level`` itself.
    """
    if settings.paired_gate_family == "none" or areas <= 1:
        return level
    return 1 - (1 - level) / areas


def paired_metrics(
    frame: pl.DataFrame, versions: Sequence[str], settings: ModelSettings, *, level: float = PAIRED_LEVEL
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Counts, per-version metrics and paired differences (version − first version) per population × area.

    ``frame`` has one row per inspection × area with ``is_random``, ``deficiency`` and one ``p_<version>``
    column per version (and ``probability_sample``, ``weight`` for the ``weighted`` population, skipped
    without them). Every version is bootstrapped on the same resamples of the same rows. Each
    difference carries its ``level`` interval and the family interval the paired gate reads
    (``family_lower``/``family_upper``, :func:`family_level`).
    """
    fractions = sorted({*settings.top_fractions, 0.05, 0.10, 0.20})
    count_rows: list[dict[str, Any]] = []
    metric_rows: list[dict[str, Any]] = []
    difference_rows: list[dict[str, Any]] = []
    for population in POPULATIONS:
        if population == WEIGHTED and "probability_sample" not in frame.columns:
            continue
        subset = frame.filter(population_filter(population))
        compared = subset.group_by(AREA_COLUMN).len().filter(pl.col("len") >= settings.paired_gate_min_n)
        wide = family_level(level, compared.height, settings)
        for (area,), rows in sorted(subset.group_by(AREA_COLUMN), key=lambda item: str(item[0][0])):
            y = rows.get_column("deficiency").to_numpy().astype(float)
            weights = population_weights(rows, population)
            count_rows.append(
                {"population": population, AREA_COLUMN: area, "n": rows.height,
                 "base_rate": float(np.average(y, weights=weights))}
            )  # fmt: skip
            counts = bootstrap_counts(np.zeros(rows.height), settings.bootstrap_resamples, settings.seed)
            ones = np.ones((1, rows.height))
            jitter = tie_break_jitter(rows.height, settings.seed)
            point: dict[str, dict[str, float]] = {}
            resampled: dict[str, dict[str, np.ndarray]] = {}
            for version in versions:
                p = rows.get_column(f"p_{version}").to_numpy().astype(float)
                ranked = p + jitter
                point[version] = {
                    k: float(v[0]) for k, v in _resampled_metrics(y, ranked, ones, fractions, weights).items()
                }
                point[version]["brier"] = float(np.average((p - y) ** 2, weights=weights))
                resampled[version] = _resampled_metrics(y, ranked, counts, fractions, weights)
                for metric in PAIRED_METRICS:
                    lower, upper = bootstrap_interval(resampled[version][metric], level)
                    metric_rows.append(
                        {"population": population, AREA_COLUMN: area, "version": version, "metric": metric,
                         "value": point[version][metric], "lower": lower, "upper": upper}
                    )  # fmt: skip
                ece = calibration_error(y, p, settings.ece_bins, weights)
                metric_rows.append(
                    {"population": population, AREA_COLUMN: area, "version": version, "metric": "ece",
                     "value": ece, "lower": None, "upper": None}
                )  # fmt: skip
            reference = versions[0]
            for version in versions[1:]:
                for metric in PAIRED_METRICS:
                    resampled_difference = resampled[version][metric] - resampled[reference][metric]
                    lower, upper = bootstrap_interval(resampled_difference, level)
                    family_lower, family_upper = bootstrap_interval(resampled_difference, wide)
                    difference_rows.append(
                        {"population": population, AREA_COLUMN: area, "version": version,
                         "reference": reference, "metric": metric,
                         "value": point[version][metric] - point[reference][metric],
                         "lower": lower, "upper": upper,
                         "family_lower": family_lower, "family_upper": family_upper}
                    )  # fmt: skip
    counts_schema = {"population": pl.String, AREA_COLUMN: pl.String, "n": pl.Int64, "base_rate": pl.Float64}
    long = {"population": pl.String, AREA_COLUMN: pl.String, "version": pl.String, "metric": pl.String,
            "value": pl.Float64, "lower": pl.Float64, "upper": pl.Float64}  # fmt: skip
    return (
        pl.DataFrame(count_rows, schema=counts_schema),
        pl.DataFrame(metric_rows, schema=long),
        pl.DataFrame(
            difference_rows,
            schema={**long, "reference": pl.String, "family_lower": pl.Float64, "family_upper": pl.Float64},
        ),
    )


def run_backtest(
    tables: Mapping[str, pl.LazyFrame],
    config: Config,
    versions: Sequence[VersionToScore],
    *,
    since: dt.date,
    until: dt.date | None = None,
    features: pl.DataFrame | None = None,
    regions: Sequence[str] = (),
) -> BacktestResult:
    """Score every version on the inspections decided in ``[since, until)`` and compare them paired.

    Only inspections every version could score (its unit had a feature row at each version's
    planning date) are compared. ``features`` (unit_id, as_of, …) may be passed when already built.
    ``regions`` (county codes) restricts the inspections to units of those regions (``tables["units"]``'s
    ``region_code``); empty = every region.
    """
    from features.pipeline import build_features  # the feature builder is heavy to import

    if not versions:
        raise ValueError("backtest needs at least one model version")
    if until is not None and until <= since:
        raise ValueError(f"the window is empty: --until {until} is not after --since {since}")
    names = [v.version for v in versions]
    if len(set(names)) != len(names):
        raise ValueError(f"model versions must be distinct, got {names}")
    window_plan = window_inspections(
        tables["inspections"],
        since=since,
        until=until,
        lead_time_days=config.model.lead_time_days,
        max_weight=config.model.max_weight,
    )
    chosen = checked_regions(regions)
    if chosen:
        window_plan = in_regions(window_plan, tables["units"], chosen)
    window = window_plan.collect()
    if window.is_empty():
        end = until.isoformat() if until else "the newest record"
        where = f" at units in region(s) {', '.join(chosen)}" if chosen else ""
        raise ValueError(
            f"no inspection was decided{where} between {since.isoformat()} and {end}; nothing to score"
        )
    if features is None:
        dates = planning_dates(window, [v.lead_time_days for v in versions])
        features = build_features(tables, dates, config).collect()
    frame = window.select(
        "inspection_id", AREA_COLUMN, "unit_id", "decision_date", "is_random", "deficiency",
        probability_sample(), "weight",
    )  # fmt: skip
    for version in versions:
        frame = frame.join(
            version_scores(version, window, features), on=["inspection_id", AREA_COLUMN], how="inner"
        )
    if frame.is_empty():
        raise ValueError("no inspection in the window could be scored by every version (no feature rows)")
    described = [_describe(version, frame, since) for version in versions]
    counts, metrics, differences = paired_metrics(frame, names, config.model)
    newest = frame.get_column("decision_date").max()
    return BacktestResult(
        since,
        until,
        described,
        counts,
        metrics,
        differences,
        frame,
        newest if isinstance(newest, dt.date) else None,
        chosen,
    )


def _describe(version: VersionToScore, frame: pl.DataFrame, since: dt.date) -> dict[str, Any]:
    inspections = frame.unique("inspection_id")
    in_sample = inspections.filter(pl.col("decision_date") < version.as_of).height
    return {
        "version": version.version,
        "run_id": version.run_id,
        "trained_as_of": version.as_of.isoformat(),
        "lead_time_days": version.lead_time_days,
        "in_sample": version.as_of > since and in_sample > 0,
        "in_sample_inspections": in_sample,
        "inspections": inspections.height,
        "stored_scores_used": int(frame.get_column(f"stored_{version.version}").sum()),
    }


def in_sample_refusal(result: BacktestResult) -> list[str]:
    """One sentence per version whose training data overlaps the window (empty = all out of sample)."""
    return [
        f"version {v['version']} (trained as of {v['trained_as_of']}) saw {v['in_sample_inspections']} of "
        f"the window's {v['inspections']} inspections in training: its figures are in sample"
        for v in result.versions
        if v["in_sample"]
    ]


@dataclass(frozen=True)
class PairedVerdict:
    """The paired gate's decision per area and its evidence, in Swedish and English."""

    replace: bool
    refusals: list[GateRefusal]
    evidence_sv: str
    evidence_en: str
    per_area: dict[str, str]

    @property
    def reasons(self) -> list[str]:
        """Why the challenger does not replace the champion, in English (empty = it does)."""
        return reasons_en(self.refusals)


def _percent(level: float) -> str:
    """``95 %``, ``97.5 %``, ``99 %``."""
    return f"{100 * level:.4g} %"


def paired_verdict(
    result: BacktestResult,
    challenger: str,
    settings: ModelSettings,
    area_names: Mapping[str, str] | None = None,
) -> PairedVerdict | None:
    """Does ``challenger`` replace the reference (champion) on the paired comparison? None = too few rows.

    Per area with at least ``paired_gate_min_n`` inspections of ``paired_gate_population``: *worse*
    when the whole 95 % interval of the difference (challenger − champion) of ``paired_gate_metric`` lies
    below zero, *better* when the difference is positive (``paired_gate_better = "point"``) or the whole
    family interval is above zero (``"interval"``; with ``paired_gate_family = "bonferroni"`` and k areas
    compared, the (1 − 0.05 / k) interval, :func:`family_level`). Replace only when worse nowhere and
    better somewhere. ``area_names`` (id → Swedish name) names the areas in the Swedish refusals.
    """
    population, metric = settings.paired_gate_population, settings.paired_gate_metric
    counts = result.counts.filter(
        (pl.col("population") == population) & (pl.col("n") >= settings.paired_gate_min_n)
    )
    areas = counts.get_column(AREA_COLUMN).to_list()
    if not areas:
        return None
    rows = result.differences.filter(
        (pl.col("population") == population)
        & (pl.col("metric") == metric)
        & (pl.col("version") == challenger)
        & pl.col(AREA_COLUMN).is_in(areas)
    )
    by_interval = settings.paired_gate_better == "interval"
    wide = family_level(PAIRED_LEVEL, len(areas), settings) if by_interval else PAIRED_LEVEL
    widened = wide != PAIRED_LEVEL
    verdicts: dict[str, str] = {}
    refusals: list[GateRefusal] = []
    inspected, measured = inspected_sv(population), metric_sv(metric)
    for row in rows.sort(AREA_COLUMN).iter_rows(named=True):
        value, lower, upper = row["value"], row["lower"], row["upper"]
        worse = upper is not None and upper < 0
        better_lower = row["family_lower"] if widened else lower
        better = (better_lower is not None and better_lower > 0) if by_interval else (value > 0)
        verdicts[row[AREA_COLUMN]] = "worse" if worse else "better" if better else "no clear difference"
        if worse:
            lower_sv, upper_sv = decimal_sv(lower, signed=True), decimal_sv(upper, signed=True)
            refusals.append(
                GateRefusal(
                    f"{row[AREA_COLUMN]}: paired {population} {metric} difference {value:+.3f} "
                    f"(95 % interval {lower:+.3f} to {upper:+.3f}) is worse than the champion beyond the "
                    "interval",
                    f"{area_sv(row[AREA_COLUMN], area_names)}: sämre än championen i den parade jämförelsen "
                    f"({inspected}): skillnaden i {measured} är {decimal_sv(value, signed=True)} och hela "
                    f"95 %-intervallet ({lower_sv} till {upper_sv}) ligger under noll",
                )
            )
    if not any(v == "better" for v in verdicts.values()):
        wide_sv = _percent(wide).replace(".", ",")
        if not by_interval:
            rule, rule_sv = "a positive difference", "en positiv skillnad"
        elif widened:
            rule = (
                f"the whole {_percent(wide)} interval of the difference above zero: 95 % for the family of "
                f"{len(areas)} areas, Bonferroni"
            )
            rule_sv = (
                f"att hela {wide_sv}-intervallet för skillnaden ligger över noll (95 % för en familj av "
                f"{len(areas)} områden, Bonferroni)"
            )
        else:
            rule = "the whole 95 % interval of the difference above zero"
            rule_sv = "att hela 95 %-intervallet för skillnaden ligger över noll"

        def _intervals(r: dict[str, Any]) -> str:
            text = f"{r['lower']:+.3f} to {r['upper']:+.3f}"
            if widened:
                text = f"95 %: {text}; {_percent(wide)}: {r['family_lower']:+.3f} to {r['family_upper']:+.3f}"
            return text

        def _intervals_sv(r: dict[str, Any]) -> str:
            def between(low: float | None, high: float | None) -> str:
                return f"{decimal_sv(low, signed=True)} till {decimal_sv(high, signed=True)}"

            text = between(r["lower"], r["upper"])
            if widened:
                text = f"95 %: {text}, {wide_sv}: {between(r['family_lower'], r['family_upper'])}"
            return text

        ordered = rows.sort(AREA_COLUMN).to_dicts()
        differences = "; ".join(f"{r[AREA_COLUMN]} {r['value']:+.3f} ({_intervals(r)})" for r in ordered)
        differences_sv = ", ".join(
            f"{area_sv(r[AREA_COLUMN], area_names)} {decimal_sv(r['value'], signed=True)} "
            f"({_intervals_sv(r)})"
            for r in ordered
        )
        refusals.append(
            GateRefusal(
                f"better than the champion in no area on paired {population} {metric} "
                f"(rule {settings.paired_gate_better!r}: {rule}); challenger − champion: {differences}",
                f"kandidaten är inte bättre än championen i något område i den parade jämförelsen av "
                f"{measured} ({inspected}), där regeln kräver {rule_sv}; "
                f"kandidat − champion: {differences_sv}",
            )
        )
    n_text = ", ".join(f"{a} {n}" for a, n in zip(counts[AREA_COLUMN], counts["n"], strict=True))
    words_sv = {"better": "bättre", "worse": "sämre", "no clear difference": "ingen säker skillnad"}
    outcome_sv = ", ".join(f"{a} {words_sv[v]}" for a, v in verdicts.items())
    outcome_en = ", ".join(f"{a} {v}" for a, v in verdicts.items())
    window = result.window_text()
    intervals_sv = "95 % parade bootstrapintervall"
    intervals_en = "95 % paired bootstrap intervals"
    if widened:
        intervals_sv += (
            f" ({_percent(wide).replace('.', ',')} för bättre: Bonferroni över {len(areas)} områden)"
        )
        intervals_en += f" ({_percent(wide)} for better: Bonferroni over {len(areas)} areas)"
    evidence_sv = (
        f"Beslutsunderlag: parad jämförelse av version {challenger} mot version {result.reference} på samma "
        f"tillsyner beslutade {window} ({POPULATION_SV.get(population, population)}; "
        f"n per område: {n_text}), mått {metric}, {intervals_sv}. Utfall: {outcome_sv}."
    )
    evidence_en = (
        f"Evidence: paired comparison of version {challenger} against version {result.reference} on the "
        f"same inspections decided {window} ({population} inspections; n per area: {n_text}), metric "
        f"{metric}, {intervals_en}. Outcome: {outcome_en}."
    )
    return PairedVerdict(not refusals, refusals, evidence_sv, evidence_en, verdicts)
