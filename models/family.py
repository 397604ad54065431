"""The model family of each risk area, chosen by temporal validation: elastic net, LightGBM or their blend.

Candidates (``[model] families``):

- ``elastic_net``: the elastic-net baseline's own fit (:func:`models.baselines.fit_logistic`, on the rows
  the baseline is fitted on), calibrated like the model: the calibrator is fitted on the held-out year's
  predictions of the same elastic net (its penalty) fitted on the rows before that year.
- ``lightgbm``: the model of :mod:`models.training` for that area.
- ``blend``: the mean of the two calibrated probabilities on the logit scale. On the logit scale, not the
  probability scale, so that the blend's explanation is the halved sum of the two families' contributions
  (both on the log-odds scale) and a unit both families call risky stays risky.

**Validation years.** Year V's validation rows are the inspections started in V and decided before
V + 1 (the held-out year of the split whose test year is V + 1). Each family predicts them with the model
its split V serves: fitted on what was decided before V (the rows the split V + 1 fits on), calibrated on
V − 1. That is the same procedure that makes the served model, out of sample for V (not early-stopped or
calibrated on V). One split before the first test year is fitted for this (the first test year's
validation year).

**Choice.** For test year Y the evidence is every validation year before Y (never Y); for the final model
every validation year. Per area, on ``paired_gate_population``, the paired differences against the elastic
net are bootstrapped as the promotion gate's are (:func:`models.backtest.paired_metrics`). The simplest
family stays (elastic net) unless a more complex one's difference on ``paired_gate_metric`` is above zero
and its ROC AUC not lower; when both qualify the blend is kept over LightGBM where its gate metric is at
least LightGBM's (it hedges between the two). Too few rows (``paired_gate_min_n``): the elastic net.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from joblib import Parallel, delayed
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import Pipeline

from engine.config import Config
from engine.scores import RANKING_SCORES
from models.artifact import AREA_COLUMN, AreaScorer, ModelFeature, RiskModel, features_for_area
from models.backtest import paired_metrics
from models.calibration import Calibrator, fit_calibrator
from models.family_models import BlendAreaModel, ElasticNetAreaModel, ElasticNetFit, fit_elastic_net, refitted
from models.refusals import decimal_sv, metric_sv
from models.targets import label_column, target_of
from models.training import fit_risk_models
from models.validation import Split, yearly_split

logger = logging.getLogger(__name__)

# Simplest first: the order in which the choice prefers a family.
FAMILIES = ("elastic_net", "lightgbm", "blend")
FAMILY_SV = {
    "elastic_net": "elastiskt nät",
    "lightgbm": "gradient boosting (LightGBM)",
    "blend": "medelvärde av båda",
}
FINAL = "final"
# ``label`` of select_families: each area's ranking label, as its split's model resolved its target
# (models.targets): the families are compared on what ranks the area.
RANKING_LABEL = "label"
FAMILY_ARTIFACT = "family/choice.json"
ONLY_FAMILY_REASON = "the only configured family"
NO_NET_REASON = "no elastic net for the area (one outcome, or a penalty that removed every feature): LightGBM"
# What the families were compared on (FamilyChoice.label), in the sentence of why_sv
LABEL_COMPARED_SV = {
    "deficiency": "",
    "serious": ", jämförda på allvarliga brister (föreläggande), det som rangordnar området",
}
LABEL_FOUND_SV = {"deficiency": "brister", "serious": "allvarliga brister"}


# --- The choice -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FamilyChoice:
    """The family chosen for one area, why, and the evidence (paired differences against the elastic net)."""

    risk_area: str
    family: str
    reason: str
    validation_years: list[str]
    n: int
    evidence: list[dict[str, Any]] = field(default_factory=list)
    # The 0/1 label the families were compared on: the area's ranking target's (models.targets.label_column)
    label: str = "deficiency"

    @property
    def runners_up(self) -> list[str]:
        """The other candidates of the evidence, in order of simplicity."""
        if self.reason in {NO_NET_REASON, ONLY_FAMILY_REASON}:
            return []  # nothing was compared
        compared = {"elastic_net", *(row["family"] for row in self.evidence)}
        return [name for name in FAMILIES if name in compared and name != self.family]

    def why_sv(self) -> str:
        """Why this family, in Swedish with decimal commas (the report and the Modell page show it)."""
        years = f"{self.validation_years[0]}–{self.validation_years[-1]}" if self.validation_years else "–"
        label = getattr(self, "label", "deficiency")  # choices made before the label was recorded
        if self.reason == NO_NET_REASON:
            return (
                "Inget elastiskt nät för området (straffet tog bort varje variabel, eller träningsdata har "
                "bara ett utfall): gradient boosting (LightGBM) är den enda modelltyp som kan rangordna."
            )
        if not self.evidence or self.reason.startswith(("the only", f"{self.n} validation")):
            if self.reason == ONLY_FAMILY_REASON:
                return "Den enda modelltyp som konfigurationen tillåter."
            return (
                f"För få valideringstillsyner ({self.n}) för en parad jämförelse: den enklaste modelltypen "
                "behålls."
            )
        compared = "; ".join(
            f"{FAMILY_SV[row['family']]} {_signed_sv(row['value'])} (95 % KI {_signed_sv(row['lower'])} till "
            f"{_signed_sv(row['upper'])}) i {metric_sv(row['metric'])} och "
            f"{_signed_sv(row['roc_auc']['value'])} i ROC-AUC"
            for row in self.evidence
        )
        compared_on = LABEL_COMPARED_SV[label]
        return (
            f"Vald på valideringsåren {years} ({self.n} tillsyner, aldrig teståret){compared_on}: jämfört "
            f"med elastiskt nät hade {compared}. Det enklaste behålls om inte en mer komplex modelltyp "
            f"hittade fler {LABEL_FOUND_SV[label]} och inte rangordnade sämre (ROC-AUC)."
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (``family/choice.json``)."""
        return {
            "family": self.family,
            "family_sv": FAMILY_SV[self.family],
            "why_sv": self.why_sv(),
            "reason": self.reason,
            "runners_up": self.runners_up,
            "validation_years": self.validation_years,
            "n": self.n,
            "evidence": self.evidence,
            "label": getattr(self, "label", "deficiency"),
        }


def _signed_sv(value: float | None) -> str:
    """``+0,012`` / ``−0,004`` (decimal comma, a real minus sign), ``–`` when missing."""
    return decimal_sv(value, signed=True)


def _difference(differences: pl.DataFrame, family: str, metric: str) -> dict[str, float] | None:
    if differences.is_empty():  # no comparison was made
        return None
    found = differences.filter((pl.col("version") == family) & (pl.col("metric") == metric))
    if found.is_empty():
        return None
    row = found.row(0, named=True)
    return {"value": row["value"], "lower": row["lower"], "upper": row["upper"]}


def choose_family(
    area: str,
    differences: pl.DataFrame,
    *,
    candidates: Sequence[str],
    metric: str,
    n: int,
    min_n: int,
    years: Sequence[str],
    by_interval: bool = False,
) -> FamilyChoice:
    """The family for ``area`` from its paired differences against the elastic net (module docstring).

    ``differences``: rows of :func:`models.backtest.paired_metrics`'s differences for this area and
    population (``version`` = family, reference the elastic net). ``by_interval`` (the promotion gate's
    ``paired_gate_better = "interval"``): "beat" needs the whole 95 % interval of the difference on
    ``metric`` above zero, not only its point.
    """
    ordered = [name for name in FAMILIES if name in candidates]
    if not ordered:
        raise ValueError(f"no known family among {list(candidates)}; known: {list(FAMILIES)}")
    simplest = ordered[0]
    evidence = []
    points: dict[str, tuple[float, float, float]] = {"elastic_net": (0.0, 0.0, 0.0)}
    for family in ("lightgbm", "blend"):
        gate, auc = _difference(differences, family, metric), _difference(differences, family, "roc_auc")
        if gate is None or auc is None:
            continue
        points[family] = (gate["value"], auc["value"], gate["lower"])
        evidence.append({"family": family, "against": "elastic_net", "metric": metric, **gate,
                         "roc_auc": auc})  # fmt: skip
    if len(ordered) == 1:
        return FamilyChoice(area, simplest, ONLY_FAMILY_REASON, list(years), n, evidence)
    if n < min_n or any(name not in points for name in ordered):
        return FamilyChoice(
            area,
            simplest,
            f"{n} validation inspections, fewer than the {min_n} a paired comparison needs: the simplest",
            list(years),
            n,
            evidence,
        )

    def gain(family: str) -> tuple[float, float]:
        return (points[family][0] - points[simplest][0], points[family][1] - points[simplest][1])

    def beats(family: str) -> bool:
        # The interval is against the elastic net; against another simplest family only points exist.
        above = points[family][2] > 0 if by_interval and simplest == "elastic_net" else gain(family)[0] > 0
        return above and gain(family)[1] >= 0

    rule = "the 95 % interval of " if by_interval else ""
    qualified = [name for name in ordered[1:] if beats(name)]
    if not qualified:
        reason = (
            f"no more complex family beat {simplest} on the validation years ({rule}{metric} above 0 and "
            "ROC AUC not below): " + "; ".join(_gain_text(name, gain(name), metric) for name in ordered[1:])
        )
        return FamilyChoice(area, simplest, reason, list(years), n, evidence)
    chosen = (
        qualified[-1] if len(qualified) == 2 and gain("blend")[0] >= gain("lightgbm")[0] else qualified[0]
    )
    reason = f"beat {simplest} on the validation years: {_gain_text(chosen, gain(chosen), metric)}"
    if len(qualified) == 2:
        other = next(name for name in qualified if name != chosen)
        reason += f" ({other} too: {_gain_text(other, gain(other), metric)})"
    return FamilyChoice(area, chosen, reason, list(years), n, evidence)


def _gain_text(family: str, gain: tuple[float, float], metric: str) -> str:
    return f"{family} {metric} {gain[0]:+.3f}, ROC AUC {gain[1]:+.3f}"


# The validation frame where none is built (one configured family, or no year before the first split): the
# columns the choice reads, no rows, so every area is decided without a comparison.
NO_VALIDATION = pl.DataFrame(schema={"year": pl.String, AREA_COLUMN: pl.String, "is_random": pl.Boolean})


def choices_from_validation(
    validation: pl.DataFrame,
    config: Config,
    *,
    years: Sequence[str],
    label: str = "deficiency",
    labels: Mapping[str, str] | None = None,
) -> dict[str, FamilyChoice]:
    """Per area, the family the validation rows of ``years`` choose (:func:`choose_family`).

    ``validation`` holds one row per validation inspection × area: ``year``, ``risk_area``,
    ``is_random``, ``label`` and ``p_<family>`` per family. ``labels``: the 0/1 label each area's
    ``label`` column holds (recorded in the choice); ``label`` itself where not given.
    """
    settings = config.model
    chosen_rows = validation.filter(pl.col("year").is_in(list(years)))
    population = settings.paired_gate_population
    out = {}
    differences = pl.DataFrame()
    if not chosen_rows.is_empty():
        # paired_metrics reads the outcome from ``deficiency``: the label, whichever it is, goes there.
        frame = chosen_rows.with_columns(pl.col(label).alias("deficiency"))
        _, _, differences = paired_metrics(frame, list(FAMILIES), settings)
        differences = differences.filter(pl.col("population") == population)
    for area in config.risk_area_ids:
        area_rows = chosen_rows.filter(pl.col(AREA_COLUMN) == area)
        if population == "random":
            area_rows = area_rows.filter(pl.col("is_random"))
        area_differences = (
            differences.filter(pl.col(AREA_COLUMN) == area) if not differences.is_empty() else differences
        )
        choice = choose_family(
            area,
            area_differences,
            candidates=settings.families,
            metric=settings.paired_gate_metric,
            n=area_rows.height,
            min_n=settings.paired_gate_min_n,
            years=sorted(set(area_rows.get_column("year").to_list())) if area_rows.height else [],
        )
        out[area] = dataclasses.replace(choice, label=(labels or {}).get(area, label))
    return out


# --- Fitting every family of every split ------------------------------------------------------------


def previous_split(split: Split) -> Split:
    """The split whose test period is ``split``'s held-out year (its calibration year)."""
    start = split.held_out_start
    return Split(
        name=f"before-{split.name}",
        held_out_start=start.replace(year=start.year - 1),
        test_start=start,
        test_end=split.test_start,
    )


# The net that predicts an area's calibration rows, and those rows.
CalibrationRows = tuple[ElasticNetFit, pl.DataFrame]


def _key(area: str, split: Split) -> tuple[str, dt.date, dt.date]:
    return (area, split.held_out_start, split.test_start)


def baseline_rows(rows: pl.DataFrame, split: Split) -> pl.DataFrame:
    """The rows the elastic-net baseline of ``split`` is fitted on: its fit and held-out rows."""
    return rows.filter(split.fit_filter() | split.held_out_filter())


def validation_rows(rows: pl.DataFrame, split: Split) -> pl.DataFrame:
    """Split ``split``'s test-year rows as a validation year: started in it and decided before it ended."""
    return rows.filter(split.test_filter() & (pl.col("decision_date") < split.test_end))


class ElasticNets:
    """Elastic-net fits per (area, split), fitted once: the baseline, families and choice share them.

    :meth:`fit_all` fits many ahead, side by side: each (area, split)'s search, its fit on every row and the
    net that calibrates it are single-threaded scikit-learn work that releases the GIL, so two of them on
    two threads take about half the wall time of one after the other. Every fit is the one :meth:`fit`
    would make alone (the search's choice does not depend on its threads).
    """

    def __init__(
        self, rows: pl.DataFrame, catalog: Sequence[ModelFeature], config: Config, label: str
    ) -> None:
        self.rows = rows
        self.catalog = list(catalog)
        self.config = config
        self.default_label = label
        # The label each (area, split)'s net models: its model's ranking target's (set by select_families).
        self.labels: dict[tuple[str, dt.date, dt.date], str] = {}
        self._fits: dict[tuple[str, dt.date, dt.date], ElasticNetFit | None] = {}
        self._calibration: dict[tuple[str, dt.date, dt.date], CalibrationRows | None] = {}

    def use_targets_of(self, split: Split, model: RiskModel) -> None:
        """Model each area of ``split`` by the label ``model`` ranks it by (its ranking target)."""
        for area in model.risk_areas:
            self.labels[_key(area, split)] = label_column(target_of(model.metadata, area))

    def label(self, area: str, split: Split) -> str:
        """The label ``area``'s net of ``split`` models."""
        return self.labels.get(_key(area, split), self.default_label)

    def fit(self, area: str, split: Split) -> ElasticNetFit | None:
        """The baseline's fit of ``area`` for ``split`` (None: its rows lack an outcome)."""
        key = _key(area, split)
        if key not in self._fits:
            self._fits[key] = self._new_fit(area, split, self.config.model.lightgbm.num_threads)
        return self._fits[key]

    def fit_all(self, wanted: Sequence[tuple[Split, Sequence[str]]]) -> None:
        """Fit each split's nets of its areas in ``wanted`` and their calibration nets, two or more at once.

        ``[model.lightgbm] num_threads`` threads, each fitting one (area, split) at a time with a
        single-threaded search; the splits with the most rows start first.
        """
        keys = [
            (area, split)
            for split, areas in sorted(wanted, key=lambda entry: entry[0].test_start, reverse=True)
            for area in areas
            if _key(area, split) not in self._calibration
        ]
        threads = self.config.model.lightgbm.num_threads
        with warnings.catch_warnings():
            # Set here, in the calling thread: catch_warnings inside the threads (fit_logistic's, refitted's)
            # save and restore the process-wide filter list, so without this one their interleaving could
            # restore a list without the filter while another thread still fits.
            warnings.simplefilter("ignore", ConvergenceWarning)
            fitted = Parallel(n_jobs=threads, backend="threading")(
                delayed(self._new_fit_and_calibration)(area, split) for area, split in keys
            )
        for (area, split), (fit, calibration) in zip(keys, fitted, strict=True):
            self._fits[_key(area, split)] = fit
            self._calibration[_key(area, split)] = calibration

    def _new_fit_and_calibration(
        self, area: str, split: Split
    ) -> tuple[ElasticNetFit | None, CalibrationRows | None]:
        fit = self._new_fit(area, split, n_jobs=1)
        return fit, None if fit is None else self._new_calibration(area, split, fit)

    def _new_fit(self, area: str, split: Split, n_jobs: int) -> ElasticNetFit | None:
        train = baseline_rows(self.rows, split).filter(pl.col(AREA_COLUMN) == area)
        label = self.label(area, split)
        y = train.get_column(label).to_numpy() if train.height else np.zeros(0)
        if not (y.size and 0 < y.sum() < y.size):
            return None
        index = self.config.risk_area_ids.index(area)
        seed = self.config.model.seed + 10 * index  # the baseline's seed (models.evaluation)
        return fit_elastic_net(train, features_for_area(self.catalog, area), seed, n_jobs, label=label)

    def _calibration_rows(self, area: str, split: Split) -> CalibrationRows | None:
        """The elastic net that predicts ``area``'s calibration rows of ``split``, and those rows.

        The held-out year, predicted by the split's elastic net (same penalty) fitted on the rows before
        that year (:func:`previous_split`'s); where those lack an outcome or the year does, the split's
        own elastic net on the held-out year or its training rows (in sample, logged).
        """
        key = _key(area, split)
        if key not in self._calibration:
            fit = self.fit(area, split)
            self._calibration[key] = None if fit is None else self._new_calibration(area, split, fit)
        return self._calibration[key]

    def _new_calibration(self, area: str, split: Split, fit: ElasticNetFit) -> CalibrationRows:
        label = self.label(area, split)
        held = self.rows.filter(split.held_out_filter() & (pl.col(AREA_COLUMN) == area))
        if held.is_empty() or np.unique(held.get_column(label).to_numpy()).size < 2:
            logger.warning(
                "%s %s: held-out year lacks an outcome; calibrated on the training rows", area, split.name
            )
            return fit, baseline_rows(self.rows, split).filter(pl.col(AREA_COLUMN) == area)
        before = baseline_rows(self.rows, previous_split(split)).filter(pl.col(AREA_COLUMN) == area)
        if before.is_empty() or np.unique(before.get_column(label).to_numpy()).size < 2:
            logger.warning(
                "%s %s: no elastic net before the held-out year; calibrated in sample", area, split.name
            )
            return fit, held
        return refitted(fit, before, label), held

    def served(self, split: Split, trees: Mapping[str, AreaScorer]) -> dict[str, ElasticNetAreaModel]:
        """``split``'s elastic net of each area of ``trees`` (its LightGBM area models), calibrated.

        One calibrator per area (each area has an elastic net of its own; a slope shared between them
        flattened the areas where the elastic net ranks well). Where the out-of-sample predictions of the
        held-out year do not rise with the outcome (a sigmoid slope ≤ 0, which would turn the ranking
        round), the split's own elastic net calibrates on that year instead (in sample, logged).
        """
        out = {}
        for area, lightgbm in trees.items():
            found = self._calibration_rows(area, split)
            fit = self.fit(area, split)
            if found is None or fit is None:
                continue
            if not fit.ranks:
                logger.warning("%s %s: the elastic net's penalty removed every feature; no candidate",
                               area, split.name)  # fmt: skip
                continue
            label = self.label(area, split)
            calibrator = self._calibrator(*found, label)
            if not _rises(calibrator):
                logger.warning("%s %s: the earlier elastic net does not rank the held-out year; in sample",
                               area, split.name)  # fmt: skip
                calibrator = self._calibrator(fit, found[1], label)
            out[area] = ElasticNetAreaModel(area, fit, calibrator, lightgbm, label=label)
        return out

    def _calibrator(self, fit: ElasticNetFit, rows: pl.DataFrame, label: str) -> Calibrator:
        return fit_calibrator(
            fit.raw(fit.matrix(rows)),
            rows.get_column(label).to_numpy().astype(np.int64),
            self.config.model.calibration,
            rows.get_column("weight").to_numpy().astype(np.float64),
        )


def _rises(calibrator: Calibrator) -> bool:
    """False for a sigmoid calibrator whose slope is not positive (isotonic maps never fall)."""
    if calibrator.method != "sigmoid" or calibrator.model is None:
        return True
    return bool(np.asarray(calibrator.model.coef_).ravel()[0] > 0)


def family_models(lightgbm: RiskModel, split: Split, nets: ElasticNets) -> dict[str, dict[str, AreaScorer]]:
    """Per family, per area: ``split``'s area model (an area without an elastic net has only LightGBM)."""
    trees = {area: lightgbm.model_for(area) for area in lightgbm.risk_areas}
    nets_of_split = nets.served(split, trees)
    return {
        "lightgbm": dict(trees),
        "elastic_net": dict(nets_of_split),
        "blend": {area: BlendAreaModel(area, trees[area], net) for area, net in nets_of_split.items()},
    }


def with_families(
    lightgbm: RiskModel, models: Mapping[str, Mapping[str, AreaScorer]], choices: Mapping[str, FamilyChoice]
) -> RiskModel:
    """``lightgbm`` with each area served by its chosen family (LightGBM where it is chosen or alone)."""
    served = {
        area: models[choice.family][area]
        for area, choice in choices.items()
        if choice.family != "lightgbm" and area in models[choice.family]
    }
    metadata = {
        **lightgbm.metadata,
        "families": {
            area: choice.family if area in served else "lightgbm" for area, choice in choices.items()
        },
    }
    return dataclasses.replace(lightgbm, family_models=served, metadata=metadata)


def _family_predictions(rows: pl.DataFrame, model: RiskModel, area: str, scorer: AreaScorer) -> np.ndarray:
    """The family's score of ``area``'s rows by ``model``'s ranking target for it (what ranks the area)."""
    frame = model.area_frame(rows.drop([c for c in ("team", "method") if c in rows.columns]), area)
    prediction = scorer.predict_rows(frame, area, contributions=False)
    scores = pl.DataFrame({"p_deficiency": prediction.p_deficiency, "p_serious": prediction.p_serious})
    target = target_of(model.metadata, area)
    return scores.select(RANKING_SCORES[target]).to_series().to_numpy().astype(np.float64)


def validation_frame(
    rows: pl.DataFrame,
    split: Split,
    lightgbm: RiskModel,
    models: Mapping[str, Mapping[str, AreaScorer]],
    label: str,
) -> pl.DataFrame:
    """Split ``split``'s test year as a validation year: each family's predictions of its rows."""
    year_rows = validation_rows(rows, split)
    parts = []
    for area in lightgbm.risk_areas:
        area_rows = year_rows.filter(pl.col(AREA_COLUMN) == area)
        if area_rows.is_empty() or any(area not in models[name] for name in FAMILIES):
            continue
        area_label = label_column(target_of(lightgbm.metadata, area)) if label == RANKING_LABEL else label
        parts.append(
            area_rows.select(
                pl.lit(split.name).alias("year"),
                "inspection_id",
                AREA_COLUMN,
                "is_random",
                pl.col(area_label).cast(pl.Int64).alias(label),
            ).with_columns(
                pl.Series(f"p_{name}", _family_predictions(area_rows, lightgbm, area, models[name][area]))
                for name in FAMILIES
            )
        )
    schema = {"year": pl.String, "inspection_id": pl.String, AREA_COLUMN: pl.String, "is_random": pl.Boolean,
              label: pl.Int64, **{f"p_{name}": pl.Float64 for name in FAMILIES}}  # fmt: skip
    return pl.concat(parts, how="vertical_relaxed") if parts else pl.DataFrame(schema=schema)


@dataclass
class FamilySelection:
    """The family chosen per split and area, every family's fold models, and the elastic-net fits."""

    choices: dict[str, dict[str, FamilyChoice]]  # split name ("final" for the served model) → area →
    chosen: list[RiskModel]  # per evaluation split: the chosen families
    scorers: list[dict[str, RiskModel]]  # per evaluation split: each family's fold model
    nets: ElasticNets
    validation: pl.DataFrame
    final: RiskModel | None = None

    def baseline(self, split: Split, area: str) -> tuple[Pipeline, dict[str, list[str]]] | None:
        """The elastic-net baseline of ``split`` and ``area`` (the fit the elastic-net family serves)."""
        fit = self.nets.fit(area, split)
        return None if fit is None else (fit.pipeline, fit.levels)

    def choice_table(self) -> pl.DataFrame:
        """fold, risk_area, family: the family each split's model serves per area."""
        rows = [
            {"fold": fold, AREA_COLUMN: area, "family": choice.family}
            for fold, areas in self.choices.items()
            for area, choice in areas.items()
        ]
        return pl.DataFrame(rows, schema={"fold": pl.String, AREA_COLUMN: pl.String, "family": pl.String})

    def to_dict(self) -> dict[str, Any]:
        """``family/choice.json``: per split (``final``: the served model) and area, choice and evidence."""
        return {
            fold: {area: choice.to_dict() for area, choice in areas.items()}
            for fold, areas in self.choices.items()
        }


def select_families(  # noqa: PLR0917 - the data, its splits and their models
    rows: pl.DataFrame,
    splits: Sequence[Split],
    lightgbm: Sequence[RiskModel],
    catalog: Sequence[ModelFeature],
    config: Config,
    final: tuple[Split, RiskModel] | None = None,
    *,
    label: str = RANKING_LABEL,
    progress: Callable[[str], None] | None = None,
    before: tuple[Split, RiskModel] | None = None,
) -> FamilySelection:
    """Choose every evaluation split's (and the final model's) family per area on validation years only.

    ``splits`` are the yearly evaluation splits, oldest first, and ``lightgbm`` their fitted models;
    ``final``: the served model's split and its LightGBM; ``before``: the split of the first validation
    year (:func:`first_validation_split`) and its LightGBM, when fitted already (fitted here if not given).
    See the module docstring for the procedure.
    """
    step = progress or (lambda _: None)
    nets = ElasticNets(rows, catalog, config, "deficiency" if label == RANKING_LABEL else label)
    if label == RANKING_LABEL:
        for split, model in zip(splits, lightgbm, strict=True):
            nets.use_targets_of(split, model)
        if final is not None:
            nets.use_targets_of(*final)
    choosing = _chooses(config, splits)
    if choosing and before is None:
        before = _split_before(rows, splits[0], catalog, config)
    elif not choosing:
        before = None
    if before is not None and label == RANKING_LABEL:
        nets.use_targets_of(*before)
    fitted = [*zip(splits, lightgbm, strict=True), *([before] if before else []), *([final] if final else [])]
    nets.fit_all([(split, model.risk_areas) for split, model in fitted])
    per_split = [family_models(model, split, nets) for split, model in zip(splits, lightgbm, strict=True)]
    validation_parts = []
    if choosing:
        if before is not None:
            validation_parts.append(
                validation_frame(rows, before[0], before[1], family_models(before[1], before[0], nets), label)
            )
        validation_parts += [
            validation_frame(rows, split, model, models, label)
            for split, model, models in zip(splits, lightgbm, per_split, strict=True)
        ]
    validation = pl.concat(validation_parts, how="vertical_relaxed") if validation_parts else NO_VALIDATION
    step("family validation")
    years = [] if validation.is_empty() else sorted(set(validation.get_column("year").to_list()))
    choices: dict[str, dict[str, FamilyChoice]] = {}
    chosen, scorers = [], []
    for split, model, models in zip(splits, lightgbm, per_split, strict=True):
        earlier = [year for year in years if _year_of(year) < split.test_start.year]
        choices[split.name] = choices_from_validation(
            validation, config, years=earlier, label=label, labels=_labels_of(model, label)
        )
        choices[split.name] = without_a_net(choices[split.name], models)
        chosen.append(with_families(model, models, choices[split.name]))
        scorers.append({
            "lightgbm": model,
            **{name: with_families(model, models, _forced(choices[split.name], name))
               for name in ("elastic_net", "blend")},
        })  # fmt: skip
    final_model = None
    if final is not None:
        final_split, final_lightgbm = final
        choices[FINAL] = choices_from_validation(
            validation, config, years=years, label=label, labels=_labels_of(final_lightgbm, label)
        )
        final_models = family_models(final_lightgbm, final_split, nets)
        choices[FINAL] = without_a_net(choices[FINAL], final_models)
        final_model = with_families(final_lightgbm, final_models, choices[FINAL])
    return FamilySelection(choices, chosen, scorers, nets, validation, final_model)


def fitted_lightgbm(
    rows: pl.DataFrame,
    splits: Sequence[Split],
    final: Split,
    catalog: Sequence[ModelFeature],
    config: Config,
) -> tuple[tuple[Split, RiskModel] | None, list[RiskModel], RiskModel]:
    """LightGBM of the first validation split (:func:`first_validation_split`, with it; None without one),
    of every evaluation split in ``splits`` and of ``final``, in one pass where they can be fitted together.

    Without model families to choose between there is no validation split. Where its rows hold one outcome
    only, the others are fitted without it, and :func:`select_families` logs why the choice goes without its
    year; a fault of the other splits is raised.
    """
    before = first_validation_split(rows, splits[0]) if _chooses(config, splits) else None
    if before is not None:
        try:
            before_trees, *models = fit_risk_models(
                rows, [before, *splits, final], catalog, config.risk_area_ids, config.model
            )
            return (before, before_trees), models[:-1], models[-1]
        except ValueError:
            pass  # fitted below without it
    *fold_trees, final_trees = fit_risk_models(
        rows, [*splits, final], catalog, config.risk_area_ids, config.model
    )
    return None, fold_trees, final_trees


def _labels_of(model: RiskModel, label: str) -> dict[str, str]:
    """The 0/1 label ``label`` stands for in each of ``model``'s areas (its ranking target's)."""
    if label != RANKING_LABEL:
        return dict.fromkeys(model.risk_areas, label)
    return {area: label_column(target_of(model.metadata, area)) for area in model.risk_areas}


def without_a_net(
    choices: Mapping[str, FamilyChoice], models: Mapping[str, Mapping[str, AreaScorer]]
) -> dict[str, FamilyChoice]:
    """``choices`` where an area has no elastic net in ``models``: LightGBM, the only family, with why.

    An area has none where its training rows hold one outcome or the net's penalty removed every feature
    (a constant cannot rank: served, it would tie every unit and give no reason). Saying "too few validation
    inspections", or keeping a family the model does not serve, would misreport the choice.
    """
    return {
        area: choice
        if area in models.get("elastic_net", {})
        else FamilyChoice(area, "lightgbm", NO_NET_REASON, [], 0, label=choice.label)
        for area, choice in choices.items()
    }


def _year_of(name: str) -> int:
    return int(name)


def _forced(choices: Mapping[str, FamilyChoice], family: str) -> dict[str, FamilyChoice]:
    return {area: dataclasses.replace(choice, family=family) for area, choice in choices.items()}


def _chooses(config: Config, splits: Sequence[Split]) -> bool:
    """Whether there are families to choose between, on validation years before the first of ``splits``."""
    return len(config.model.families) > 1 and bool(splits)


def first_validation_split(rows: pl.DataFrame, first: Split) -> Split | None:
    """The yearly split whose test year is ``first``'s held-out year (None: no rows to fit it on).

    Its test year is the first validation year of the family choice (the module docstring). Its refit rows
    are ``first``'s fit rows, so fitted in one pass with the evaluation splits
    (:func:`models.training.fit_risk_models`) it shares a LightGBM fit with them and changes none.
    """
    split = yearly_split(first.held_out_start.year)
    return None if rows.filter(split.fit_filter()).is_empty() else split


def _split_before(
    rows: pl.DataFrame, first: Split, catalog: Sequence[ModelFeature], config: Config
) -> tuple[Split, RiskModel] | None:
    """:func:`first_validation_split`, fitted (None: too little history)."""
    split = first_validation_split(rows, first)
    if split is None:
        return None
    try:
        model = fit_risk_models(rows, [split], catalog, config.risk_area_ids, config.model)[0]
    except ValueError as error:
        logger.warning("no validation year before %s: %s", first.name, error)
        return None
    return split, model
