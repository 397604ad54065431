# ruff: noqa: N803, N806  (X is the scikit-learn name of a feature matrix)
"""The fitted risk model: per-area classifiers + calibrators, and its MLflow pyfunc wrapper.

:class:`RiskModel` is what is pickled into MLflow and what scoring uses. It turns a feature frame
(one row per unit and as-of date, as ``features.build_features`` returns it) into one row per unit,
as-of date and risk area with calibrated ``p_deficiency``, ``p_serious`` and per-feature
contributions (SHAP values of the deficiency model, log-odds scale, before calibration).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd
import polars as pl
from mlflow.pyfunc import PythonModel

from engine.scores import DEFICIENCY_CONTRIBUTIONS
from models.calibration import Calibrator
from models.estimator import RiskClassifier, sigmoid
from models.offset import InspectionEffect, UnknownCovariateError, known_values_message, neutral_mix
from models.targets import target_of

POOLED = "__pooled__"
AREA_COLUMN = "risk_area"
# Optional inspection columns that describe the inspection, not the unit: who inspected (team) and how
# (method). They are training covariates; at scoring they are the planned values or averaged over the mix.
INSPECTION_COVARIATES = ("team", "method")


@dataclass(frozen=True)
class ModelFeature:
    """What the model needs to know about one feature (taken from the feature catalog)."""

    name: str
    kind: Literal["numeric", "categorical"]
    higher_is_riskier: bool | None
    risk_area: str | None
    source: str
    unit: str
    window_months: int | None

    @property
    def monotone_constraint(self) -> int:
        """+1 when more is riskier, −1 when less is riskier, 0 when the direction is unknown."""
        if self.kind != "numeric" or self.higher_is_riskier is None:
            return 0
        return 1 if self.higher_is_riskier else -1

    @classmethod
    def from_spec(cls, spec: Any) -> ModelFeature:
        """From a ``features.FeatureSpec`` (or any object / mapping with the same fields)."""

        def get(key: str) -> Any:
            return spec[key] if isinstance(spec, dict) else getattr(spec, key)

        return cls(
            name=get("name"),
            kind=get("kind"),
            higher_is_riskier=get("higher_is_riskier"),
            risk_area=get("risk_area"),
            source=get("source"),
            unit=get("unit"),
            window_months=get("window_months"),
        )


def features_for_area(catalog: Sequence[ModelFeature], area: str) -> list[ModelFeature]:
    """General features plus the features of ``area`` (other areas' features are left out)."""
    return [f for f in catalog if f.risk_area in (None, area)]


def category_levels(frame: pl.DataFrame, features: Sequence[ModelFeature]) -> dict[str, list[str]]:
    """Sorted levels of each categorical feature seen in ``frame`` (unknown levels score as missing)."""
    return {
        f.name: sorted(str(v) for v in frame.get_column(f.name).drop_nulls().unique().to_list())
        for f in features
        if f.kind == "categorical"
    }


def design_matrix(
    frame: pl.DataFrame, features: Sequence[ModelFeature], levels: dict[str, list[str]]
) -> np.ndarray:
    """Float matrix of ``features`` in order; categorical values become level codes (unknown → NaN).

    One ``select`` over every column (not one Series operation per column: with ~200 features the
    per-call overhead dominated training on the default world).
    """
    if not features:
        return np.empty((frame.height, 0))
    return np.ascontiguousarray(
        frame.select(_design_column(f, levels) for f in features).to_numpy(), dtype=np.float64
    )


def _design_column(feature: ModelFeature, levels: dict[str, list[str]]) -> pl.Expr:
    """``feature`` as a Float64 column (categories as level codes), NaN and null alike missing."""
    column = pl.col(feature.name)
    if feature.kind == "categorical":
        mapping = {level: float(code) for code, level in enumerate(levels.get(feature.name, []))}
        column = column.cast(pl.String).replace_strict(mapping, default=None, return_dtype=pl.Float64)
    return column.cast(pl.Float64).fill_nan(None)


@dataclass(frozen=True)
class CovariateMix:
    """The training mix of the inspection covariates: each observed combination and its share.

    A unit's risk does not depend on which team happens to inspect it. When the plan does not say who
    inspects and how, the model predicts once per combination and weights the predictions by these
    shares: P(finding | unit) = Σ_c P(c) · P(finding | unit, c), the team-neutral risk.
    """

    columns: tuple[str, ...]
    combinations: tuple[tuple[str | None, ...], ...]
    shares: tuple[float, ...]

    def matrices(
        self,
        frame: pl.DataFrame,
        features: Sequence[ModelFeature],
        levels: dict[str, list[str]],
    ) -> Iterator[tuple[float, np.ndarray]]:
        """The design matrix of ``frame`` once per combination of the covariates it does not set, with
        that combination's share.

        Rows that carry a planned value (a non-null ``team`` or ``method``) keep it; only what the
        plan leaves open is averaged over (its marginal training mix). The matrix is built once and
        only the covariate columns differ between combinations (building it per combination cost
        most of the scoring time).
        """
        missing = [name for name in self.columns if name not in frame.columns]
        frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(name) for name in missing)
        X = design_matrix(frame, features, levels)
        open_columns = [name for name in self.columns if frame.get_column(name).null_count()]
        if not open_columns:
            yield 1.0, X
            return
        positions = [self.columns.index(name) for name in open_columns]
        shares: dict[tuple[str | None, ...], float] = {}
        for combination, share in zip(self.combinations, self.shares, strict=True):
            key = tuple(combination[i] for i in positions)
            shares[key] = shares.get(key, 0.0) + share
        index = {f.name: i for i, f in enumerate(features)}
        unplanned = {name: frame.get_column(name).is_null().to_numpy() for name in open_columns}
        for key, share in shares.items():  # one copy at a time: at national scale each is ~40 MB
            combined = X.copy()
            for name, value in zip(open_columns, key, strict=True):
                if name not in index:
                    continue
                known = levels.get(name, [])
                code = float(known.index(value)) if value in known else np.nan
                combined[unplanned[name], index[name]] = code
            yield share, combined


def covariate_mix(rows: pl.DataFrame, columns: Sequence[str]) -> CovariateMix | None:
    """The share of each combination of known values of ``columns`` in ``rows`` (None without columns).

    An inspection without a recorded team is not a team of its own: rows with an unknown value are
    left out of the mix (:func:`models.offset.neutral_mix`).
    """
    mix = neutral_mix(rows, columns)
    if mix is None:
        return None
    return CovariateMix(columns=mix.columns, combinations=mix.combinations, shares=mix.shares)


@dataclass(frozen=True)
class AreaPrediction:
    """One area's predictions: raw and calibrated probabilities, SHAP contributions (log-odds) or None."""

    raw: np.ndarray
    p_deficiency: np.ndarray
    p_serious: np.ndarray
    contributions: np.ndarray | None
    # Where ``contributions`` explain P(serious) (an area ranked by serious findings): the contributions to
    # P(deficiency), which the overall row averages. None: ``contributions`` explain P(deficiency).
    deficiency_contributions: np.ndarray | None = None


@dataclass
class AreaModel:
    """The fitted models of one risk area (or of all areas when the layout is pooled)."""

    risk_area: str
    features: list[ModelFeature]
    levels: dict[str, list[str]]
    deficiency: RiskClassifier
    deficiency_calibrator: Calibrator
    serious: RiskClassifier | None
    serious_calibrator: Calibrator | None
    serious_share: float
    covariate_mix: CovariateMix | None = None
    deficiency_offset: InspectionEffect | None = None
    serious_offset: InspectionEffect | None = None

    def planned_levels(self) -> dict[str, list[str]]:
        """The teams and methods a plan may name: the levels seen in training, per covariate."""
        offset = getattr(self, "deficiency_offset", None)  # pickles from before the offset have none
        if offset is not None:
            return {name: offset.known(name) for name in offset.effects_}
        mix = getattr(self, "covariate_mix", None)
        return {name: list(self.levels.get(name, [])) for name in (mix.columns if mix else ())}

    def raw_deficiency(self, X: np.ndarray) -> np.ndarray:
        """Uncalibrated P(deficiency) of the trees."""
        return self.deficiency.predict_proba(X)[:, 1]

    def predict(
        self, X: np.ndarray, area: str, raw: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated P(deficiency) and P(serious) (never above P(deficiency)) of rows of ``area``.

        ``raw`` is :meth:`raw_deficiency` of ``X`` when the caller has it already.
        """
        areas = np.full(X.shape[0], area, dtype=object)
        raw = self.raw_deficiency(X) if raw is None else raw
        p_deficiency = self.deficiency_calibrator.transform(raw, areas)
        if self.serious is not None and self.serious_calibrator is not None:
            p_serious = self.serious_calibrator.transform(self.serious.predict_proba(X)[:, 1], areas)
        else:
            p_serious = p_deficiency * self.serious_share
        return p_deficiency, np.minimum(p_serious, p_deficiency)

    def predict_rows(self, frame: pl.DataFrame, area: str, *, contributions: bool) -> AreaPrediction:
        """Predictions of ``frame``'s rows, averaged over the inspection-covariate mix it leaves open."""
        if getattr(self, "deficiency_offset", None) is not None:
            return self._predict_on_offset(frame, area, contributions=contributions)
        n = frame.height
        raw, p_deficiency, p_serious = np.zeros(n), np.zeros(n), np.zeros(n)
        values = np.zeros((n, len(self.features))) if contributions else None
        for share, X in self._mix_matrices(frame):
            part_raw = self.raw_deficiency(X)
            deficiency, serious = self.predict(X, area, part_raw)
            raw += share * part_raw
            p_deficiency += share * deficiency
            p_serious += share * serious
            if values is not None:
                values += share * self.deficiency.predict_contributions(X)[:, :-1]
        return AreaPrediction(raw, p_deficiency, np.minimum(p_serious, p_deficiency), values)

    def serious_contributions(self, frame: pl.DataFrame) -> np.ndarray | None:
        """SHAP contributions (log-odds) of the serious-finding model for ``frame``'s rows, over the same
        inspection-covariate mix as :meth:`predict_rows`; None without a serious-finding model."""
        if self.serious is None:
            return None
        if getattr(self, "deficiency_offset", None) is not None:
            X = design_matrix(frame, self.features, self.levels)
            return self.serious.predict_contributions(X)[:, :-1]
        values = np.zeros((frame.height, len(self.features)))
        for share, X in self._mix_matrices(frame):
            values += share * self.serious.predict_contributions(X)[:, :-1]
        return values

    def _mix_matrices(self, frame: pl.DataFrame) -> Iterable[tuple[float, np.ndarray]]:
        """(share, design matrix) per inspection-covariate combination of the mix ``frame`` leaves open,
        one at a time (:meth:`CovariateMix.matrices`); the one matrix of ``frame`` without a mix."""
        mix = getattr(self, "covariate_mix", None)  # pickles from before the mix have none
        if mix is None:
            return [(1.0, design_matrix(frame, self.features, self.levels))]
        return mix.matrices(frame, self.features, self.levels)

    def _predict_on_offset(self, frame: pl.DataFrame, area: str, *, contributions: bool) -> AreaPrediction:
        """Trees grown on a team/method offset: one tree prediction per row, then the (rows × mix)
        offsets of :meth:`InspectionEffect.mix_offsets` added on the log-odds scale, calibrated and
        averaged with the mix's shares (a planned team or method keeps its own effect)."""
        offset = self.deficiency_offset
        assert offset is not None
        X = design_matrix(frame, self.features, self.levels)
        raw, deficiency, shares = _per_combination(
            self.deficiency, self.deficiency_calibrator, offset, X=X, frame=frame, area=area
        )
        p_deficiency = deficiency @ shares
        serious_offset = getattr(self, "serious_offset", None)
        if self.serious is not None and self.serious_calibrator is not None and serious_offset is not None:
            _, serious, serious_shares = _per_combination(
                self.serious, self.serious_calibrator, serious_offset, X=X, frame=frame, area=area
            )
            if serious.shape == deficiency.shape:  # the same mix: never above P(deficiency), team by team
                serious = np.minimum(serious, deficiency)
            p_serious = serious @ serious_shares
        else:
            p_serious = p_deficiency * self.serious_share
        values = self.deficiency.predict_contributions(X)[:, :-1] if contributions else None
        return AreaPrediction(raw @ shares, p_deficiency, np.minimum(p_serious, p_deficiency), values)


def _per_combination(
    model: RiskClassifier,
    calibrator: Calibrator,
    offset: InspectionEffect,
    *,
    X: np.ndarray,
    frame: pl.DataFrame,
    area: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw and calibrated probabilities of ``model`` on top of ``offset``, per row and combination of
    the neutral mix (rows × combinations), and the combinations' shares."""
    offsets, shares = offset.mix_offsets(frame)
    raw = sigmoid(model.predict_raw(X)[:, None] + offsets)
    n, k = raw.shape
    calibrated = calibrator.transform(raw.reshape(-1), np.full(n * k, area, dtype=object)).reshape(n, k)
    return raw, calibrated, shares


class AreaScorer(Protocol):
    """What scores one area: :class:`AreaModel` (LightGBM) or an area model of :mod:`models.family`."""

    @property
    def features(self) -> list[ModelFeature]:
        """The features the contributions of :meth:`predict_rows` are given for, in order."""
        ...

    def predict_rows(self, frame: pl.DataFrame, area: str, *, contributions: bool) -> AreaPrediction:
        """Predictions of ``frame``'s rows of ``area``."""
        ...


@dataclass
class RiskModel:
    """Per-area (or pooled) risk models over one feature catalog."""

    layout: Literal["per_area", "pooled"]
    risk_areas: list[str]
    area_models: dict[str, AreaModel]
    catalog: list[ModelFeature]
    metadata: dict[str, Any] = field(default_factory=dict)
    # The area model of the family chosen for an area by temporal validation (models.family), where it is
    # not the LightGBM of ``area_models``.
    family_models: dict[str, AreaScorer] = field(default_factory=dict)

    def model_for(self, area: str) -> AreaScorer:
        """The fitted model that scores ``area``: its chosen family's, else the LightGBM."""
        chosen = getattr(self, "family_models", None) or {}  # pickles from before the family choice
        if area in chosen:
            return chosen[area]
        return self.area_models[POOLED if self.layout == "pooled" else area]

    def planned_levels(self) -> dict[str, list[str]]:
        """The teams and methods a plan may name (:meth:`AreaModel.planned_levels`; union over the
        areas' models)."""
        known: dict[str, set[str]] = {}
        for model in self.area_models.values():
            for name, levels in model.planned_levels().items():
                known.setdefault(name, set()).update(levels)
        return {name: sorted(levels) for name, levels in known.items()}

    def check_planned(self, planned: dict[str, str | None]) -> None:
        """Raise :class:`~models.offset.UnknownCovariateError` when ``planned`` names a team or method
        the model cannot score: one it was not trained with, or a covariate it does not have."""
        known = self.planned_levels()
        for name, value in planned.items():
            if value is None:
                continue
            if name not in known:
                raise UnknownCovariateError(
                    f"the model was trained without a {name}; it can only score without one"
                )
            if value not in known[name]:
                raise UnknownCovariateError(known_values_message(name, value, known[name]))

    def area_frame(self, features: pl.DataFrame, area: str) -> pl.DataFrame:
        """``features`` with the risk-area column the pooled layout uses as a feature."""
        return features.with_columns(pl.lit(area).alias(AREA_COLUMN))

    def predict_frame(self, features: pl.DataFrame, *, contributions: bool = True) -> pl.DataFrame:
        """One row per input row and risk area: unit_id, as_of, risk_area, p_deficiency, p_serious.

        With ``contributions`` a struct column ``contributions`` holds one float per catalog feature
        (SHAP value on the log-odds scale; 0.0 for features the area's model does not use).
        Inspection covariates (``team``, ``method``) are taken from ``features`` where it plans them
        and otherwise averaged over their training mix (:class:`CovariateMix`); they are not catalog
        features, so they never appear among the contributions.
        """
        names = [f.name for f in self.catalog]
        parts, explained = [], []
        for area in self.risk_areas:
            model = self.model_for(area)
            frame = self.area_frame(features, area)
            prediction = self._explained_by_target(
                model, frame, area, model.predict_rows(frame, area, contributions=contributions)
            )
            parts.append(
                frame.select("unit_id", "as_of", AREA_COLUMN).with_columns(
                    pl.Series("p_deficiency", prediction.p_deficiency, dtype=pl.Float64),
                    pl.Series("p_serious", prediction.p_serious, dtype=pl.Float64),
                )
            )
            explained.append((model, prediction))
        if not contributions:
            return pl.concat(parts, how="vertical")
        # A second struct only where some area's reasons explain P(serious): the overall row explains the
        # mean P(deficiency) and reads it (serving.scoring).
        separate = any(prediction.deficiency_contributions is not None for _, prediction in explained)
        for index, (model, prediction) in enumerate(explained):
            assert prediction.contributions is not None
            values = prediction.contributions
            structs = [_contributions_struct(values, model.features, names, "contributions")]
            if separate:
                if prediction.deficiency_contributions is not None:
                    values = prediction.deficiency_contributions
                structs.append(_contributions_struct(values, model.features, names, DEFICIENCY_CONTRIBUTIONS))
            parts[index] = parts[index].with_columns(structs)
        return pl.concat(parts, how="vertical")

    def _explained_by_target(
        self, model: AreaScorer, frame: pl.DataFrame, area: str, prediction: AreaPrediction
    ) -> AreaPrediction:
        """``prediction`` of a LightGBM area ranked by serious findings, explained by its serious-finding
        model (its deficiency contributions kept for the overall row); any other prediction unchanged."""
        if (
            prediction.contributions is None
            or prediction.deficiency_contributions is not None
            or not isinstance(model, AreaModel)
            or target_of(self.metadata, area) != "serious"
        ):
            return prediction
        serious = model.serious_contributions(frame)
        if serious is None:
            return prediction
        return dataclasses.replace(
            prediction, contributions=serious, deficiency_contributions=prediction.contributions
        )


def _contributions_struct(
    values: np.ndarray, features: Sequence[ModelFeature], names: Sequence[str], alias: str
) -> pl.Series:
    """One float per catalog feature in ``names`` (0.0 where the model does not use it), as a struct."""
    used = {f.name: values[:, i] for i, f in enumerate(features) if f.name in names}
    zeros = np.zeros(values.shape[0])
    return pl.DataFrame(
        [pl.Series(name, used.get(name, zeros), dtype=pl.Float64) for name in names]
    ).to_struct(alias)


class RiskPyfunc(PythonModel):
    """MLflow pyfunc face of :class:`RiskModel` (pandas in, pandas out, no contributions)."""

    def __init__(self, model: RiskModel) -> None:
        self.model = model

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> Any:
        frame = pl.from_pandas(model_input)
        if frame.schema.get("as_of") != pl.Date:
            frame = frame.with_columns(pl.col("as_of").cast(pl.Date))
        return self.model.predict_frame(frame, contributions=False).to_pandas()
