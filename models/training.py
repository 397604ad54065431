# ruff: noqa: N803, N806  (X is the scikit-learn name of a feature matrix)
"""Fitting the risk model of one temporal split: per area (or pooled), early stopping, calibration.

With ``fit_on_all_labelled`` (default) each model is fitted in two steps, the way a model meant for
the next year should be (issue 10: on real data the most recent year is the most informative):

1. **validate**: trees grown on the split's fit rows (decided before the held-out year), early-stopped
   on the held-out year; the calibrator is fitted on that model's out-of-sample predictions of the
   held-out year. This fixes the number of boosting rounds and the calibration.
2. **refit**: the trees are grown again, with exactly that number of rounds, on *every* inspection
   decided before the split's cut-off (fit + held-out + the rest decided before it) and served with
   the calibrator of step 1.

The evaluation folds run the same two steps (test year Y: validate on Y−1, refit on everything decided
before Y), so the figures in docs/models.md measure the method that produces the served model.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from engine.config import ModelSettings
from models.artifact import (
    AREA_COLUMN,
    INSPECTION_COVARIATES,
    POOLED,
    AreaModel,
    ModelFeature,
    RiskModel,
    category_levels,
    covariate_mix,
    design_matrix,
    features_for_area,
)
from models.calibration import Calibrator, fit_calibrator
from models.estimator import BinnedRows, RiskClassifier
from models.offset import InspectionEffect, strongest_unit_columns
from models.targets import resolve_targets
from models.validation import Split

logger = logging.getLogger(__name__)

# A separate serious-finding model needs this many positives in the fit and held-out rows;
# otherwise P(serious) = P(deficiency) × the training share of serious among deficiencies.
MIN_SERIOUS_POSITIVES = (30, 10)
TEAM_COVARIATE = "team"
# With ``team_effect = "offset"``: the team/method GLM is adjusted for this many unit features (the ones
# most correlated with the finding on the rows it is fitted on), so a department that visits riskier
# units is not credited with their risk; and its L2 penalty (scikit-learn's C, weights of mean one).
EFFECT_UNIT_COVARIATES = 3
EFFECT_C = 1.0
REGION_FEATURE = "region_code"
AREA_FEATURE = ModelFeature(
    name=AREA_COLUMN,
    kind="categorical",
    higher_is_riskier=None,
    risk_area=None,
    source="inspections",
    unit="category",
    window_months=None,
)


def covariate_feature(name: str) -> ModelFeature:
    """An inspection covariate (``team``, ``method``) as a categorical model feature."""
    return ModelFeature(
        name=name,
        kind="categorical",
        higher_is_riskier=None,
        risk_area=None,
        source="inspections",
        unit="category",
        window_months=None,
    )


def inspection_covariates(rows: pl.DataFrame) -> list[str]:
    """The inspection covariates ``rows`` carry with at least two distinct known values."""
    return [
        name
        for name in INSPECTION_COVARIATES
        if name in rows.columns and rows.get_column(name).drop_nulls().n_unique() >= 2
    ]


def classifier(
    settings: ModelSettings,
    constraints: list[int],
    categorical: list[int],
    n_estimators: int | None = None,
) -> RiskClassifier:
    """An unfitted :class:`RiskClassifier` with the configured LightGBM parameters.

    ``n_estimators`` overrides the configured maximum (the refit uses the early-stopped count).
    """
    lgbm = settings.lightgbm
    return RiskClassifier(
        n_estimators=lgbm.n_estimators if n_estimators is None else n_estimators,
        learning_rate=lgbm.learning_rate,
        num_leaves=lgbm.num_leaves,
        min_child_samples=lgbm.min_child_samples,
        subsample=lgbm.subsample,
        colsample_bytree=lgbm.colsample_bytree,
        reg_lambda=lgbm.reg_lambda,
        max_bin=lgbm.max_bin,
        monotone_constraints=constraints,
        categorical_features=categorical or None,
        early_stopping_rounds=lgbm.early_stopping_rounds,
        num_threads=lgbm.num_threads,
        random_state=settings.seed,
    )


def _labels(frame: pl.DataFrame, label: str) -> np.ndarray:
    return frame.get_column(label).to_numpy().astype(np.int64)


def _weights(frame: pl.DataFrame) -> np.ndarray:
    return frame.get_column("weight").to_numpy().astype(np.float64)


def _groups(frame: pl.DataFrame) -> np.ndarray:
    return frame.get_column(AREA_COLUMN).cast(pl.String).to_numpy()


def _has_both_classes(y: np.ndarray) -> bool:
    return bool(y.size) and 0 < y.sum() < y.size


@dataclass(frozen=True)
class _Stage:
    """One split's rows of one area: trees fitted on ``fit_rows``, early-stopped and calibrated on
    ``held_out_rows``, grown again on ``refit_rows`` (None: the validated trees are served)."""

    fit_rows: pl.DataFrame
    held_out_rows: pl.DataFrame
    refit_rows: pl.DataFrame | None

    @property
    def all_rows(self) -> pl.DataFrame:
        parts = [self.fit_rows, self.held_out_rows]
        if self.refit_rows is not None:
            parts.append(self.refit_rows)
        return pl.concat(parts, how="diagonal_relaxed")

    def fits_serious(self) -> bool:
        """Whether the fit and held-out rows hold enough serious findings for a separate model."""
        return (
            int(self.fit_rows.get_column("serious").sum()) >= MIN_SERIOUS_POSITIVES[0]
            and int(self.held_out_rows.get_column("serious").sum()) >= MIN_SERIOUS_POSITIVES[1]
        )


@dataclass(frozen=True)
class _Validated:
    """The early-stopped trees of one stage and the calibrator fitted on their held-out predictions."""

    model: RiskClassifier
    calibrator: Calibrator
    offset: InspectionEffect | None = None


Served = tuple[RiskClassifier, Calibrator, InspectionEffect | None]


class _SharedRows:
    """One stage's design matrices and binned LightGBM rows, shared by its deficiency and serious fits.

    Keyed by the identity of the row frames and levels a fit is given (the two labels' fits of a stage
    are given the same objects). :func:`fit_area_models` fits both labels stage by stage and clears
    this after each stage, so at most one stage's matrices are held at a time.
    """

    def __init__(self) -> None:
        self._matrices: dict[tuple[int, int], np.ndarray] = {}
        self._bins: dict[tuple[int, ...], BinnedRows] = {}

    def matrix(
        self, rows: pl.DataFrame, features: list[ModelFeature], levels: dict[str, list[str]]
    ) -> np.ndarray:
        """``design_matrix(rows, features, levels)``, built once per stage."""
        key = (id(rows), id(levels))
        if key not in self._matrices:
            self._matrices[key] = design_matrix(rows, features, levels)
        return self._matrices[key]

    def bins(self, *frames: pl.DataFrame | None) -> BinnedRows:
        """The binned rows of a fit on ``frames`` (fit rows, then held-out rows or None)."""
        return self._bins.setdefault(tuple(id(frame) for frame in frames), BinnedRows())

    def clear(self) -> None:
        """Forget the stage's matrices and bins."""
        self._matrices.clear()
        self._bins.clear()


def _same_rows(a: pl.DataFrame, b: pl.DataFrame) -> bool:
    keys = ["inspection_id", AREA_COLUMN]
    return a.height == b.height and a.select(keys).equals(b.select(keys))


def _validated(
    label: str,
    model: RiskClassifier,
    *,
    X_fit: np.ndarray,
    fit_rows: pl.DataFrame,
    held_out: tuple[np.ndarray, pl.DataFrame] | None,
    settings: ModelSettings,
    offset: InspectionEffect | None = None,
) -> _Validated:
    """``model`` (fitted on ``X_fit``, on top of ``offset``) with the calibrator fitted on its
    out-of-sample predictions."""
    if held_out is None:
        # No usable held-out year: calibrate on the fit rows (optimistic; logged as a warning).
        logger.warning("%s: held-out period lacks both outcomes; calibrating on the fit rows", label)
        X_held, held_rows = X_fit, fit_rows
    else:
        X_held, held_rows = held_out
    init_score = None if offset is None else offset.offset(held_rows)
    calibrator = fit_calibrator(
        model.predict_proba(X_held, init_score=init_score)[:, 1],
        _labels(held_rows, label),
        settings.calibration,
        _weights(held_rows),
        groups=_groups(held_rows) if settings.calibration_by_area else None,
    )
    return _Validated(model, calibrator, offset)


def fit_inspection_effect(
    label: str,
    rows: pl.DataFrame,
    X: np.ndarray,
    features: Sequence[ModelFeature],
    covariates: Sequence[str],
) -> InspectionEffect | None:
    """The team/method GLM of ``label`` on ``rows`` (None without covariates: no offset).

    Adjusted for the risk area (when ``rows`` hold several) and the :data:`EFFECT_UNIT_COVARIATES`
    numeric ``features`` (columns of ``X``) most correlated with the label on these rows.
    """
    if not covariates:
        return None
    y, weight = _labels(rows, label), _weights(rows)
    numeric = {i: f.name for i, f in enumerate(features) if f.kind == "numeric"}
    unit = strongest_unit_columns(X, y.astype(np.float64), weight, numeric, EFFECT_UNIT_COVARIATES)
    areas = [AREA_COLUMN] if rows.get_column(AREA_COLUMN).n_unique() > 1 else []
    effect = InspectionEffect(
        effect_columns=list(covariates), adjust_categorical=areas, adjust_numeric=unit, C=EFFECT_C
    )
    return effect.fit(rows, y, sample_weight=weight)


def _fit_with_held_out(
    label: str,
    fit_rows: pl.DataFrame,
    held_out_rows: pl.DataFrame,
    *,
    features: list[ModelFeature],
    levels: dict[str, list[str]],
    settings: ModelSettings,
    min_rounds: int = 0,
    offset_covariates: Sequence[str] = (),
    shared: _SharedRows | None = None,
) -> _Validated:
    """Trees grown on ``fit_rows``, early-stopped on ``held_out_rows`` (at least ``min_rounds`` grown).

    With ``offset_covariates`` the trees are grown on top of the GLM of those covariates fitted on
    ``fit_rows`` (:func:`fit_inspection_effect`), and early-stopped with its offsets of the held-out rows.
    ``shared``: the stage's matrices and binned rows, shared with the other label's fit on the same rows.
    """
    constraints = [f.monotone_constraint for f in features]
    categorical = [i for i, f in enumerate(features) if f.kind == "categorical"]
    shared = shared or _SharedRows()
    X_fit = shared.matrix(fit_rows, features, levels)
    y_fit = _labels(fit_rows, label)
    if not _has_both_classes(y_fit):
        raise ValueError(
            f"cannot fit the {label} model: the fit rows hold {y_fit.size} inspections with "
            f"{int(y_fit.sum())} positives; both outcomes are needed"
        )
    X_held = shared.matrix(held_out_rows, features, levels)
    y_held = _labels(held_out_rows, label)
    usable = _has_both_classes(y_held)
    offset = fit_inspection_effect(label, fit_rows, X_fit, features, offset_covariates)
    init_score = None if offset is None else offset.offset(fit_rows)
    eval_set = (
        (X_held, y_held, _weights(held_out_rows), None if offset is None else offset.offset(held_out_rows))
        if usable
        else None
    )
    model = classifier(settings, constraints, categorical)
    model.set_params(min_rounds=min_rounds)
    model.fit(
        X_fit,
        y_fit,
        sample_weight=_weights(fit_rows),
        eval_set=eval_set,
        init_score=init_score,
        bins=shared.bins(fit_rows, held_out_rows if usable else None),
    )
    return _validated(
        label,
        model,
        X_fit=X_fit,
        fit_rows=fit_rows,
        held_out=(X_held, held_out_rows) if usable else None,
        settings=settings,
        offset=offset,
    )


def _fit_label_stages(
    label: str,
    stages: Sequence[_Stage],
    active: Sequence[bool],
    *,
    features: list[ModelFeature],
    levels: Sequence[dict[str, list[str]]],
    settings: ModelSettings,
    offset_covariates: Sequence[str] = (),
    shared: _SharedRows | None = None,
) -> Iterator[Served | None]:
    """The served trees, calibrator and offset GLM of ``label`` for each stage where ``active`` (None
    elsewhere; the GLM is None without ``offset_covariates``), yielded stage by stage.

    Each stage is fitted in two steps (module docstring): validate, then refit on every row decided
    before its cut-off. When the next stage's fit rows *are* this stage's refit rows (consecutive
    yearly folds, and the last fold before the final model), one LightGBM fit serves both: it is
    early-stopped on the next stage's held-out year and grows at least this stage's number of rounds,
    so its first rounds are this stage's refit (:meth:`RiskClassifier.with_rounds`, identical trees)
    and its early-stopped rounds are the next stage's validated model. The next stage then encodes
    categories with this stage's levels (the levels of the rows its trees are grown on; a level first
    seen in the held-out year scores as unknown, as in any prediction).

    With ``offset_covariates`` every set of trees is grown on the offsets of the GLM fitted on the rows
    those trees are grown on: the shared fit's GLM is fitted on this stage's refit rows, which are the
    next stage's fit rows, so it is the GLM of this stage's refit and of the next stage's validation
    alike. A stage's served offset is its refit GLM; its calibrator is the validation model's, fitted
    with the validation GLM's offsets of the held-out year.

    ``shared``: the current stage's matrices and binned rows (:class:`_SharedRows`), which the caller
    shares between labels by advancing each label's generator one stage at a time.
    """
    constraints = [f.monotone_constraint for f in features]
    categorical = [i for i, f in enumerate(features) if f.kind == "categorical"]
    shared = shared or _SharedRows()
    carried: _Validated | None = None
    for index, stage in enumerate(stages):
        if not active[index]:
            yield None
            carried = None
            continue
        validated = carried or _fit_with_held_out(
            label,
            stage.fit_rows,
            stage.held_out_rows,
            features=features,
            levels=levels[index],
            settings=settings,
            offset_covariates=offset_covariates,
            shared=shared,
        )
        carried = None
        if stage.refit_rows is None:
            yield validated.model, validated.calibrator, validated.offset
            continue
        rounds = validated.model.best_iteration_
        following = stages[index + 1] if index + 1 < len(stages) else None
        if (
            following is not None
            and active[index + 1]
            and following.refit_rows is not None
            and _same_rows(following.fit_rows, stage.refit_rows)
        ):
            carried = _fit_with_held_out(
                label,
                stage.refit_rows,
                following.held_out_rows,
                features=features,
                levels=levels[index],
                settings=settings,
                min_rounds=rounds,
                offset_covariates=offset_covariates,
                shared=shared,
            )
            refit, refit_offset = carried.model.with_rounds(rounds), carried.offset
        else:
            # The rounds early stopping chose and the calibrator of the held-out year serve trees grown on
            # every labelled inspection: the held-out year is validated on, then learnt from.
            X_refit = shared.matrix(stage.refit_rows, features, levels[index])
            refit_offset = fit_inspection_effect(
                label, stage.refit_rows, X_refit, features, offset_covariates
            )
            refit = classifier(settings, constraints, categorical, n_estimators=rounds).fit(
                X_refit,
                _labels(stage.refit_rows, label),
                sample_weight=_weights(stage.refit_rows),
                init_score=None if refit_offset is None else refit_offset.offset(stage.refit_rows),
                bins=shared.bins(stage.refit_rows, None),
            )
        yield refit, validated.calibrator, refit_offset


def fit_area_models(
    area: str,
    stages: Sequence[_Stage],
    features: list[ModelFeature],
    settings: ModelSettings,
    covariates: Sequence[str] = (),
) -> list[AreaModel]:
    """The deficiency and serious models of one area (or of all areas for ``area=POOLED``), per stage.

    Stages are the area's rows of consecutive splits, oldest first, all with the same ``features``;
    see :func:`_fit_label_stages` for how consecutive stages share LightGBM fits. With
    ``team_effect = "offset"`` the ``covariates`` are an offset (``models.offset``), not features;
    with ``"feature"`` they are among ``features`` and averaged over their mix at scoring.
    """
    as_offset = settings.team_effect == "offset"
    offset_covariates = list(covariates) if as_offset else []
    levels = [category_levels(stage.all_rows, features) for stage in stages]
    shared = _SharedRows()
    deficiency = _fit_label_stages(
        "deficiency",
        stages,
        [True] * len(stages),
        features=features,
        levels=levels,
        settings=settings,
        offset_covariates=offset_covariates,
        shared=shared,
    )
    serious = _fit_label_stages(
        "serious",
        stages,
        [stage.fits_serious() for stage in stages],
        features=features,
        levels=levels,
        settings=settings,
        offset_covariates=offset_covariates,
        shared=shared,
    )
    models = []
    # Both labels stage by stage: the serious fits reuse the deficiency fits' matrices and binned rows of
    # the same stage, and a stage's are dropped before the next one's are built.
    for stage, stage_levels in zip(stages, levels, strict=True):
        fitted, fitted_serious = next(deficiency), next(serious)
        shared.clear()
        assert fitted is not None  # deficiency is active in every stage
        trained_on = stage.all_rows if stage.refit_rows is None else stage.refit_rows
        n_deficient = int(trained_on.get_column("deficiency").sum())
        serious_share = (int(trained_on.get_column("serious").sum()) / n_deficient) if n_deficient else 0.0
        models.append(
            AreaModel(
                risk_area=area,
                features=features,
                levels=stage_levels,
                deficiency=fitted[0],
                deficiency_calibrator=fitted[1],
                serious=None if fitted_serious is None else fitted_serious[0],
                serious_calibrator=None if fitted_serious is None else fitted_serious[1],
                serious_share=serious_share,
                covariate_mix=None if as_offset else covariate_mix(trained_on, list(covariates)),
                deficiency_offset=fitted[2],
                serious_offset=None if fitted_serious is None else fitted_serious[2],
            )
        )
    return models


def _stage_within(
    frames: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame | None, list[str]], scope: pl.Expr | None
) -> _Stage:
    """The stage of a split's fit, held-out and refit rows in ``scope`` (all rows without a scope)."""
    fit_rows, held_out_rows, refit_rows, _ = frames
    if scope is None:
        return _Stage(fit_rows, held_out_rows, refit_rows)
    return _Stage(
        fit_rows.filter(scope),
        held_out_rows.filter(scope),
        None if refit_rows is None else refit_rows.filter(scope),
    )


def unit_features(
    catalog: Sequence[ModelFeature], covariates: Sequence[str], settings: ModelSettings
) -> list[ModelFeature]:
    """The catalog features a model is grown on beside the inspection ``covariates``.

    With ``region_with_team = "drop"`` and a ``team`` covariate the region is left out: IVO's
    departments inspect mostly their own regions, so trees that may split on the region learn much of
    a department's strictness as a region effect, which team-neutral scoring cannot remove
    (docs/models.md, "Inspection covariates").
    """
    if settings.region_with_team == "drop" and TEAM_COVARIATE in covariates:
        return [feature for feature in catalog if feature.name != REGION_FEATURE]
    return list(catalog)


def fit_risk_models(
    rows: pl.DataFrame,
    splits: Sequence[Split],
    catalog: Sequence[ModelFeature],
    risk_areas: Sequence[str],
    settings: ModelSettings,
) -> list[RiskModel]:
    """:func:`fit_risk_model` of every split (oldest first), sharing LightGBM fits between consecutive splits.

    The models are the ones :func:`fit_risk_model` fits for each split alone (same trees: see
    :func:`_fit_label_stages`); consecutive splits, where one's refit rows are the next one's fit rows,
    need one LightGBM fit fewer per label and area. Splits whose inspection covariates differ are
    fitted apart.
    """
    catalog = list(catalog)
    parts = []
    for split in splits:
        fit_rows = rows.filter(split.fit_filter())
        held_out_rows = rows.filter(split.held_out_filter())
        refit_rows = rows.filter(split.refit_filter()) if settings.fit_on_all_labelled else None
        covariates = inspection_covariates(fit_rows if refit_rows is None else refit_rows)
        parts.append((split, fit_rows, held_out_rows, refit_rows, covariates))
    groups: list[list[int]] = []
    for index, part in enumerate(parts):
        if groups and parts[groups[-1][-1]][4] == part[4]:
            groups[-1].append(index)
        else:
            groups.append([index])
    area_models: list[dict[str, AreaModel]] = [{} for _ in parts]
    for group in groups:
        covariates = parts[group[0]][4]
        as_features = settings.team_effect == "feature"
        extra = [covariate_feature(name) for name in covariates] if as_features else []
        unit = unit_features(catalog, covariates, settings)
        if settings.layout == "pooled":
            scopes: list[tuple[str, pl.Expr | None, list[ModelFeature]]] = [
                (POOLED, None, [*unit, AREA_FEATURE, *extra])
            ]
        else:
            scopes = [
                (area, pl.col(AREA_COLUMN) == area, [*features_for_area(unit, area), *extra])
                for area in risk_areas
            ]
        for name, in_scope, features in scopes:
            stages = [_stage_within(parts[i][1:], in_scope) for i in group]
            fitted = fit_area_models(name, stages, features, settings, covariates)
            for i, model in zip(group, fitted, strict=True):
                area_models[i][name] = model
    return [
        RiskModel(
            layout=settings.layout,
            risk_areas=list(risk_areas),
            area_models=area_models[index],
            catalog=catalog,
            metadata={
                "split": split.name,
                "held_out_start": split.held_out_start.isoformat(),
                "test_start": split.test_start.isoformat(),
                "fit_rows": fit_rows.height,
                "held_out_rows": held_out_rows.height,
                "refit_rows": None if refit_rows is None else refit_rows.height,
                "boosting_rounds": {
                    name: model.deficiency.best_iteration_ for name, model in area_models[index].items()
                },
                "inspection_covariates": covariates,
                "targets": _targets(
                    area_models[index],
                    fit_rows=fit_rows,
                    held_out_rows=held_out_rows,
                    refit_rows=refit_rows,
                    risk_areas=risk_areas,
                    settings=settings,
                ),
            },
        )
        for index, (split, fit_rows, held_out_rows, refit_rows, covariates) in enumerate(parts)
    ]


def _targets(
    area_models: dict[str, AreaModel],
    *,
    fit_rows: pl.DataFrame,
    held_out_rows: pl.DataFrame,
    refit_rows: pl.DataFrame | None,
    risk_areas: Sequence[str],
    settings: ModelSettings,
) -> dict[str, dict[str, object]]:
    """Each area's ranking target, resolved from the rows its model is fitted on (models.targets)."""
    trained_on = (
        pl.concat([fit_rows, held_out_rows], how="diagonal_relaxed") if refit_rows is None else refit_rows
    )
    pooled = area_models.get(POOLED)
    serious_model = {
        area: (pooled or area_models[area]).serious is not None
        for area in risk_areas
        if pooled is not None or area in area_models
    }
    choices = resolve_targets(trained_on, risk_areas, settings, serious_model)
    return {area: choice.to_dict() for area, choice in choices.items()}


def fit_risk_model(
    rows: pl.DataFrame,
    split: Split,
    catalog: Sequence[ModelFeature],
    risk_areas: Sequence[str],
    settings: ModelSettings,
) -> RiskModel:
    """Fit every area's model for ``split``: early-stopped and calibrated on its held-out rows, and
    (with ``fit_on_all_labelled``) grown on every row decided before its test period.

    Inspection covariates (``team``, ``method``) in ``rows`` become the trees' offset
    (``team_effect = "offset"``) or categorical features of the trees (``"feature"``).
    """
    return fit_risk_models(rows, [split], catalog, risk_areas, settings)[0]


def predict_rows(
    model: RiskModel, rows: pl.DataFrame, *, covariates: Literal["mix", "actual"] = "mix"
) -> pl.DataFrame:
    """Score labelled rows (one per inspection × area) with the model of each row's own area.

    ``covariates``: ``"mix"`` scores every row the way ``tillsynsrisk score`` does when the plan does
    not name the team and method (averaged over their training mix: the unit's own risk); ``"actual"``
    uses the team and method that really inspected.

    Returns ``inspection_id``, ``risk_area``, ``raw_score`` (uncalibrated), ``p_deficiency``, ``p_serious``.
    """
    if covariates == "mix":
        rows = rows.drop([name for name in INSPECTION_COVARIATES if name in rows.columns])
    parts = []
    for area in model.risk_areas:
        area_rows = rows.filter(pl.col(AREA_COLUMN) == area)
        if area_rows.is_empty():
            continue
        prediction = model.model_for(area).predict_rows(area_rows, area, contributions=False)
        parts.append(
            area_rows.select("inspection_id", AREA_COLUMN).with_columns(
                pl.Series("raw_score", prediction.raw, dtype=pl.Float64),
                pl.Series("p_deficiency", prediction.p_deficiency, dtype=pl.Float64),
                pl.Series("p_serious", prediction.p_serious, dtype=pl.Float64),
            )
        )
    schema = {
        "inspection_id": pl.String,
        AREA_COLUMN: pl.String,
        "raw_score": pl.Float64,
        "p_deficiency": pl.Float64,
        "p_serious": pl.Float64,
    }
    return pl.concat(parts) if parts else pl.DataFrame(schema=schema)
