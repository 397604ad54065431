"""The champion's prospective record: how it ranked the units inspected after it was put in force.

After every ingest (``tillsynsrisk ingest``) the inspections decided since the champion's start
(``model.prospective_since``: its training cut-off ``as_of``, or the date it was promoted) are scored
with the champion *as it was*: its own stored scores (``$TILLSYNSRISK_HOME/scores``) where a scoring
snapshot of that version holds the unit at the inspection's planning date, otherwise the registered
model recomputed from the point-in-time features. The figures are those of ``evaluate`` (per area,
random selections and all inspections, bootstrap intervals) and are kept with the model version's run
in MLflow (``prospective/record.json``, one ``prospective/history/<snapshot>.json`` per ingest, tags
``prospective_*`` on the version). ``evaluate`` and the HTML report show them as "i drift sedan …".
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl
from mlflow.exceptions import MlflowException

from engine.config import Config
from engine.scores import OVERALL, ScoreNotFoundError, ScoreStore, ScoreValidationError
from features.catalog import feature_catalog
from models.backtest import run_backtest, window_inspections
from models.registry import MODEL_NAME, current_champion_run, load_version, promoted_at
from models.tracking import Tracking

logger = logging.getLogger(__name__)

RECORD_ARTIFACT = "prospective/record.json"


def stored_scores(store: ScoreStore, version: str) -> pl.DataFrame:
    """unit_id, as_of, risk_area, p_deficiency of every stored scoring snapshot made by ``version``."""
    parts = []
    for metadata in store.list():
        if metadata.model_name != MODEL_NAME or str(metadata.model_version) != str(version):
            continue
        try:
            frame = store.open(metadata.score_id).frame
        except (ScoreNotFoundError, ScoreValidationError) as error:
            logger.warning("prospective record: skipping scoring snapshot %s: %s", metadata.score_id, error)
            continue
        parts.append(
            frame.filter(pl.col("risk_area") != OVERALL).select(
                pl.col("unit_id").cast(pl.String),
                pl.col("as_of").cast(pl.Date),
                pl.col("risk_area").cast(pl.String),
                pl.col("p_deficiency").cast(pl.Float64),
            )
        )
    schema = {"unit_id": pl.String, "as_of": pl.Date, "risk_area": pl.String, "p_deficiency": pl.Float64}
    return pl.concat(parts) if parts else pl.DataFrame(schema=schema)


def prospective_record(
    tables: Mapping[str, pl.LazyFrame],
    config: Config,
    tracking: Tracking,
    *,
    snapshot_id: str,
    scores_dir: Path,
    now: dt.datetime | None = None,
) -> dict[str, Any] | None:
    """The champion's record on the inspections decided since its start (None without a champion)."""
    current = current_champion_run(tracking)
    if current is None:
        return None
    number, run_id = current
    version = load_version(tracking, number, stored_scores(ScoreStore(scores_dir), number))
    built = {spec.name for spec in feature_catalog(config, has_visits="visits" in tables)}
    missing = sorted({f.name for f in version.model.catalog} - built)
    if missing:
        raise ValueError(
            f"champion version {number} uses features this configuration does not build "
            f"({', '.join(missing[:3])}{', …' if len(missing) > 3 else ''}); its record cannot be computed"
        )
    rule = config.model.prospective_since
    since = version.as_of if rule == "as_of" else promoted_at(tracking, number)
    record: dict[str, Any] = {
        "version": number,
        "run_id": run_id,
        "since": since.isoformat(),
        "since_rule": rule,
        "snapshot_id": snapshot_id,
        "updated_at": (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds"),
        "until": None,
        "inspections": 0,
        "stored_scores_used": 0,
        "counts": [],
        "metrics": [],
    }
    window = window_inspections(
        tables["inspections"], since=since, until=None, lead_time_days=version.lead_time_days
    ).collect()
    if window.is_empty():
        return record
    record["until"] = window.get_column("decision_date").max().isoformat()  # type: ignore[union-attr]
    try:
        result = run_backtest(tables, config, [version], since=since)
    except ValueError as error:  # e.g. no inspected unit had a feature row at its planning date
        logger.warning("prospective record of version %s: %s", number, error)
        return record
    described = result.versions[0]
    record.update(
        inspections=described["inspections"],
        stored_scores_used=described["stored_scores_used"],
        counts=result.counts.to_dicts(),
        metrics=result.metrics.drop("version").to_dicts(),
    )
    return record


def keep_record(tracking: Tracking, record: dict[str, Any]) -> None:
    """Store ``record`` with the champion's run and version (the latest and one file per snapshot)."""
    run_id = record["run_id"]
    tracking.client.log_dict(run_id, record, RECORD_ARTIFACT)
    tracking.client.log_dict(run_id, record, f"prospective/history/{record['snapshot_id']}.json")
    for key in ("since", "until", "inspections", "snapshot_id", "updated_at"):
        tracking.client.set_model_version_tag(
            MODEL_NAME, record["version"], f"prospective_{key}", str(record[key])
        )


def read_record(tracking: Tracking, run_id: str) -> dict[str, Any] | None:
    """The prospective record kept with ``run_id`` (None when it was never a champion after an ingest)."""
    try:
        data = tracking.read_json(run_id, RECORD_ARTIFACT)
    except (MlflowException, OSError):
        return None
    return data if isinstance(data, dict) else None


def record_summary(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per area and population: n, base rate and precision@10 %, ROC AUC, Brier with intervals."""
    out: dict[str, dict[str, Any]] = {}
    for row in record.get("counts", []):
        entry = out.setdefault(row["risk_area"], {})
        entry[row["population"]] = {"n": row["n"], "base_rate": row["base_rate"]}
    for row in record.get("metrics", []):
        if row["metric"] not in ("precision_at_10pct", "roc_auc", "average_precision", "brier", "ece"):
            continue
        block = out.setdefault(row["risk_area"], {}).setdefault(row["population"], {})
        block[row["metric"]] = row["value"]
        if row.get("lower") is not None:
            block[f"{row['metric']}_ci"] = [row["lower"], row["upper"]]
    return out


def since_label(record: dict[str, Any]) -> str:
    """``i drift sedan 2025-01-01 (version 3; tillsyner beslutade t.o.m. 2025-12-20)``."""
    until = record.get("until")
    tail = f"; tillsyner beslutade t.o.m. {until}" if until else "; inga tillsyner beslutade sedan dess"
    return f"i drift sedan {record['since']} (version {record['version']}{tail})"
