"""Which features matter overall: mean absolute SHAP contribution per area, feature and feature family.

Measured where the evaluation measures everything else: on each rolling-origin split's test fold, with
the model fitted on that split's past, so no row is explained by a model that saw its outcome. A
family is a feature's source (``complaints``, ``availability``, ``units``, ``inspections``, ...); its
contribution to a row is the sum of its features' contributions, and the family's importance the mean
of that sum's absolute value (features of one family that pull in opposite directions cancel, as they
do in the prediction). Contributions are on the log-odds scale of the deficiency model, before
calibration, like the explanations on the pages. Inspection covariates (team, method) are taken as
they were and are not catalog features, so they are not counted.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from models.artifact import AREA_COLUMN, ModelFeature, RiskModel
from models.validation import Split

MAX_ROWS_PER_FOLD = 3_000  # per area and test fold: SHAP time stays bounded on a national world


def _area_fold_contributions(
    model: RiskModel, rows: pl.DataFrame, area: str, catalog: Sequence[ModelFeature], seed: int
) -> tuple[np.ndarray, list[str]]:
    """SHAP contributions (rows × catalog features used by the area's model) and those features' names."""
    if rows.height > MAX_ROWS_PER_FOLD:
        rows = rows.sample(MAX_ROWS_PER_FOLD, seed=seed)
    area_model = model.model_for(area)
    prediction = area_model.predict_rows(model.area_frame(rows, area), area, contributions=True)
    assert prediction.contributions is not None
    names = {feature.name for feature in catalog}
    used = [i for i, feature in enumerate(area_model.features) if feature.name in names]
    return prediction.contributions[:, used], [area_model.features[i].name for i in used]


def contribution_importance(
    rows: pl.DataFrame,
    splits: Sequence[Split],
    models: Sequence[RiskModel],
    catalog: Sequence[ModelFeature],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Mean absolute contribution on the test folds, per feature and per family.

    Parameters
    ----------
    rows
        The labelled training rows (one per inspection × area, with features and ``risk_area``).
    splits, models
        The rolling-origin splits and each split's fitted model, in the same order.
    catalog
        The model's features (each with its ``source``, the family).

    Returns
    -------
    features, families
        ``risk_area, feature, family, mean_abs_contribution, n`` and
        ``risk_area, family, mean_abs_contribution, n``, largest first within each area.
    """
    if len(models) != len(splits):
        raise ValueError(f"got {len(models)} models for {len(splits)} splits")
    family_of = {feature.name: feature.source for feature in catalog}
    feature_parts, family_parts = [], []
    for index, (split, model) in enumerate(zip(splits, models, strict=True)):
        test = rows.filter(split.test_filter())
        for area in model.risk_areas:
            area_rows = test.filter(pl.col(AREA_COLUMN) == area)
            if area_rows.is_empty():
                continue
            values, names = _area_fold_contributions(model, area_rows, area, catalog, seed=index)
            n = values.shape[0]
            feature_parts.append(
                pl.DataFrame({"feature": names, "abs_sum": np.abs(values).sum(axis=0)}).with_columns(
                    risk_area=pl.lit(area), n=pl.lit(n, dtype=pl.Int64)
                )
            )
            family_names = sorted({family_of[name] for name in names})
            sums = [
                float(np.abs(values[:, [family_of[name] == family for name in names]].sum(axis=1)).sum())
                for family in family_names
            ]
            family_parts.append(
                pl.DataFrame({"family": family_names, "abs_sum": sums}).with_columns(
                    risk_area=pl.lit(area), n=pl.lit(n, dtype=pl.Int64)
                )
            )
    if not feature_parts:
        raise ValueError("no test fold has rows to explain")
    features = _mean_over_folds(pl.concat(feature_parts), "feature").with_columns(
        family=pl.col("feature").replace_strict(family_of, default=None)
    )
    families = _mean_over_folds(pl.concat(family_parts), "family")
    return (
        features.select("risk_area", "feature", "family", "mean_abs_contribution", "n"),
        families.select("risk_area", "family", "mean_abs_contribution", "n"),
    )


def _mean_over_folds(parts: pl.DataFrame, key: str) -> pl.DataFrame:
    """Σ |contribution| ÷ Σ rows over the folds, per area and ``key``, largest first within each area."""
    return (
        parts.group_by(AREA_COLUMN, key, maintain_order=True)
        .agg(abs_sum=pl.col("abs_sum").sum(), n=pl.col("n").sum())
        .with_columns(mean_abs_contribution=pl.col("abs_sum") / pl.col("n"))
        .sort([AREA_COLUMN, "mean_abs_contribution"], descending=[False, True], maintain_order=True)
    )
