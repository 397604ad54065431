# ruff: noqa: N803, N806  (X is the scikit-learn name of a feature matrix)
"""A scikit-learn compatible LightGBM classifier with monotone constraints and temporal early stopping.

Why a wrapper and not ``lightgbm.LGBMClassifier``: we need early stopping on an explicit, *temporal*
validation fold (the held-out year), deterministic single-machine training, SHAP contributions for
explanations, and a class that passes scikit-learn's estimator checks under this project's rules
(params only in ``__init__``, validation in ``fit``, fitted attributes ending in ``_``).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any, Literal

import lightgbm as lgb
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

# (X_val, y_val, w_val) or (X_val, y_val, w_val, init_score_val): the held-out rows early stopping watches.
EvalSet = tuple[Any, Any, Any] | tuple[Any, Any, Any, Any]
# LightGBM's threads pay only on large data: on a few thousand rows their start-up costs more than they save
# (the test suite's small fits took 45 % longer on two threads). A fit uses one thread per this many rows,
# at most ``num_threads``.
ROWS_PER_THREAD = 2_000


class BinnedRows:
    """The binned LightGBM Datasets of one set of fit rows (and of its held-out rows), shared by fits.

    Binning depends on the feature values and the Dataset parameters only, not on the label, weights or
    offsets: the deficiency and serious-finding fits of the same rows bin once, and the later fit sets
    its own label, weights and offsets on the binned rows (:meth:`RiskClassifier.fit` with ``bins``).
    The trees are the ones a fresh ``Dataset`` grows. The raw matrix is freed once binned: eight bytes a
    value against at most one for a bin (``max_bin`` ≤ 255).
    """

    def __init__(self) -> None:
        self.train: lgb.Dataset | None = None
        self.valid: lgb.Dataset | None = None
        self.key: tuple[Any, ...] | None = None

    def reusable(self, key: tuple[Any, ...]) -> bool:
        """Whether the binned rows were built with ``key`` (parameters, shape, offsets given or not)."""
        return self.train is not None and self.key == key


def fit_threads(n_rows: int, num_threads: int) -> int:
    """The threads a fit on ``n_rows`` rows uses: one per :data:`ROWS_PER_THREAD` rows, from 1 to
    ``num_threads``."""
    return max(1, min(num_threads, n_rows // ROWS_PER_THREAD))


class RiskClassifier(ClassifierMixin, BaseEstimator):
    """Binary gradient-boosted trees (LightGBM) predicting P(finding) for one risk area.

    Parameters
    ----------
    n_estimators : int
        Maximum number of boosting rounds (early stopping may use fewer).
    learning_rate, num_leaves, min_child_samples, subsample, colsample_bytree, reg_lambda, max_bin
        LightGBM hyper-parameters of the same names (``max_bin``: histogram bins per feature).
    monotone_constraints : sequence of {-1, 0, 1} or None
        One entry per feature: +1 the prediction never decreases as the feature grows, −1 never
        increases, 0 unconstrained. ``None`` = no constraints.
    categorical_features : sequence of int or None
        Column indices LightGBM treats as categorical (non-negative integer codes).
    early_stopping_rounds : int
        Rounds without improvement on ``eval_set`` before training stops (only with ``eval_set``).
    min_rounds : int
        Grow at least this many rounds even when early stopping has already chosen fewer
        (``best_iteration_`` stays early stopping's choice); the extra trees serve :meth:`with_rounds`.
    num_threads : int
        Threads LightGBM may use (a fit on fewer than ``ROWS_PER_THREAD`` rows per thread uses fewer).
    random_state : int
        Seed for bagging and feature subsampling; training is deterministic given the seed.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 2)); y = (X[:, 0] + rng.normal(size=200) > 0).astype(int)
    >>> model = RiskClassifier(n_estimators=20, monotone_constraints=[1, 0]).fit(X, y)
    >>> model.predict_proba(X).shape
    (200, 2)
    """

    def __init__(
        self,
        *,
        n_estimators: int = 600,
        learning_rate: float = 0.03,
        num_leaves: int = 15,
        min_child_samples: int = 20,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 1.0,
        max_bin: int = 255,
        monotone_constraints: Sequence[int] | None = None,
        categorical_features: Sequence[int] | None = None,
        early_stopping_rounds: int = 50,
        min_rounds: int = 0,
        num_threads: int = 1,
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.max_bin = max_bin
        self.monotone_constraints = monotone_constraints
        self.categorical_features = categorical_features
        self.early_stopping_rounds = early_stopping_rounds
        self.min_rounds = min_rounds
        self.num_threads = num_threads
        self.random_state = random_state

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.classifier_tags.multi_class = False
        return tags

    def fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        *,
        eval_set: EvalSet | None = None,
        init_score: Any = None,
        bins: BinnedRows | None = None,
    ) -> RiskClassifier:
        """Fit on ``X, y``; with ``eval_set=(X_val, y_val, w_val)`` stop early on its log loss.

        ``init_score`` (log-odds, one per row) is an offset the trees are grown on top of (the
        inspecting team's effect, ``models.offset``); the eval set then carries its rows' offsets as a
        fourth element. Predictions of such a model add the offset back (``predict_proba(X,
        init_score=...)``); without one the trees start from the training rate, as LightGBM does.

        Returns
        -------
        self
        """
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan", dtype=np.float64)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if self.classes_.shape[0] != 2:
            raise ValueError(
                "Only binary classification is supported: y must hold exactly 2 classes, got "
                f"{self.classes_.shape[0]} class(es) {self.classes_.tolist()[:5]}"
            )
        sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
        params = self._lightgbm_params(X.shape[1])
        params["num_threads"] = fit_threads(X.shape[0], self.num_threads)
        target = (y == self.classes_[1]).astype(np.float64)
        categorical: list[int] | Literal["auto"] = (
            [int(i) for i in self.categorical_features] if self.categorical_features else "auto"
        )
        offset = None if init_score is None else _checked_offset(init_score, X.shape[0])
        validation = None
        if eval_set is not None:
            X_val, y_val, w_val, *rest = eval_set
            X_val = validate_data(self, X_val, reset=False, ensure_all_finite="allow-nan", dtype=np.float64)
            w_val = _check_sample_weight(w_val, X_val, dtype=np.float64)
            valid_target = (np.asarray(y_val) == self.classes_[1]).astype(np.float64)
            valid_offset = _checked_offset(rest[0], X_val.shape[0]) if rest and rest[0] is not None else None
            if (valid_offset is None) != (offset is None):
                raise ValueError("init_score and the eval_set's init score must be given together")
            validation = (X_val, valid_target, w_val, valid_offset)
        key = (
            repr(sorted(params.items())),
            repr(categorical),
            X.shape,
            None if validation is None else validation[0].shape,
            offset is None,
        )
        if bins is not None and bins.reusable(key):
            assert bins.train is not None
            train = _relabelled(bins.train, target, sample_weight, offset)
            valid = (
                None if validation is None or bins.valid is None else _relabelled(bins.valid, *validation[1:])
            )
        else:
            train = lgb.Dataset(
                X,
                target,
                weight=sample_weight,
                init_score=offset,
                params=params,
                categorical_feature=categorical,
                free_raw_data=True,
            )
            valid = (
                None
                if validation is None
                else lgb.Dataset(
                    validation[0],
                    validation[1],
                    weight=validation[2],
                    init_score=validation[3],
                    reference=train,
                    params=params,
                )
            )
            if bins is not None:
                bins.train, bins.valid, bins.key = train, valid, key
        valid_sets: list[lgb.Dataset] = [] if valid is None else [valid]
        callbacks: list[Any] = (
            [] if valid is None else [_EarlyStopping(self.early_stopping_rounds, self.min_rounds)]
        )
        booster = lgb.train(
            params,
            train,
            num_boost_round=self.n_estimators,
            valid_sets=valid_sets,
            callbacks=callbacks,
            keep_training_booster=True,
        )
        best = booster.best_iteration
        self.best_iteration_ = int(best) if best and best > 0 else booster.current_iteration()
        # What lgb.train does without keep_training_booster (a model without its training data, cut to
        # the best iteration), except that the trees grown for ``min_rounds`` are kept.
        keep = None if self.min_rounds <= self.best_iteration_ else -1
        booster.model_from_string(booster.model_to_string(num_iteration=keep)).free_dataset()
        self.booster_ = booster
        return self

    def with_rounds(self, n_rounds: int) -> RiskClassifier:
        """This fitted model predicting with its first ``n_rounds`` trees (a shallow copy: same booster).

        Boosting is sequential and deterministic (``deterministic=True``, seeded bagging), so the first
        ``n_rounds`` trees are exactly what ``fit`` with ``n_estimators=n_rounds`` and no ``eval_set``
        grows on the same rows: one fit can serve as the early-stopped model of one split and the
        refit of the split before it (``models.training``).
        """
        check_is_fitted(self)
        grown = self.booster_.current_iteration()
        if not 0 < n_rounds <= grown:
            raise ValueError(f"n_rounds must be in 1..{grown} (the trees grown), got {n_rounds}")
        truncated = copy.copy(self)
        truncated.n_estimators = n_rounds
        truncated.early_stopping_rounds = 0
        truncated.min_rounds = 0
        truncated.best_iteration_ = n_rounds
        return truncated

    def _lightgbm_params(self, n_features: int) -> dict[str, Any]:
        constraints = self._validated_constraints(n_features)
        params: dict[str, Any] = {
            "objective": "binary",
            "metric": "binary_logloss",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "min_data_in_bin": 1,
            "bagging_fraction": self.subsample,
            "bagging_freq": 1 if self.subsample < 1.0 else 0,
            "feature_fraction": self.colsample_bytree,
            "lambda_l2": self.reg_lambda,
            "max_bin": self.max_bin,
            "num_threads": self.num_threads,
            "seed": self.random_state,
            "deterministic": True,
            "force_row_wise": True,
            "verbosity": -1,
        }
        if constraints is not None and any(constraints):
            params["monotone_constraints"] = constraints
            # "intermediate" is several times faster than "advanced" at equal ranking quality here.
            params["monotone_constraints_method"] = "intermediate"
        return params

    def _validated_constraints(self, n_features: int) -> list[int] | None:
        if self.monotone_constraints is None:
            return None
        constraints = [int(c) for c in self.monotone_constraints]
        if len(constraints) != n_features:
            raise ValueError(
                f"monotone_constraints has {len(constraints)} entries but X has {n_features} features"
            )
        bad = sorted({c for c in constraints if c not in (-1, 0, 1)})
        if bad:
            raise ValueError(f"monotone_constraints must be -1, 0 or 1, got {bad}")
        return constraints

    def _raw_input(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        return validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64)

    def predict_raw(self, X: Any) -> np.ndarray:
        """The trees' log-odds of a finding (without any ``init_score`` the model was grown on)."""
        X = self._raw_input(X)
        return np.asarray(
            self.booster_.predict(X, num_iteration=self.best_iteration_, raw_score=True), dtype=np.float64
        )

    def predict_proba(self, X: Any, *, init_score: Any = None) -> np.ndarray:
        """Class probabilities, columns ordered as ``classes_``.

        ``init_score``: the rows' offsets (log-odds) when the model was grown on one (:meth:`fit`).
        """
        if init_score is None:
            X = self._raw_input(X)
            positive = np.asarray(
                self.booster_.predict(X, num_iteration=self.best_iteration_), dtype=np.float64
            )
        else:
            raw = self.predict_raw(X)
            positive = sigmoid(raw + _checked_offset(init_score, raw.shape[0]))
        return np.column_stack([1.0 - positive, positive])

    def predict(self, X: Any) -> np.ndarray:
        """The more probable class."""
        positive = self.predict_proba(X)[:, 1]
        return self.classes_[(positive > 0.5).astype(int)]

    def predict_contributions(self, X: Any) -> np.ndarray:
        """Per-feature SHAP contributions on the log-odds scale; the last column is the expected value."""
        X = self._raw_input(X)
        return np.asarray(self.booster_.predict(X, num_iteration=self.best_iteration_, pred_contrib=True))


def _relabelled(
    binned: lgb.Dataset, label: np.ndarray, weight: np.ndarray, init_score: np.ndarray | None
) -> lgb.Dataset:
    """``binned`` (already constructed) with another fit's label, weights and offsets."""
    binned.set_label(label)
    binned.set_weight(weight)
    if init_score is not None:  # a Dataset binned without offsets is reused only without them (the key)
        binned.set_init_score(init_score)
    return binned


def sigmoid(raw: np.ndarray) -> np.ndarray:
    """The logistic function of log-odds ``raw``."""
    return 0.5 * (1.0 + np.tanh(0.5 * raw))  # = 1 / (1 + exp(-raw)), without overflow


def _checked_offset(init_score: Any, n_rows: int) -> np.ndarray:
    offset = np.asarray(init_score, dtype=np.float64).reshape(-1)
    if offset.shape[0] != n_rows or not np.isfinite(offset).all():
        raise ValueError(f"init_score must hold {n_rows} finite values, got {offset.shape[0]}")
    return offset


class _EarlyStopping:
    """``lgb.early_stopping`` that may let training run on after its choice, up to ``min_rounds`` trees.

    The best iteration is exactly the one ``lgb.early_stopping`` chooses (it is delegated to); only
    the end of training waits until ``min_rounds`` trees exist (or the last round).
    """

    order = 30
    before_iteration = False

    def __init__(self, stopping_rounds: int, min_rounds: int) -> None:
        self._choose = lgb.early_stopping(stopping_rounds, verbose=False)
        self._min_rounds = min_rounds
        self._stop: lgb.callback.EarlyStopException | None = None

    def __call__(self, env: lgb.callback.CallbackEnv) -> None:
        if self._stop is None:
            try:
                self._choose(env)
            except lgb.callback.EarlyStopException as stop:
                self._stop = stop
        last = env.iteration == env.end_iteration - 1
        if self._stop is not None and (env.iteration + 1 >= self._min_rounds or last):
            raise self._stop
