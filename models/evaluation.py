"""Rolling-origin evaluation of the model against the baselines and the oracle.

Every test fold produces one prediction frame (one row per test inspection × area, one score column
per scorer); metrics are computed from those frames on three populations: ``random`` (inspections
chosen by random selection — the unbiased estimate), ``all`` (every inspection, unweighted, biased
towards units that were chosen because they looked risky) and ``weighted`` (every inspection drawn
with a known inclusion probability π, :func:`probability_sample`, weighted by 1/π truncated at
``max_weight``: Hájek estimates of the figures on the frames the designs drew from, on more rows
than the random subset alone).
Beside every paired difference (model − baseline) stands its minimum detectable difference: the
smallest true difference the sample could have detected with 80 % power at the 5 % level. Only
inspected units have labels.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from engine.config import Config
from engine.contract import REGIONS
from engine.scores import DEFAULT_RANKING_TARGET, RANKING_SCORES
from models import baselines
from models.artifact import AREA_COLUMN, ModelFeature, RiskModel, features_for_area
from models.calibration_metrics import calibration_error, ece_interval, ece_noise_band
from models.dataset import size_band
from models.metrics import (
    ScorerResamples,
    bootstrap_counts,
    bootstrap_standard_error,
    effective_sample_size,
    fraction_tag,
    minimum_detectable_difference,
    percentile_interval,
    reliability_table,
    scorer_resamples,
    selected_count,
    subgroup_audit,
)
from models.targets import label_column, target_of
from models.training import fit_risk_model, fit_risk_models, predict_rows
from models.validation import Split
from models.verdicts import BASELINES, MDD_PREFIX, PAIRED_PREFIX, Verdict, area_verdict

logger = logging.getLogger(__name__)

# "model" is the family chosen per area (models.family); "elastic_net", "lightgbm" and "blend" are each
# family's own scores of the same test rows. "logistic", the elastic-net baseline, is the elastic-net
# family before calibration: the same ranking within a test year.
SCORERS = (
    "model",
    "oracle",
    "random",
    "complaints",
    "banding",
    "logistic",
    "elastic_net",
    "lightgbm",
    "blend",
)
FAMILY_SCORERS = ("elastic_net", "lightgbm", "blend")
SCORER_LABELS = {  # in Swedish, as the report's tables and charts name them
    "model": "Modellen",
    "elastic_net": "Elastiskt nät (kalibrerat)",
    "lightgbm": "Gradient boosting (LightGBM)",
    "blend": "Medelvärde av LightGBM och elastiskt nät",
    "oracle": "Facit (sann sannolikhet)",
    "random": "Slumpvis urval",
    "complaints": "Klagomål per listade",
    "banding": "Indikatorer över trösklar",
    "logistic": "Logistisk regression",
}
WEIGHTED = "weighted"
POPULATIONS = ("random", "all", WEIGHTED)
UNWEIGHTED_POPULATIONS = ("random", "all")
ALL_FOLDS = "all"
ORACLE_COLUMN = "true_p_deficiency"
SERIOUS_ORACLE_COLUMN = "true_p_serious"


def _area_baseline_scores(
    train: pl.DataFrame,
    test: pl.DataFrame,
    *,
    catalog: Sequence[ModelFeature],
    area: str,
    config: Config,
    seed: int,
    label: str = "deficiency",
    logistic_fit: LogisticFit | None = None,
) -> dict[str, np.ndarray]:
    features = features_for_area(catalog, area)
    rules = baselines.banding_rules(catalog, area, train, config, config.model.banding_rate_quantile)
    logistic, levels = logistic_fit or baselines.fit_logistic(
        train, features, seed, config.model.lightgbm.num_threads, label=label
    )
    complaints = baselines.complaints_feature(catalog, area)
    return {
        "random": baselines.random_scores(test.height, seed),
        "complaints": baselines.complaints_scores(test, complaints, seed + 1),
        "banding": baselines.banding_scores(test, rules, seed + 2),
        "logistic": baselines.logistic_scores(logistic, levels, test, features),
    }


# The elastic-net baseline of one area already fitted on the split's training rows (pipeline, levels).
LogisticFit = tuple[Any, dict[str, list[str]]]


def evaluate_split(
    rows: pl.DataFrame,
    split: Split,
    catalog: Sequence[ModelFeature],
    config: Config,
    model: RiskModel | None = None,
    *,
    scorers: Mapping[str, RiskModel] | None = None,
    logistic: Callable[[str], LogisticFit | None] | None = None,
) -> tuple[RiskModel, pl.DataFrame]:
    """Fit on the split's past (unless ``model`` is the split's fitted model), score its test fold
    with the model and every baseline.

    Returns the fitted model and a prediction frame with one ``score_<scorer>`` column per scorer (the
    families' empty without ``scorers``).
    Each area is scored and labelled by the ranking target of the model (``target``, ``label``;
    :mod:`models.targets`): ``score_model`` is the target's probability, the logistic baseline is
    fitted on the target's label and the oracle is the true probability of that label.
    ``p_deficiency`` and ``p_serious`` stay for the calibration metrics.

    ``scorers``: other fitted models of the split scored as extra scorers (``elastic_net``,
    ``lightgbm``, ``blend``: each model family's own scores, :mod:`models.family`); ``logistic``: the
    elastic-net baseline of an area when it is fitted already (the family choice fits it, on the area's
    target label), fitted here otherwise.
    """
    settings = config.model
    if model is None:
        model = fit_risk_model(rows, split, catalog, config.risk_area_ids, settings)
    train = rows.filter(split.fit_filter() | split.held_out_filter())
    test = rows.filter(split.test_filter())
    predictions = predict_rows(model, test)
    parts = []
    for index, area in enumerate(config.risk_area_ids):
        area_test = test.filter(pl.col(AREA_COLUMN) == area)
        if area_test.is_empty():
            continue
        target = target_of(model.metadata, area)
        scores = _area_baseline_scores(
            train.filter(pl.col(AREA_COLUMN) == area),
            area_test,
            catalog=catalog,
            area=area,
            config=config,
            seed=settings.seed + 10 * index,
            label=label_column(target),
            # The family choice's elastic net of the area, fitted on the same (target's) label.
            logistic_fit=None if logistic is None else logistic(area),
        )
        oracle = _oracle(area_test, target)
        parts.append(
            area_test.select(
                pl.lit(split.name).alias("fold"),
                "inspection_id",
                AREA_COLUMN,
                "unit_id",
                "start_date",
                "is_random",
                "deficiency",
                "serious",
                pl.lit(target).alias("target"),
                pl.col(label_column(target)).alias("label"),
                "weight",
                *([probability_sample()] if {"weight_known", "selection"} <= set(area_test.columns) else []),
                pl.col("ownership").cast(pl.String).fill_null("unknown"),
                pl.col("region_code").cast(pl.String).fill_null("unknown"),
                size_band(pl.col("listed_patients"), settings.unit_size_bands).alias("size_band"),
            ).with_columns(
                pl.Series("score_oracle", oracle.to_numpy(), dtype=pl.Float64),
                *[pl.Series(f"score_{name}", values, dtype=pl.Float64) for name, values in scores.items()],
            )
        )
    frame = pl.concat(parts) if parts else pl.DataFrame()
    if frame.is_empty():
        return model, frame
    frame = frame.join(predictions, on=["inspection_id", AREA_COLUMN], how="left")
    frame = frame.with_columns(_target_score(pl.col("target")).alias("score_model"))
    for name in FAMILY_SCORERS:
        other = (scorers or {}).get(name)
        if other is None:
            frame = frame.with_columns(pl.lit(None, dtype=pl.Float64).alias(f"score_{name}"))
            continue
        # Each family ranks by the row's target, as the model does (from its p_deficiency and p_serious).
        keys = ["inspection_id", AREA_COLUMN]
        scored = (
            predict_rows(other, test)
            .select(*keys, "p_deficiency", "p_serious")
            .join(frame.select(*keys, "target"), on=keys, how="inner")
            .select(*keys, _target_score(pl.col("target")).alias(f"score_{name}"))
        )
        frame = frame.join(scored, on=keys, how="left")
    return model, frame


def _target_score(target: pl.Expr) -> pl.Expr:
    """The model's score of each row's target: the one the scoring snapshot ranks by (``RANKING_SCORES``)."""
    score = RANKING_SCORES[DEFAULT_RANKING_TARGET]
    for name, expression in RANKING_SCORES.items():
        score = pl.when(target == name).then(expression).otherwise(score)
    return score


def _oracle(rows: pl.DataFrame, target: str) -> pl.Series:
    """The true probability of ``target``'s label (synthetic worlds only; null where unknown)."""
    column = ORACLE_COLUMN if target == "deficiency" else SERIOUS_ORACLE_COLUMN
    if column in rows.columns:
        return rows.get_column(column).cast(pl.Float64)
    return pl.Series(column, [None] * rows.height, dtype=pl.Float64)


def evaluated_label(frame: pl.DataFrame) -> np.ndarray:
    """The label each row's ranking is evaluated against (deficiency in frames from before targets)."""
    column = "label" if "label" in frame.columns else "deficiency"
    return frame.get_column(column).to_numpy().astype(float)


def deficiency_probability(frame: pl.DataFrame) -> np.ndarray:
    """The model's calibrated P(deficiency) of each row (``score_model`` in frames from before targets)."""
    column = "p_deficiency" if "p_deficiency" in frame.columns else "score_model"
    return frame.get_column(column).to_numpy().astype(float)


def evaluated_targets(predictions: pl.DataFrame) -> dict[str, list[str]]:
    """Per area, the ranking targets its test folds were evaluated against (one unless they changed)."""
    if "target" not in predictions.columns:
        return {}
    out: dict[str, list[str]] = {}
    for area, target in predictions.select(AREA_COLUMN, "target").unique(maintain_order=True).iter_rows():
        out.setdefault(str(area), []).append(str(target))
    return out


def probability_sample() -> pl.Expr:
    """``probability_sample``: the row was drawn with a known inclusion probability π > 0.

    π known and not a risk-ranked pick: a plan's ``top`` picks record π = 1, but the units it passed over
    had π = 0, which no weight can stand for (a ``pps`` plan's certainty units are ``random`` selections).
    """
    return (pl.col("weight_known") & (pl.col("selection") != "risk_based")).alias("probability_sample")


def population_filter(population: str) -> pl.Expr:
    """Rows of ``population``: ``random`` (random selection only), ``all``, or ``weighted``
    (:func:`probability_sample`)."""
    if population == "random":
        return pl.col("is_random")
    if population == "all":
        return pl.lit(value=True)
    if population == WEIGHTED:
        return pl.col("probability_sample")
    raise ValueError(f"population must be one of {POPULATIONS}, got {population!r}")


def _metric_rows(
    frame: pl.DataFrame,
    fractions: Sequence[float],
    resamples: int,
    seed: int,
    n_bins: int,
    *,
    weights: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """Every figure of one population × area × fold; ``weights`` (1/π): Hájek estimates throughout.

    Ranking metrics are against each row's target label, calibration metrics on P(deficiency).
    ``base_rate`` is the share of the target's label (what a random selection finds); ``deficiency_rate``
    the share with any deficiency, whatever the target.
    """
    y = evaluated_label(frame)
    deficiency = frame.get_column("deficiency").to_numpy().astype(float)
    # Each fold as its rank among the folds' names: the same groups in the same order as the names, but
    # the resamples' per-fold loops compare integers instead of Python strings.
    groups = np.unique(frame.get_column("fold").to_numpy(), return_inverse=True)[1]
    rows: list[dict[str, Any]] = [
        {"scorer": "data", "metric": "n", "value": float(frame.height)},
        {"scorer": "data", "metric": "base_rate", "value": float(np.average(y, weights=weights))},
        {
            "scorer": "data",
            "metric": "deficiency_rate",
            "value": float(np.average(deficiency, weights=weights)),
        },
        {
            "scorer": "data",
            "metric": "serious_rate",
            "value": float(np.average(frame.get_column("serious").to_numpy(), weights=weights)),
        },
        # How many rows each top fraction selects over the folds (the verdict's test against random;
        # weighted rows count as Kish's effective number of unweighted ones).
        *[
            {
                "scorer": "data",
                "metric": f"selected_at_{fraction_tag(f)}",
                "value": float(
                    selected_count(groups, f)
                    if weights is None
                    else max(1, round(f * effective_sample_size(weights)))
                ),
            }
            for f in fractions
        ],
        *(
            []
            if weights is None
            else [{"scorer": "data", "metric": "effective_n", "value": effective_sample_size(weights)}]
        ),
    ]
    oracle = frame.get_column("score_oracle").to_numpy().astype(float)
    has_oracle = not np.isnan(oracle).any()
    # One set of resamples for every scorer and metric (the same seed would draw the same ones).
    counts = bootstrap_counts(groups, resamples, seed)
    measured: dict[str, ScorerResamples] = {}
    for scorer in SCORERS:
        if f"score_{scorer}" not in frame.columns:  # predictions from before the family scorers
            continue
        scores = frame.get_column(f"score_{scorer}").to_numpy().astype(float)
        if np.isnan(scores).all():
            continue
        measured[scorer] = scorer_resamples(
            y, scores, fractions, groups=groups, counts=counts, weights=weights
        )
        rows += [
            {"scorer": scorer, "metric": name, "value": i.estimate, "lower": i.lower, "upper": i.upper}
            for name, i in measured[scorer].intervals().items()
        ]
        if has_oracle:
            rows += _expected_precision_rows(
                scorer, oracle, scores, fractions=fractions, groups=groups, counts=counts, weights=weights
            )
    rows += _paired_difference_rows(frame, measured, fractions)
    # Calibration is of P(deficiency) whatever ranks the area: it is the probability the pages show.
    y = deficiency
    p = deficiency_probability(frame)
    if has_oracle and "target" in frame.columns and (frame.get_column("target") != "deficiency").any():
        has_oracle = False  # the oracle column holds the true P(serious) there, not P(deficiency)
    ece = ece_interval(
        y, p, groups=groups, n_bins=n_bins, resamples=resamples, seed=seed, counts=counts, weights=weights
    )
    noise = ece_noise_band(p, n_bins=n_bins, resamples=resamples, seed=seed, weights=weights)
    rows += [
        {"scorer": "model", "metric": "ece", "value": ece.estimate, "lower": ece.lower, "upper": ece.upper},
        # What a perfectly calibrated model with these predictions would show on these rows.
        {
            "scorer": "model",
            "metric": "ece_noise",
            "value": noise.estimate,
            "lower": noise.lower,
            "upper": noise.upper,
        },
        {"scorer": "model", "metric": "brier", "value": _brier(y, p, weights)},
    ]
    if has_oracle:
        # The true probabilities' ECE on the same rows: the noise floor no model can go below.
        rows.append(
            {"scorer": "oracle", "metric": "ece", "value": calibration_error(y, oracle, n_bins, weights)}
        )
    raw = frame.get_column("raw_score").to_numpy().astype(float)
    rows.append(
        {"scorer": "model", "metric": "ece_uncalibrated", "value": calibration_error(y, raw, n_bins, weights)}
    )
    serious = frame.get_column("serious").to_numpy().astype(float)
    p_serious = frame.get_column("p_serious").to_numpy().astype(float)
    rows.append({"scorer": "model", "metric": "serious_brier", "value": _brier(serious, p_serious, weights)})
    return rows


def _brier(y: np.ndarray, p: np.ndarray, weights: np.ndarray | None) -> float:
    """The (weighted) mean squared error of the probabilities."""
    return float(np.average((p - y) ** 2, weights=weights)) if y.shape[0] else float("nan")


def _paired_difference_rows(
    frame: pl.DataFrame, measured: Mapping[str, ScorerResamples], fractions: Sequence[float]
) -> list[dict[str, Any]]:
    """precision@k of the model minus each baseline's on the same resamples (``scorer`` = the baseline).

    A paired interval: whether the model beats the best comparison method is read from the interval of
    the difference, not from two overlapping intervals. Beside it, ``mdd_paired_<metric>``: the
    minimum detectable difference, (z₀.₉₇₅ + z₀.₈) × the standard deviation of the same resampled
    differences. ``measured``: each scorer's metrics on the rows and the resamples.
    """
    if "model" not in measured or _has_gaps(frame, "score_model"):
        return []
    rows = []
    for scorer in BASELINES:
        if scorer not in measured or _has_gaps(frame, f"score_{scorer}"):
            continue
        differences = measured["model"].minus(measured[scorer], fractions)
        for name, (point, resampled) in differences.items():
            interval = percentile_interval(point, resampled)
            rows += [
                {
                    "scorer": scorer,
                    "metric": f"{PAIRED_PREFIX}{name}",
                    "value": interval.estimate,
                    "lower": interval.lower,
                    "upper": interval.upper,
                },
                {
                    "scorer": scorer,
                    "metric": f"{MDD_PREFIX}{name}",
                    "value": minimum_detectable_difference(bootstrap_standard_error(resampled)),
                },
            ]
    return rows


def _has_gaps(frame: pl.DataFrame, column: str) -> bool:
    """Whether any of ``column``'s scores is missing (NaN or null)."""
    return bool(np.isnan(frame.get_column(column).to_numpy().astype(float)).any())


def _expected_precision_rows(
    scorer: str,
    oracle: np.ndarray,
    scores: np.ndarray,
    *,
    fractions: Sequence[float],
    groups: np.ndarray,
    counts: np.ndarray,
    weights: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """Expected precision@k: the mean *true* probability among each scorer's top k (synthetic only).

    The same selection as precision@k, scored by the truth's probability instead of the one realised
    label, so it carries no label noise: a fairer model-vs-oracle comparison on ~40 selected rows.
    """
    intervals = scorer_resamples(
        oracle, scores, fractions, groups=groups, counts=counts, with_auc=False, weights=weights
    ).intervals()
    return [
        {
            "scorer": scorer,
            "metric": f"expected_{name}",
            "value": interval.estimate,
            "lower": interval.lower,
            "upper": interval.upper,
        }
        for name, interval in intervals.items()
        if name.startswith("precision_at_")
    ]


def metrics_table(predictions: pl.DataFrame, config: Config) -> pl.DataFrame:
    """Long metrics table: population, fold (or ``all``), risk_area, scorer, metric, value, lower, upper."""
    settings = config.model
    rows: list[dict[str, Any]] = []
    folds = sorted(predictions.get_column("fold").unique().to_list())
    for population in POPULATIONS:
        if population == WEIGHTED and "probability_sample" not in predictions.columns:
            continue  # predictions of an older run: the inclusion probabilities were not kept
        subset = predictions.filter(population_filter(population))
        for area in config.risk_area_ids:
            area_rows = subset.filter(pl.col(AREA_COLUMN) == area)
            for fold in [*folds, ALL_FOLDS]:
                fold_rows = area_rows if fold == ALL_FOLDS else area_rows.filter(pl.col("fold") == fold)
                if fold_rows.is_empty():
                    continue
                for row in _metric_rows(
                    fold_rows,
                    settings.top_fractions,
                    settings.bootstrap_resamples,
                    settings.seed,
                    settings.ece_bins,
                    weights=population_weights(fold_rows, population),
                ):
                    rows.append({"population": population, "fold": fold, AREA_COLUMN: area, **row})
    schema = {
        "population": pl.String,
        "fold": pl.String,
        AREA_COLUMN: pl.String,
        "scorer": pl.String,
        "metric": pl.String,
        "value": pl.Float64,
        "lower": pl.Float64,
        "upper": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema)


def population_weights(rows: pl.DataFrame, population: str) -> np.ndarray | None:
    """The rows' inverse-probability weights where the population needs them (None = unweighted).

    The ``weight`` column is 1/π truncated at ``max_weight`` (:func:`models.dataset.labelled_inspections`).
    The ``weighted`` population is always weighted. The ``random`` population is weighted only where its
    π differ within a test fold: a ``pps`` plan's draws are ``random`` selections with unequal π, and
    unweighted they would over-count the high-risk units the design favoured. Equal-probability draws
    (every fold's π alike) are left unweighted, where the Hájek estimate is the plain share anyway.
    """
    if population == WEIGHTED or (
        population == "random" and "weight" in rows.columns and _unequal_within_folds(rows)
    ):
        return rows.get_column("weight").to_numpy().astype(float)
    return None


def _unequal_within_folds(rows: pl.DataFrame) -> bool:
    """Whether the rows' weights differ within any one fold (all rows are one fold without a ``fold``)."""
    if rows.is_empty():
        return False
    spread = pl.col("weight").max() - pl.col("weight").min()
    if "fold" not in rows.columns:
        return bool(rows.select(spread > 1e-12).item())
    return bool(rows.group_by("fold").agg(spread.alias("spread")).get_column("spread").max() > 1e-12)  # type: ignore[operator]


def reliability_tables(predictions: pl.DataFrame, n_bins: int) -> pl.DataFrame:
    """Reliability table per unweighted population and area over all test folds."""
    parts = []
    for population in UNWEIGHTED_POPULATIONS:
        subset = predictions.filter(population_filter(population))
        for (area,), area_rows in subset.group_by(AREA_COLUMN, maintain_order=True):
            table = reliability_table(
                area_rows.get_column("deficiency").to_numpy().astype(float),
                deficiency_probability(area_rows),
                n_bins,
            )
            parts.append(
                table.select(
                    pl.lit(population).alias("population"), pl.lit(area).alias(AREA_COLUMN), pl.all()
                )
            )
    return pl.concat(parts) if parts else pl.DataFrame()


def selected_within_fold(frame: pl.DataFrame, score: str, fraction: float) -> pl.Expr:
    """True for rows in the top ``fraction`` of ``score`` within their fold and area."""
    rank = pl.col(score).rank("ordinal", descending=True).over("fold", AREA_COLUMN)
    size = pl.len().over("fold", AREA_COLUMN)
    return rank <= (size.cast(pl.Float64) * fraction).ceil().clip(lower_bound=1)


AUDIT_ATTRIBUTES = {"region_code": "region", "ownership": "ägarform", "size_band": "storlek"}
OWNERSHIP_NAMES = {"public": "offentlig regi", "private": "privat regi", "unknown": "okänd ägarform"}


def group_name(attribute: str, value: str) -> str:
    """A subgroup in words: ``Region Skåne``, ``privat regi``, ``4 000–10 000 listade patienter``."""
    if attribute == "region_code":
        return f"Region {REGIONS[value]}" if value in REGIONS else f"okänd region ({value})"
    if attribute == "ownership":
        return OWNERSHIP_NAMES.get(value, value)
    if attribute == "size_band":
        if value == "unknown":
            return "okänt antal listade patienter"
        spaced = re.sub(r"\d+", lambda m: f"{int(m.group()):,}".replace(",", " "), value)
        if spaced.startswith("<"):
            return f"färre än {spaced[1:]} listade patienter"
        if spaced.startswith(">="):
            return f"minst {spaced[2:]} listade patienter"
        return f"{spaced.replace('-', '–')} listade patienter"
    return value


def subgroup_tables(predictions: pl.DataFrame, config: Config, fraction: float = 0.10) -> pl.DataFrame:
    """Subgroup audit of the model's top ``fraction`` per area (all inspections, all test folds).

    Ratios carry bootstrap intervals (resampled within test folds); groups are named in words.
    """
    settings = config.model
    marked = predictions.with_columns(
        selected_within_fold(predictions, "score_model", fraction).alias("selected")
    )
    parts = []
    for (area,), area_rows in marked.group_by(AREA_COLUMN, maintain_order=True):
        table = subgroup_audit(
            area_rows.get_column("deficiency").to_numpy().astype(float),
            area_rows.get_column("selected").to_numpy(),
            {column: area_rows.get_column(column).to_list() for column in AUDIT_ATTRIBUTES},
            settings.disparity_bounds,
            min_size=settings.audit_min_group_size,
            resamples=settings.bootstrap_resamples,
            seed=settings.seed,
            level=settings.audit_level,
            strata=area_rows.get_column("fold").to_numpy(),
        )
        named = table.with_columns(
            pl.struct("attribute", "group")
            .map_elements(lambda r: group_name(r["attribute"], r["group"]), return_dtype=pl.String)
            .alias("group_name"),
            pl.struct("attribute", "reference")
            .map_elements(lambda r: group_name(r["attribute"], r["reference"]), return_dtype=pl.String)
            .alias("reference_name"),
            pl.col("attribute").replace_strict(AUDIT_ATTRIBUTES, default=pl.col("attribute")),
        )
        parts.append(named.select(pl.lit(area).alias(AREA_COLUMN), pl.all()))
    return pl.concat(parts, how="diagonal_relaxed") if parts else pl.DataFrame()


def rolling_origin_evaluation(
    rows: pl.DataFrame,
    splits: Sequence[Split],
    catalog: Sequence[ModelFeature],
    config: Config,
    *,
    progress: Callable[[str], None] | None = None,
    models: Sequence[RiskModel] | None = None,
    scorers: Sequence[Mapping[str, RiskModel]] | None = None,
    logistic: Callable[[Split, str], LogisticFit | None] | None = None,
) -> pl.DataFrame:
    """Predictions of every split's test fold, concatenated.

    ``models``: the splits' fitted models (:func:`models.training.fit_risk_models`); fitted here when
    not given. ``scorers`` (per split) and ``logistic``: see :func:`evaluate_split`.
    """
    if models is None:
        models = fit_risk_models(rows, splits, catalog, config.risk_area_ids, config.model)
    if len(models) != len(splits):
        raise ValueError(f"got {len(models)} models for {len(splits)} splits")
    frames = []
    for index, (split, model) in enumerate(zip(splits, models, strict=True)):
        _, frame = evaluate_split(
            rows,
            split,
            catalog,
            config,
            model,
            scorers=None if scorers is None else scorers[index],
            logistic=None if logistic is None else _logistic_of(logistic, split),
        )
        if not frame.is_empty():
            frames.append(frame)
        if progress is not None:
            progress(split.name)
    if not frames:
        raise ValueError(
            f"no test fold has inspections: splits {[s.name for s in splits]} are empty; "
            "the training data needs more years of inspections"
        )
    return pl.concat(frames, how="vertical_relaxed")


def _logistic_of(
    logistic: Callable[[Split, str], LogisticFit | None], split: Split
) -> Callable[[str], LogisticFit | None]:
    """``logistic`` for one split: area → its baseline fit."""
    return lambda area: logistic(split, area)


def summary(metrics: pl.DataFrame, population: str = "random") -> dict[str, dict[str, Any]]:
    """Per area: base rate and, per scorer, the headline metrics over all test folds (``--json``).

    Every area of ``metrics`` gets an entry; an area without inspections of ``population`` (no random
    selection in the test folds, as in real data without a random programme) gets ``n`` = 0 and every
    scorer ``None`` instead of a missing key.
    """
    chosen = metrics.filter((pl.col("population") == population) & (pl.col("fold") == ALL_FOLDS))
    areas = list(dict.fromkeys(metrics.get_column(AREA_COLUMN).to_list()))
    out: dict[str, dict[str, Any]] = {str(area): _empty_summary() for area in areas}
    for (area,), area_metrics in chosen.group_by(AREA_COLUMN, maintain_order=True):
        values = {(r["scorer"], r["metric"]): r for r in area_metrics.iter_rows(named=True)}
        out[str(area)] = _area_summary(values)
        verdict = area_verdict(str(area), population, values)
        out[str(area)]["verdict"] = verdict.to_dict() if verdict else None
    return out


def verdicts(metrics: pl.DataFrame, population: str = "random", fold: str = ALL_FOLDS) -> dict[str, Verdict]:
    """Per area: is the model reliably better than random selection and the best baseline?

    See :mod:`models.verdicts` for how each verdict is read from the intervals of ``metrics``.
    """
    chosen = metrics.filter((pl.col("population") == population) & (pl.col("fold") == fold))
    out = {}
    for (area,), area_metrics in chosen.group_by(AREA_COLUMN, maintain_order=True):
        values = {(r["scorer"], r["metric"]): r for r in area_metrics.iter_rows(named=True)}
        verdict = area_verdict(str(area), population, values)
        if verdict is not None:
            out[str(area)] = verdict
    return out


FOLD_METRICS = ("precision_at_10pct", "expected_precision_at_10pct", "roc_auc", "ece", "ece_noise", "brier")


def fold_table(metrics: pl.DataFrame, population: str) -> pl.DataFrame:
    """Per area and test year: n, base rate and the model's headline figures with their intervals.

    One row per (risk_area, fold), test years in order: a model that worked before a change in the
    world and not after it shows the drop here (precision and AUC fall, ECE leaves its noise band).
    Columns ``<metric>``, ``<metric>_lower``, ``<metric>_upper`` (bounds empty where none exist) and
    ``oracle_expected_precision_at_10pct``.
    """
    chosen = metrics.filter((pl.col("population") == population) & (pl.col("fold") != ALL_FOLDS))
    rows = []
    for (area, fold), part in chosen.group_by(AREA_COLUMN, "fold", maintain_order=True):
        values = {(r["scorer"], r["metric"]): r for r in part.iter_rows(named=True)}
        if ("data", "n") not in values:
            continue
        row: dict[str, Any] = {
            AREA_COLUMN: area,
            "fold": fold,
            "n": int(values[("data", "n")]["value"]),
            "base_rate": values[("data", "base_rate")]["value"],
        }
        for metric in FOLD_METRICS:
            found = values.get(("model", metric), {})
            row[metric] = found.get("value")
            row[f"{metric}_lower"] = found.get("lower")
            row[f"{metric}_upper"] = found.get("upper")
        row["oracle_expected_precision_at_10pct"] = values.get(
            ("oracle", "expected_precision_at_10pct"), {}
        ).get("value")
        rows.append(row)
    columns = [f"{m}{suffix}" for m in FOLD_METRICS for suffix in ("", "_lower", "_upper")]
    schema = {
        AREA_COLUMN: pl.String,
        "fold": pl.String,
        "n": pl.Int64,
        "base_rate": pl.Float64,
        **dict.fromkeys(columns, pl.Float64),
        "oracle_expected_precision_at_10pct": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema)


def _empty_summary() -> dict[str, Any]:
    return {"n": 0, "base_rate": None, **dict.fromkeys(SCORERS)}


def _area_summary(values: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    headline = [f"precision_at_{fraction_tag(f)}" for f in (0.05, 0.10, 0.20)] + [
        "roc_auc",
        "average_precision",
    ]
    entry: dict[str, Any] = {
        "n": int(values[("data", "n")]["value"]),
        "base_rate": values[("data", "base_rate")]["value"],
    }
    if ("data", "effective_n") in values:
        entry["effective_n"] = values[("data", "effective_n")]["value"]
    for scorer in SCORERS:
        if (scorer, "roc_auc") not in values:
            entry[scorer] = None
            continue
        entry[scorer] = {m: values[(scorer, m)]["value"] for m in headline if (scorer, m) in values}
        for metric in ("precision_at_10pct", "expected_precision_at_10pct"):
            if (scorer, metric) in values:
                entry[scorer][metric] = values[(scorer, metric)]["value"]
                entry[scorer][f"{metric}_ci"] = [
                    values[(scorer, metric)]["lower"],
                    values[(scorer, metric)]["upper"],
                ]
            else:
                entry[scorer][f"{metric}_ci"] = None
    model = entry["model"]
    if model is None:
        return entry
    if ("model", "ece") in values:
        model["ece"] = values[("model", "ece")]["value"]
        model["ece_ci"] = [values[("model", "ece")]["lower"], values[("model", "ece")]["upper"]]
    if ("model", "ece_noise") in values:
        noise = values[("model", "ece_noise")]
        model["ece_noise"] = noise["value"]
        model["ece_noise_upper"] = noise["upper"]
    if ("model", "brier") in values:
        model["brier"] = values[("model", "brier")]["value"]
    if entry.get("oracle") and ("oracle", "ece") in values:
        entry["oracle"]["ece"] = values[("oracle", "ece")]["value"]
    oracle = entry.get("oracle")
    if oracle and oracle.get("precision_at_10pct"):
        model["share_of_oracle_at_10pct"] = model["precision_at_10pct"] / oracle["precision_at_10pct"]
    if oracle and oracle.get("expected_precision_at_10pct"):
        model["expected_share_of_oracle_at_10pct"] = (
            model["expected_precision_at_10pct"] / oracle["expected_precision_at_10pct"]
        )
    return entry


def has_population(metrics: pl.DataFrame, population: str) -> bool:
    """True when ``metrics`` holds any figure of ``population`` (e.g. some random selection was tested)."""
    return not metrics.filter(pl.col("population") == population).is_empty()
