"""Scoring: the champion's per-area predictions turned into the scores contract (pure; no I/O).

``tillsynsrisk score`` builds features at one planning date, asks the champion for calibrated
probabilities and per-feature contributions, and hands both to :func:`scores_frame`, which returns
the frame :class:`engine.scores.ScoresModel` describes:

- one row per unit and risk area with ``p_deficiency`` and ``p_serious`` (never above it);
- one ``overall`` row per unit: the mean of the areas' probabilities, i.e. the expected number of
  areas with a finding divided by the number of areas — the quantity an inspection covering every
  area maximises — with the mean of the areas' contributions to P(deficiency) as its explanation;
- ``rank`` and ``percentile`` within each area (:func:`engine.scores.ranked_scores`);
- ``explanations``: the features that pushed the risk up the most (largest positive contribution,
  log-odds scale), each as a Swedish sentence from the catalog's ``template_sv`` with the value
  formatted for its unit and, for numeric features, the median of the units in the same region at
  the same date: "Klagomål om tillgänglighet senaste 12 mån: 9 (regionens median 2)".

Contributions are made *relative to the units scored on the same planning date*
(:func:`relative_contributions`) before they become reasons: LightGBM's SHAP values measure each
feature against the training data's average, so a signal that is the same for every unit on the
planning date (a national value, the season) would otherwise be the top "reason" for most units
(issue 10: 97 % of units on a real data set). Why this form and not SHAP with a same-date background:
docs/models.md, Explanations.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from engine.config import Config
from engine.contract import REGIONS
from engine.order_free import order_free_mean
from engine.scores import (
    DEFICIENCY_CONTRIBUTIONS,
    EXPLANATION_DTYPE,
    OVERALL,
    UNIT_CONTEXT_COLUMNS,
    ranked_scores,
)

MISSING_SV = "uppgift saknas"
OWNERSHIP_SV = {"public": "offentlig", "private": "privat"}
NO_MEDIAN_UNITS = frozenset({"flag", "category"})
GAP_SUFFIXES = ("_gap_region_median", "_gap_national")
UNIT_COLUMNS = (*UNIT_CONTEXT_COLUMNS, "listed_patients")


def data_horizon(tables: Mapping[str, pl.LazyFrame], config: Config) -> dt.date:
    """The newest date the snapshot knows: latest ``received_date`` of any event source, latest
    inspection ``decision_date``, the last day of the latest indicator month and the latest
    attribute ``valid_from``."""
    candidates: list[dt.date] = []
    for source in config.sources.values():
        if source.file not in tables:
            continue
        column = {
            "event": pl.col("received_date"),
            "indicator": pl.col("period").dt.month_end(),
            "attribute": pl.col("valid_from"),
        }[source.kind]
        latest = tables[source.file].select(column.max()).collect().item()
        if latest is not None:
            candidates.append(latest)
    if "inspections" in tables:
        latest = tables["inspections"].select(pl.col("decision_date").max()).collect().item()
        if latest is not None:
            candidates.append(latest)
    if not candidates:
        raise ValueError("the snapshot holds no dated records; give --as-of explicitly")
    return max(candidates)


def default_as_of(tables: Mapping[str, pl.LazyFrame], config: Config) -> dt.date:
    """First day of the month after :func:`data_horizon`: the planning date the snapshot can serve."""
    horizon = data_horizon(tables, config)
    return (horizon.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


def _catalog_frame(catalog: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "feature": [str(spec["name"]) for spec in catalog],
            "template_sv": [str(spec["template_sv"]) for spec in catalog],
            "feature_unit": [str(spec["unit"]) for spec in catalog],
        },
        schema={"feature": pl.String, "template_sv": pl.String, "feature_unit": pl.String},
    )


def feature_values(features: pl.LazyFrame, catalog: Sequence[Mapping[str, Any]]) -> pl.LazyFrame:
    """Long (unit_id, feature, value, label): numeric value as float, categorical value as its label."""
    numeric = [str(s["name"]) for s in catalog if s["kind"] == "numeric"]
    categorical = [str(s["name"]) for s in catalog if s["kind"] != "numeric"]
    parts = []
    if numeric:
        parts.append(
            features.select("unit_id", *[pl.col(n).cast(pl.Float64) for n in numeric])
            .unpivot(index="unit_id", variable_name="feature", value_name="value")
            .with_columns(label=pl.lit(None, dtype=pl.String))
        )
    if categorical:
        parts.append(
            features.select("unit_id", *[pl.col(n).cast(pl.String) for n in categorical])
            .unpivot(index="unit_id", variable_name="feature", value_name="label")
            .with_columns(value=pl.lit(None, dtype=pl.Float64))
            .select("unit_id", "feature", "value", "label")
        )
    return pl.concat(parts, how="vertical")


def regional_medians(features: pl.LazyFrame, values: pl.LazyFrame) -> pl.LazyFrame:
    """Median of each numeric feature over the units of each region (nulls ignored)."""
    regions = features.select("unit_id", "region_code")
    return (
        values.filter(pl.col("label").is_null())
        .join(regions, on="unit_id", how="left")
        .group_by("region_code", "feature")
        .agg(region_median=pl.col("value").median())
    )


def _decimal(value: float, decimals: int) -> str:
    text = f"{value:.{decimals}f}"
    if float(text) == 0:  # a value that rounds to zero is zero: never "−0,0"
        text = text.lstrip("-")
    return text.replace(".", ",").replace("-", "\N{MINUS SIGN}")


def is_share_gap(feature: str) -> bool:
    """Gap features (an indicator share minus the regional median or the national value)."""
    return feature.endswith(GAP_SUFFIXES)


def formatted_value(value: float | None, unit: str, feature: str = "") -> str:
    """``value`` written the way a Swedish planner reads it, by the feature's unit.

    Shares as whole percent, gaps between shares in percentage points, rates with one decimal
    (decimal comma), flags as ja/nej, counts, days, months and patients as whole numbers.
    """
    if value is None or math.isnan(value):
        return MISSING_SV
    if unit == "value":
        return _decimal(value, 1)
    if is_share_gap(feature):
        return f"{_decimal(value * 100, 0)} procentenheter"
    if unit == "share":
        return f"{_decimal(value * 100, 0)} %"
    if unit == "flag":
        return "ja" if value > 0 else "nej"
    if unit == "per_10k":
        return _decimal(value, 1)
    if unit == "ratio":
        return _decimal(value, 2)
    return f"{round(value):,}".replace(",", "\N{NO-BREAK SPACE}").replace("-", "\N{MINUS SIGN}")


def formatted_label(feature: str, label: str) -> str:
    """A categorical value in Swedish: region names, ownership as offentlig/privat."""
    if feature == "region_code":
        return REGIONS.get(label, label)
    if feature == "ownership":
        return OWNERSHIP_SV.get(label, label)
    return label


def explanation_sentence(  # noqa: PLR0917 - one argument per column of the explained row
    feature: str,
    template_sv: str,
    unit: str,
    value: float | None,
    label: str | None,
    region_median: float | None,
) -> str:
    """``template_sv`` filled with the value, plus the regional median where it says something.

    The median is left out for flags and categories, and for gaps to the regional median (zero by
    construction).
    """
    shown = formatted_label(feature, label) if label is not None else formatted_value(value, unit, feature)
    sentence = template_sv.replace("{value}", shown)
    if region_median is None or unit in NO_MEDIAN_UNITS or is_share_gap(feature):
        return sentence
    return f"{sentence} (regionens median {formatted_value(region_median, unit, feature)})"


def _sentence_of(row: dict[str, Any]) -> str:
    return explanation_sentence(
        row["feature"],
        row["template_sv"],
        row["feature_unit"],
        row["value"],
        row["label"],
        row["region_median"],
    )


def overall_predictions(predictions: pl.LazyFrame, feature_names: Sequence[str]) -> pl.LazyFrame:
    """One ``overall`` row per unit: mean probabilities and mean contributions over the areas."""
    means = [
        order_free_mean(pl.col(name)).alias(name) for name in ["p_deficiency", "p_serious", *feature_names]
    ]
    return (
        predictions.unnest("contributions")
        .group_by("unit_id", "as_of")
        .agg(means)
        .with_columns(risk_area=pl.lit(OVERALL), contributions=pl.struct(list(feature_names)))
        .select(predictions.collect_schema().names())
    )


def relative_contributions(
    predictions: pl.LazyFrame, features: pl.LazyFrame, feature_names: Sequence[str]
) -> pl.LazyFrame:
    """Contributions relative to the units scored on the same planning date.

    Each feature's contribution minus its mean over the units scored at the same ``as_of`` in the same
    risk area, so a reason says what sets a unit apart from the others on that date. A feature whose
    value is the same for every unit on that date (nulls included) gets exactly 0: with a same-date
    reference it cannot explain a difference between units (the *dummy* property of SHAP values
    against a same-date background). Centring alone would leave such a feature the interaction share
    path-dependent tree SHAP gives it, which differs between units.
    """
    names = list(feature_names)
    flag = "__constant_on_date__{}".format
    constant = features.group_by("as_of").agg(
        (pl.col(name).n_unique() <= 1).alias(flag(name)) for name in names
    )
    return (
        predictions.unnest("contributions")
        .with_columns(
            (pl.col(name) - order_free_mean(pl.col(name)).over("as_of", "risk_area")).alias(name)
            for name in names
        )
        .join(constant, on="as_of", how="left")
        .with_columns(
            pl.when(pl.col(flag(name)).fill_null(value=False)).then(0.0).otherwise(pl.col(name)).alias(name)
            for name in names
        )
        .with_columns(contributions=pl.struct(names))
        .select(predictions.collect_schema().names())
    )


def top_contributions(predictions: pl.LazyFrame, per_row: int, min_contribution: float = 0.0) -> pl.LazyFrame:
    """(unit_id, risk_area, feature, contribution, order) for the ``per_row`` largest positive ones.

    Only contributions of at least ``min_contribution`` (log-odds) count: a smaller push does not
    explain a rank.
    """
    return (
        predictions.select("unit_id", "risk_area", "contributions")
        .unnest("contributions")
        .unpivot(index=["unit_id", "risk_area"], variable_name="feature", value_name="contribution")
        .filter((pl.col("contribution") > 0) & (pl.col("contribution") >= min_contribution))
        .sort(["unit_id", "risk_area", "contribution", "feature"], descending=[False, False, True, False])
        .group_by("unit_id", "risk_area", maintain_order=True)
        .head(per_row)
        .with_columns(order=pl.int_range(pl.len()).over("unit_id", "risk_area"))
    )


def says_something(row: Mapping[str, Any]) -> bool:
    """Whether an explained row is worth a sentence: a known value that differs from its regional median.

    "uppgift saknas" and "0,00 (regionens median 0,00)" tell a planner nothing about the unit.
    """
    if row["label"] is not None:
        return True
    if row["value"] is None or math.isnan(row["value"]):
        return False
    median = row["region_median"]
    if median is None or row["feature_unit"] in NO_MEDIAN_UNITS or is_share_gap(row["feature"]):
        return True
    unit, feature = row["feature_unit"], row["feature"]
    return formatted_value(row["value"], unit, feature) != formatted_value(median, unit, feature)


def reasons_that_carry_weight(
    explanations: Sequence[Mapping[str, Any]], min_contribution: float
) -> list[Any]:
    """The stored reasons a page shows: a contribution of at least ``min_contribution``, a known value.

    Scorings written before the threshold existed keep every reason; this is the same rule, read back.
    """
    return [
        reason
        for reason in explanations
        if (reason["contribution"] or 0.0) >= min_contribution and MISSING_SV not in reason["sentence_sv"]
    ]


def explanations(
    predictions: pl.LazyFrame,
    features: pl.LazyFrame,
    catalog: Sequence[Mapping[str, Any]],
    per_row: int,
    min_contribution: float = 0.0,
) -> pl.LazyFrame:
    """(unit_id, risk_area, explanations): a list of sentence structs, strongest contribution first.

    Only reasons that carry weight (:func:`top_contributions`, :func:`says_something`); a unit with none
    gets an empty list, which the pages show as "inget sticker ut".
    """
    values = feature_values(features, catalog)
    return (
        # twice as many candidates as reasons, so a reason dropped for saying nothing leaves room for the next
        top_contributions(predictions, 2 * per_row, min_contribution)
        .join(values, on=["unit_id", "feature"], how="left")
        .join(features.select("unit_id", "region_code"), on="unit_id", how="left")
        .join(regional_medians(features, values), on=["region_code", "feature"], how="left")
        .join(_catalog_frame(catalog).lazy(), on="feature", how="left")
        .with_columns(
            sentence_sv=pl.struct(
                "feature", "template_sv", "feature_unit", "value", "label", "region_median"
            ).map_elements(_sentence_of, return_dtype=pl.String),
            informative=pl.struct("feature", "feature_unit", "value", "label", "region_median").map_elements(
                says_something, return_dtype=pl.Boolean
            ),
        )
        .filter(pl.col("informative"))
        .sort("unit_id", "risk_area", "order")
        .group_by("unit_id", "risk_area", maintain_order=True)
        .head(per_row)
        .group_by("unit_id", "risk_area", maintain_order=True)
        .agg(
            explanations=pl.struct(
                "feature", "sentence_sv", "contribution", pl.col("value").cast(pl.Float64)
            ).cast(EXPLANATION_DTYPE)
        )
    )


def unit_context(features: pl.LazyFrame, units: pl.LazyFrame, providers: pl.LazyFrame) -> pl.LazyFrame:
    """Name, provider name and listing size beside the context the feature table carries."""
    return (
        features.select(
            "unit_id", "provider_id", "region_code", "municipality_code", "unit_type", "ownership"
        )
        .join(units.select("unit_id", pl.col("name").alias("unit_name"), "listed_patients"), on="unit_id")
        .join(providers.select("provider_id", pl.col("name").alias("provider_name")), on="provider_id")
        .with_columns(pl.col("listed_patients").fill_null(0).cast(pl.Int64))
        .select(UNIT_COLUMNS)
    )


def scores_frame(
    predictions: pl.LazyFrame,
    features: pl.LazyFrame,
    units: pl.LazyFrame,
    providers: pl.LazyFrame,
    catalog: Sequence[Mapping[str, Any]],
    *,
    explanations_per_row: int,
    min_contribution: float = 0.0,
    targets: Mapping[str, str] | None = None,
) -> pl.LazyFrame:
    """The scoring snapshot for one planning date, in the :class:`engine.scores.ScoresModel` shape.

    ``targets``: each risk area's ranking target (``RiskModel.metadata["targets"]``); an area not named
    is ranked by ``p_deficiency``, as is ``overall``.

    ``predictions`` is ``Champion.predict_frame`` output (unit_id, as_of, risk_area, p_deficiency,
    p_serious, contributions, and ``deficiency_contributions`` where an area's contributions explain
    P(serious): the ``overall`` row, a mean of P(deficiency), is explained by those); ``features`` the
    feature rows it was computed from (one as_of).
    Contributions become reasons relative to the units scored on the same date
    (:func:`relative_contributions`).
    """
    names = [str(spec["name"]) for spec in catalog]
    areas = relative_contributions(predictions.drop(DEFICIENCY_CONTRIBUTIONS, strict=False), features, names)
    of_deficiency = areas
    if DEFICIENCY_CONTRIBUTIONS in predictions.collect_schema().names():
        # some area's reasons explain P(serious); the overall row, a mean of P(deficiency), is explained by
        # the areas' contributions to P(deficiency)
        swapped = predictions.with_columns(pl.col(DEFICIENCY_CONTRIBUTIONS).alias("contributions"))
        of_deficiency = relative_contributions(swapped.drop(DEFICIENCY_CONTRIBUTIONS), features, names)
    overall = overall_predictions(of_deficiency, names)
    every = pl.concat([areas, overall], how="vertical")
    every = every.with_columns(pl.min_horizontal("p_serious", "p_deficiency").alias("p_serious"))
    explained = explanations(every, features, catalog, explanations_per_row, min_contribution)
    empty = pl.lit([], dtype=pl.List(EXPLANATION_DTYPE))
    frame = (
        every.drop("contributions")
        .join(explained, on=["unit_id", "risk_area"], how="left")
        .with_columns(pl.col("explanations").fill_null(empty))
        .join(unit_context(features, units, providers), on="unit_id", how="inner")
    )
    return ranked_scores(frame, targets)


def provider_rollup(scores: pl.LazyFrame, high_risk_percentile: float) -> pl.LazyFrame:
    """Per provider and risk area: units, high-risk units (percentile ≥ threshold), max and mean risk."""
    return (
        scores.group_by("provider_id", "provider_name", "risk_area")
        .agg(
            units=pl.len(),
            high_risk_units=(pl.col("percentile") >= high_risk_percentile).sum().cast(pl.Int64),
            max_p_deficiency=pl.col("p_deficiency").max(),
            mean_p_deficiency=order_free_mean(pl.col("p_deficiency")),
        )
        .sort(["risk_area", "high_risk_units", "max_p_deficiency"], descending=[False, True, True])
    )
