"""Stored inspection plans: ``$TILLSYNSRISK_HOME/plans/<plan_id>.json`` (the plan store and job).

A plan document names everything needed to reproduce it: the parameters (with the seed), the score id,
the ingest snapshot whose inspections set the cooldown, and the reference date. The plan id is a hash of
exactly those inputs, so asking for the same plan twice returns the same id and the same units.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Any

import polars as pl

from engine.scores import ScoreSnapshot, atomic_write
from serving.planning import PlanParameters, PlanSelection, cooldown_units, plan_selection

logger = logging.getLogger(__name__)

PLAN_ID_PATTERN = r"^plan-[0-9a-f]{16}$"
PLAN_SCHEMA_VERSION = 1


class PlanNotFoundError(LookupError):
    """No stored plan with that id."""


class CooldownUnavailableError(RuntimeError):
    """A cooldown was asked for but no inspections are available to apply it."""


def plan_id_for(parameters: PlanParameters, score_id: str, inspections_snapshot_id: str | None) -> str:
    """The deterministic id of a plan: a hash of its parameters, scores and inspections snapshot."""
    canonical = json.dumps(
        {
            "version": PLAN_SCHEMA_VERSION,
            "parameters": parameters.as_dict(),
            "score_id": score_id,
            "inspections_snapshot_id": inspections_snapshot_id,
        },
        sort_keys=True,
    )
    return "plan-" + hashlib.sha256(canonical.encode()).hexdigest()[:16]


def make_plan(
    scores: ScoreSnapshot,
    parameters: PlanParameters,
    *,
    inspections: pl.LazyFrame | None,
    inspections_snapshot_id: str | None,
    created_at: dt.datetime | None = None,
) -> dict[str, Any]:
    """Select a plan on ``scores`` and return its JSON-ready document.

    ``inspections`` (the ingest snapshot's inspections table) sets the cooldown; it may be None only
    when ``parameters.cooldown_months == 0``.
    """
    reference_date = scores.metadata.as_of
    if parameters.cooldown_months > 0:
        if inspections is None:
            raise CooldownUnavailableError(
                f"cooldown_months={parameters.cooldown_months} needs the inspections of an ingest snapshot, "
                "and none is available; ingest one or set cooldown_months=0"
            )
        recent = cooldown_units(inspections, reference_date, parameters.cooldown_months).collect()
    else:
        recent = pl.DataFrame(schema={"unit_id": pl.String, "last_inspected": pl.Date})
    selection = plan_selection(scores.frame, recent, parameters)
    plan_id = plan_id_for(parameters, scores.id, inspections_snapshot_id)
    return plan_document(
        selection,
        parameters,
        plan_id=plan_id,
        scores=scores,
        inspections_snapshot_id=inspections_snapshot_id,
        units_in_cooldown=recent.height,
        created_at=created_at or dt.datetime.now(dt.UTC),
    )


def plan_document(
    selection: PlanSelection,
    parameters: PlanParameters,
    *,
    plan_id: str,
    scores: ScoreSnapshot,
    inspections_snapshot_id: str | None,
    units_in_cooldown: int,
    created_at: dt.datetime,
) -> dict[str, Any]:
    """The stored form of a plan (plain JSON types)."""
    meta = scores.metadata
    return {
        "plan_id": plan_id,
        "schema_version": PLAN_SCHEMA_VERSION,
        "created_at": created_at.isoformat(),
        "parameters": parameters.as_dict(),
        "seed": parameters.seed,
        "score_id": scores.id,
        "as_of": meta.as_of.isoformat(),
        "reference_date": meta.as_of.isoformat(),
        "model_name": meta.model_name,
        "model_version": meta.model_versions.get(parameters.risk_area, meta.model_version),
        "inspections_snapshot_id": inspections_snapshot_id,
        "units_in_cooldown": units_in_cooldown,
        "design": parameters.design,
        "expected_findings": round(selection.expected_findings, 6),
        "expected_serious_findings": round(selection.expected_serious_findings, 6),
        "expected_standard_errors": selection.expected_standard_errors,
        "eligible_units": selection.frame.height,
        "zero_probability_units": selection.zero_probability_units,
        "risk_ranked": int((selection.chosen["reason"] == "risk_rank").sum()),
        "random": int((selection.chosen["reason"] == "random").sum()),
        "pps": int((selection.chosen["reason"] == "pps").sum()),
        "chosen": _records(selection.chosen),
        "skipped": _records(selection.skipped),
        "strata": _records(selection.strata),
        "warnings": selection.warnings,
    }


def _records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return [
        {key: value.isoformat() if isinstance(value, dt.date) else value for key, value in row.items()}
        for row in frame.iter_rows(named=True)
    ]


def current_inspections(snapshots_dir: Path) -> tuple[pl.LazyFrame | None, str | None]:
    """The ``inspections`` table of the current ingest snapshot and its id (None, None if there is none)."""
    try:
        from engine.snapshots import SnapshotNotFoundError, SnapshotStore
    except ImportError:  # the ingest area is not part of this build
        return None, None
    try:
        snapshot = SnapshotStore(snapshots_dir).open()
    except SnapshotNotFoundError:
        return None, None
    if "inspections" not in snapshot.table_names():
        return None, snapshot.id
    return snapshot.scan("inspections"), snapshot.id


class PlanStore:
    """Plans as JSON files under ``root`` (``Settings().plans_dir``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def save(self, document: dict[str, Any]) -> Path:
        """Write a plan document atomically; an existing plan with the same id is left untouched.

        Each call writes its own temporary file (unique per call, not per process: concurrent
        requests for the same plan run in one process) and renames it over the final name, so a
        reader sees no file or a complete one, and two writers of the same plan never collide.
        """
        plan_id = document["plan_id"]
        path = self._path(plan_id)
        if path.exists():
            return path
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write(path, json.dumps(document, indent=2, ensure_ascii=False).encode())
        logger.info("stored plan %s", plan_id)
        return path

    def open(self, plan_id: str) -> dict[str, Any]:
        """The stored plan document."""
        try:
            data: dict[str, Any] = json.loads(self._path(plan_id).read_text(encoding="utf-8"))
        except FileNotFoundError as error:
            raise PlanNotFoundError(f"no plan {plan_id!r}") from error
        return data

    def ids(self) -> list[str]:
        """Every stored plan id."""
        if not self.root.is_dir():
            return []
        return sorted(p.stem for p in self.root.glob("plan-*.json") if re.match(PLAN_ID_PATTERN, p.stem))

    def _path(self, plan_id: str) -> Path:
        if not re.match(PLAN_ID_PATTERN, plan_id):
            raise PlanNotFoundError(f"invalid plan id; expected {PLAN_ID_PATTERN}")
        return self.root / f"{plan_id}.json"
