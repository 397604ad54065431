"""Scoring a snapshot: the champion's probabilities, ranks and reasons for every active unit, stored.

The one use-case function for scoring (:func:`score_snapshot`): champion → point-in-time features →
predictions → scores frame → validated, content-addressed scoring snapshot. The command line calls it and
prints; publishing (making it the scoring the API serves) is a separate, last step
(:meth:`engine.scores.ScoreStore.publish`), so a caller can fail before anything new is served.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

import polars as pl

from engine.config import Config
from engine.scores import OVERALL, ScoreMetadata, ScoreStore
from engine.settings import Settings
from engine.snapshots import Snapshot
from features.store import FeatureBuildError, FeatureStore, stored_feature_set
from models.offset import UnknownCovariateError
from models.registry import MODEL_NAME, Champion, load_champion
from models.targets import ranking_targets
from serving.scoring import data_horizon, default_as_of, scores_frame

STALE_AFTER_DAYS = 92
"""A planning date this far after the newest record means the data was not refreshed (a quarter)."""
MAX_COVARIATE_LENGTH = 64
"""A planned team or method name is at most this long (longer input is refused unread)."""


class ScoringError(ValueError):
    """The snapshot cannot be scored with the champion (say why, in a sentence for the analyst)."""


class PlannedInspectionError(ScoringError):
    """The team or method to score with is not one the champion knows (the message lists the known ones)."""


@dataclass(frozen=True)
class Scoring:
    """A stored (not yet published) scoring snapshot and what it was computed from."""

    frame: pl.DataFrame
    metadata: ScoreMetadata
    champion: Champion
    feature_set_id: str
    planning_date: dt.date
    seconds: float
    notes: list[str] = field(default_factory=list)
    """Things the analyst should know that do not stop the scoring (stale data, another snapshot)."""

    @property
    def units(self) -> int:
        return self.frame.filter(pl.col("risk_area") == OVERALL).height


def planned_inspection(team: str | None = None, method: str | None = None) -> dict[str, str]:
    """The team and method a scoring assumes (empty: team-neutral), each bounded in length.

    Raises
    ------
    PlannedInspectionError
        When a name is empty or longer than :data:`MAX_COVARIATE_LENGTH`.
    """
    planned = {name: value for name, value in (("team", team), ("method", method)) if value is not None}
    for name, value in planned.items():
        if not 0 < len(value) <= MAX_COVARIATE_LENGTH or not value.isprintable():
            raise PlannedInspectionError(f"a {name} name is 1 to {MAX_COVARIATE_LENGTH} printable characters")
    return planned


def score_snapshot(
    settings: Settings,
    config: Config,
    source: Snapshot,
    as_of: dt.date | None = None,
    *,
    planned: dict[str, str] | None = None,
) -> Scoring:
    """Score every unit active at ``as_of`` in ``source`` with the champion and store the result.

    Parameters
    ----------
    settings
        Where the model registry, feature sets and scoring snapshots live.
    config
        The effective configuration (explanations per row, the feature set's id).
    source
        The ingest snapshot to score.
    as_of
        The planning date; default: the first day of the month after the snapshot's newest record.
    planned
        The team (and method) that will inspect (:func:`planned_inspection`): every unit is scored with
        that team's effect; default team-neutral (averaged over the teams' training mix). Recorded in
        the scoring's lineage and part of its id.

    Returns
    -------
    The stored scoring snapshot with its lineage; it is not published.

    Raises
    ------
    ScoringError
        When the date or the snapshot does not fit, the champion needs features this configuration does
        not build, or no unit is active; :class:`PlannedInspectionError` when ``planned`` names a team
        or method the champion does not know.
    models.registry.NoChampionError
        When no model version is the champion.
    """
    tables = source.tables()
    try:
        planning_date = as_of if as_of is not None else default_as_of(tables, config)
        horizon = data_horizon(tables, config)
    except ValueError as error:
        raise ScoringError(str(error)) from error
    notes = []
    if (planning_date - horizon).days > STALE_AFTER_DAYS:
        notes.append(
            f"the snapshot's newest record is from {horizon}; at {planning_date} every later month counts "
            "as not reported (indicator signals go stale, not-reporting flags rise)"
        )
    champion = load_champion(settings)
    planned = dict(planned or {})
    try:
        champion.model.check_planned(dict(planned))
    except UnknownCovariateError as error:
        raise PlannedInspectionError(f"champion version {champion.version}: {error}") from error
    if champion.snapshot_id and champion.snapshot_id != source.id:
        notes.append(
            f"champion version {champion.version} was trained on snapshot {champion.snapshot_id}; "
            f"scoring snapshot {source.id}"
        )
    started = time.perf_counter()
    try:
        feature_set, features, _ = stored_feature_set(
            FeatureStore(settings.features_dir),
            tables,
            snapshot_id=source.id,
            dates=[planning_date],
            config=config,
        )
    except FeatureBuildError as error:
        raise ScoringError(str(error)) from error
    missing = sorted({spec.name for spec in champion.model.catalog} - set(features.columns))
    if missing:
        raise ScoringError(
            f"champion version {champion.version} needs features this configuration does not build: "
            f"{missing[:5]}{' ...' if len(missing) > 5 else ''}; retrain with `tillsynsrisk train`"
        )
    if features.height == 0:
        raise ScoringError(f"no unit is active at {planning_date} in snapshot {source.id}")
    scored = features.with_columns(
        pl.lit(value, dtype=pl.String).alias(name) for name, value in planned.items()
    )
    predictions = champion.predict_frame(scored)
    frame = scores_frame(
        predictions.lazy(),
        features.lazy(),
        tables["units"],
        tables["providers"],
        champion.catalog,
        explanations_per_row=config.scoring.explanations_per_row,
        min_contribution=config.scoring.min_contribution,
        targets=ranking_targets(champion.model.metadata),
    ).collect()
    metadata = ScoreStore(settings.scores_dir).write(
        frame,
        model_name=MODEL_NAME,
        model_version=champion.version,
        run_id=champion.run_id,
        feature_set_id=feature_set.id,
        snapshot_id=source.id,
        config_hash=config.content_hash(),
        model_versions=dict.fromkeys([*champion.model.risk_areas, OVERALL], champion.version),
        targets=dict(champion.model.metadata.get("targets", {})),
        planned_inspection=planned,
    )
    return Scoring(
        frame=frame,
        metadata=metadata,
        champion=champion,
        feature_set_id=feature_set.id,
        planning_date=planning_date,
        seconds=time.perf_counter() - started,
        notes=notes,
    )
