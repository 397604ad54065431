"""Stored inspection plans: ``$TILLSYNSRISK_HOME/plans/<plan_id>.json`` (the plan store and job).

A plan document names everything needed to reproduce it: the parameters (with the seed), the score id,
the ingest snapshot whose inspections set the cooldown, and the reference date, with the planner's
optional name and purpose. The plan id is a hash of exactly those inputs (the labels only when given),
so asking for the same plan twice returns the same id and the same units.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Any

import polars as pl

from engine.events import EventLog
from engine.personal_data import contains_personal_number
from engine.scores import ScoreSnapshot, atomic_write
from serving.planning import PlanParameters, PlanSelection, cooldown_units, plan_selection
from serving.scoring import reasons_that_carry_weight

logger = logging.getLogger(__name__)

PLAN_ID_PATTERN = r"^plan-[0-9a-f]{16}$"
PLAN_SCHEMA_VERSION = 1
# The reasons a plan keeps per chosen unit: the top ones, as the candidate list shows them.
REASONS_PER_UNIT = 3
MAX_NAME_CHARS = 120
MAX_PURPOSE_CHARS = 2000
# Control characters other than tab and line breaks; a name is one line, a purpose may have several.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_BREAK = re.compile(r"[\t\r\n]")


class PlanNotFoundError(LookupError):
    """No stored plan with that id."""


class CooldownUnavailableError(RuntimeError):
    """A cooldown was asked for but no inspections are available to apply it."""


def plan_label(text: str | None, *, field: str, max_chars: int, multiline: bool) -> str | None:
    """A plan's ``name`` or ``purpose`` as stored: stripped, bounded, None when empty.

    Raises ``ValueError`` for text longer than ``max_chars``, with control characters (or line breaks
    where ``multiline`` is False), or holding a personal identity number: a plan's label is shown on
    pages, in lists and in CSV file listings, and must never carry one.
    """
    if text is None:
        return None
    stripped = text.strip()
    if not stripped:
        return None
    if len(stripped) > max_chars:
        raise ValueError(f"{field} is longer than {max_chars} characters")
    if _CONTROL.search(stripped) or (not multiline and _LINE_BREAK.search(stripped)):
        raise ValueError(f"{field} contains control characters" + ("" if multiline else " or line breaks"))
    if contains_personal_number(stripped):
        raise ValueError(f"{field} must not contain a personal identity number")
    return stripped


def plan_id_for(
    parameters: PlanParameters,
    score_id: str,
    inspections_snapshot_id: str | None,
    *,
    name: str | None = None,
    purpose: str | None = None,
) -> str:
    """The deterministic id of a plan: a hash of its parameters, scores, inspections snapshot and labels.

    The name and purpose enter the hash only when given, so a plan without them keeps the id it had
    before plans had labels; the same request (labels included) is still the same plan.
    """
    content: dict[str, Any] = {
        "version": PLAN_SCHEMA_VERSION,
        "parameters": parameters.as_dict(),
        "score_id": score_id,
        "inspections_snapshot_id": inspections_snapshot_id,
    }
    labels = {"name": name, "purpose": purpose}
    content |= {key: value for key, value in labels.items() if value is not None}
    canonical = json.dumps(content, sort_keys=True)
    return "plan-" + hashlib.sha256(canonical.encode()).hexdigest()[:16]


def make_plan(
    scores: ScoreSnapshot,
    parameters: PlanParameters,
    *,
    inspections: pl.LazyFrame | None,
    inspections_snapshot_id: str | None,
    created_at: dt.datetime | None = None,
    name: str | None = None,
    purpose: str | None = None,
    min_contribution: float = 0.0,
) -> dict[str, Any]:
    """Select a plan on ``scores`` and return its JSON-ready document.

    ``inspections`` (the ingest snapshot's inspections table) sets the cooldown; it may be None only
    when ``parameters.cooldown_months == 0``. ``name`` and ``purpose`` are the planner's free-text
    labels (:func:`plan_label`; a bad one raises ``ValueError``). Each chosen unit keeps its top Swedish
    reasons (``reasons_sv``) with a contribution of at least ``min_contribution`` (``[scoring]``), as the
    candidate list shows them, so the plan's page and files explain it without the scoring at hand.
    """
    name = plan_label(name, field="name", max_chars=MAX_NAME_CHARS, multiline=False)
    purpose = plan_label(purpose, field="purpose", max_chars=MAX_PURPOSE_CHARS, multiline=True)
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
    selection = with_reasons(selection, scores.frame, parameters.risk_area, min_contribution)
    plan_id = plan_id_for(parameters, scores.id, inspections_snapshot_id, name=name, purpose=purpose)
    document = plan_document(
        selection,
        parameters,
        plan_id=plan_id,
        scores=scores,
        inspections_snapshot_id=inspections_snapshot_id,
        units_in_cooldown=recent.height,
        created_at=created_at or dt.datetime.now(dt.UTC),
    )
    return {"plan_id": document["plan_id"], "name": name, "purpose": purpose} | document


def with_reasons(
    selection: PlanSelection, scores: pl.DataFrame, risk_area: str, min_contribution: float
) -> PlanSelection:
    """``selection`` with ``reasons_sv`` on every chosen unit: its top reasons that carry weight."""
    if "explanations" not in scores.columns:
        reasons: dict[str, list[str]] = {}
    else:
        rows = scores.filter(
            (pl.col("risk_area") == risk_area)
            & pl.col("unit_id").is_in(selection.chosen["unit_id"].implode())
        ).select("unit_id", "explanations")
        reasons = {
            unit_id: [
                reason["sentence_sv"]
                for reason in reasons_that_carry_weight(explanations or [], min_contribution)[
                    :REASONS_PER_UNIT
                ]
            ]
            for unit_id, explanations in rows.iter_rows()
        }
    chosen = selection.chosen.with_columns(
        reasons_sv=pl.Series(
            [reasons.get(unit_id, []) for unit_id in selection.chosen["unit_id"].to_list()],
            dtype=pl.List(pl.String),
        )
    )
    return dataclasses.replace(selection, chosen=chosen)


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
        "largest_useful_floor": selection.largest_useful_floor,
    }


def _records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return [
        {key: value.isoformat() if isinstance(value, dt.date) else value for key, value in row.items()}
        for row in frame.iter_rows(named=True)
    ]


def plan_summary(document: dict[str, Any]) -> dict[str, Any]:
    """The fields of a plan shown in a list (no units): id, labels, dates, design, size, expectation."""
    parameters = document["parameters"]
    return {
        "plan_id": document["plan_id"],
        "name": document.get("name"),
        "purpose": document.get("purpose"),
        "created_at": document["created_at"],
        "score_id": document["score_id"],
        "as_of": document["as_of"],
        "risk_area": parameters["risk_area"],
        "design": document.get("design", parameters.get("design", "top")),
        "capacity": parameters["capacity"],
        "seed": document["seed"],
        "chosen_units": len(document["chosen"]),
        "expected_findings": document["expected_findings"],
    }


def plan_matches(
    summary: dict[str, Any],
    *,
    created_from: dt.date | None = None,
    created_to: dt.date | None = None,
    design: str | None = None,
    risk_area: str | None = None,
    name: str | None = None,
) -> bool:
    """Whether a :func:`plan_summary` passes every given filter.

    ``created_from`` and ``created_to`` are inclusive UTC calendar days; ``name`` matches any part of
    the plan's name, ignoring case.
    """
    created = dt.datetime.fromisoformat(summary["created_at"]).astimezone(dt.UTC).date()
    return (
        (created_from is None or created >= created_from)
        and (created_to is None or created <= created_to)
        and (design is None or summary["design"] == design)
        and (risk_area is None or summary["risk_area"] == risk_area)
        and (name is None or name.casefold() in (summary["name"] or "").casefold())
    )


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
    """Plans as JSON files under ``root`` (``Settings().plans_dir``).

    With ``events`` (``EventLog(Settings().events_db)``), every new plan is recorded in the change feed.
    """

    def __init__(self, root: Path, events: EventLog | None = None) -> None:
        self.root = root
        self.events = events

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
        if self.events is not None:
            # Keyed by the plan id: two requests racing to store the same new plan log it once.
            summary = plan_summary(document)
            subject = {key: summary[key] for key in ("plan_id", "name", "score_id", "risk_area", "design")}
            self.events.append("plan.saved", subject, once_key=f"plan.saved:{plan_id}")
        return path

    def open(self, plan_id: str) -> dict[str, Any]:
        """The stored plan document."""
        try:
            data: dict[str, Any] = json.loads(self._path(plan_id).read_text(encoding="utf-8"))
        except FileNotFoundError as error:
            raise PlanNotFoundError(f"no plan {plan_id!r}") from error
        return data

    def summaries(self) -> list[dict[str, Any]]:
        """A :func:`plan_summary` of every stored plan, newest first (ties by id)."""
        found = []
        for plan_id in self.ids():
            try:
                found.append(plan_summary(self.open(plan_id)))
            except (PlanNotFoundError, ValueError, KeyError) as error:  # removed meanwhile, or unreadable
                logger.warning("plan list skips %s: %s", plan_id, error)
        found.sort(key=lambda summary: summary["plan_id"])
        found.sort(key=lambda summary: dt.datetime.fromisoformat(summary["created_at"]), reverse=True)
        return found

    def ids(self) -> list[str]:
        """Every stored plan id."""
        if not self.root.is_dir():
            return []
        return sorted(p.stem for p in self.root.glob("plan-*.json") if re.match(PLAN_ID_PATTERN, p.stem))

    def _path(self, plan_id: str) -> Path:
        if not re.match(PLAN_ID_PATTERN, plan_id):
            raise PlanNotFoundError(f"invalid plan id; expected {PLAN_ID_PATTERN}")
        return self.root / f"{plan_id}.json"
