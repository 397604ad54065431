"""The scoring snapshot the API serves, held in memory and swapped atomically when a new one is published.

:class:`ServedScores` is immutable: the frame, the metadata and indexes built once per snapshot (candidate
JSON pre-rendered per risk area in rank order, rows per unit and per provider, score history).
:func:`candidate_page_json` assembles a ``GET /v1/candidates`` page from the pre-rendered candidates.
:class:`ScoresHolder` keeps one reference to it. Requests poll ``scores/CURRENT`` cheaply (one ``stat``
at most every ``refresh_seconds``); when it changes, a background thread loads and validates the new
snapshot completely and only then replaces the reference, so requests in flight keep the object they
started with and none fails. A snapshot that cannot be loaded leaves the previous one in place and makes
the holder not ready, with the reason. The candidates carry each unit's last inspections and karenstid
from the current ingest snapshot (:class:`InspectionsSource`): the holder also polls that snapshot's id
and renders the candidates again when it changes, so both are computed once per pair of snapshots.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import logging
import re
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import polars as pl
from pydantic import TypeAdapter

from api.schemas import CandidateQuery, InspectionStatus, RankedUnit
from engine.config import Config
from engine.contract import REGIONS
from engine.scores import (
    OVERALL,
    SCORE_ID_PATTERN,
    ScoreMetadata,
    ScoreNotFoundError,
    ScoreSnapshot,
    ScoreStore,
    ScoreValidationError,
)
from engine.snapshots import SnapshotStore
from serving.planning import inspection_status
from serving.plans import current_inspections

# The inspection fields of a unit no inspection names (and of every unit when there is no ingest snapshot).
NOT_INSPECTED: dict[str, Any] = InspectionStatus().model_dump()
NOT_INSPECTED_JSON = InspectionStatus().model_dump_json().encode()

logger = logging.getLogger(__name__)

FilterKey = tuple[str, str, str, str]  # region_code, ownership, unit_type, provider_id
FILTER_FIELDS = 4  # the length of a FilterKey
# The CandidateQuery fields that filter, in FilterKey order.
QUERY_FILTERS = ("region", "ownership", "unit_type", "provider_id")
_RANKED = TypeAdapter(RankedUnit)
_STATUS = TypeAdapter(InspectionStatus)


@dataclass(frozen=True)
class AreaIndex:
    """One risk area's candidates in rank order: pre-rendered JSON and the filter keys per item.

    ``head`` is the start of a candidate page, the fields that are the same on every page of the area
    (``{"score_id":…,"as_of":…,"risk_area":…,"model_version":…,``), rendered once with the items.
    ``postings[f][value]`` lists, in rank order, the positions whose filter field ``f`` (an index into
    :data:`FilterKey`) equals ``value``.
    """

    head: bytes
    items: list[bytes]
    keys: list[FilterKey]
    postings: tuple[dict[str, list[int]], ...]

    def matching(self, wanted: tuple[Sequence[str] | None, ...]) -> Sequence[int]:
        """Positions, in rank order, whose filter key is one of ``wanted`` wherever it is not None.

        Each requested field matches any of its values (the union of their posting lists). Starts from
        the field with the fewest positions and checks the others on those positions only: a filtered
        page costs the size of its smallest filter, not of the area.
        """
        requested = [(field, values) for field, values in enumerate(wanted) if values is not None]
        if not requested:
            return range(len(self.items))
        lists = [self._positions(field, values) for field, values in requested]
        shortest = min(range(len(lists)), key=lambda i: len(lists[i]))
        others = [(field, frozenset(values)) for i, (field, values) in enumerate(requested) if i != shortest]
        if not others:
            return lists[shortest]
        return [
            position
            for position in lists[shortest]
            if all(self.keys[position][field] in values for field, values in others)
        ]

    def _positions(self, field: int, values: Sequence[str]) -> Sequence[int]:
        """Positions, in rank order, whose filter field ``field`` is one of ``values``."""
        postings = [self.postings[field].get(value, []) for value in dict.fromkeys(values)]
        if len(postings) == 1:
            return postings[0]
        return sorted(position for positions in postings for position in positions)


def area_index(head: bytes, items: list[bytes], keys: list[FilterKey]) -> AreaIndex:
    """An :class:`AreaIndex` with its posting lists built from ``keys``."""
    postings: tuple[dict[str, list[int]], ...] = tuple({} for _ in range(FILTER_FIELDS))
    for position, key in enumerate(keys):
        for field, value in enumerate(key):
            postings[field].setdefault(value, []).append(position)
    return AreaIndex(head=head, items=items, keys=keys, postings=postings)


@dataclass(frozen=True)
class InspectionsSource:
    """Where the holder finds the inspections behind the candidates' last-inspection and karenstid fields.

    ``marker`` is cheap (read on a request at most every ``refresh_seconds``) and changes when another
    ingest snapshot becomes current; ``load`` returns that snapshot's ``inspections`` table and id.
    """

    marker: Callable[[], str | None]
    load: Callable[[], tuple[pl.LazyFrame | None, str | None]]


@dataclass(frozen=True)
class LoadedInspections:
    """The inspections a :class:`ServedScores` was built with: per unit its :class:`InspectionStatus`.

    ``status`` holds the fields, ``rendered`` the same rendered as JSON through the model, once per unit
    (a unit is a candidate in every area: its status is joined to each of them as bytes).
    """

    snapshot_id: str | None
    status: dict[str, dict[str, Any]]
    cooldown_months: int
    rendered: dict[str, bytes]


def snapshot_inspections(snapshots_dir: Path) -> InspectionsSource:
    """The inspections of the current ingest snapshot in ``snapshots_dir`` (``Settings().snapshots_dir``)."""
    store = SnapshotStore(snapshots_dir)
    return InspectionsSource(marker=store.current_id, load=partial(current_inspections, snapshots_dir))


def loaded_inspections(
    inspections: pl.LazyFrame | None, snapshot_id: str | None, reference_date: dt.date, cooldown_months: int
) -> LoadedInspections:
    """Per unit the :class:`~api.schemas.InspectionStatus` fields at ``reference_date`` (the ``as_of``)."""
    if inspections is None:
        return LoadedInspections(snapshot_id, {}, cooldown_months, {})
    frame = inspection_status(inspections, reference_date, cooldown_months)
    status = {row.pop("unit_id"): row for row in frame.to_dicts()}
    rendered = {unit: _STATUS.dump_json(_STATUS.validate_python(row)) for unit, row in status.items()}
    return LoadedInspections(snapshot_id, status, cooldown_months, rendered)


@dataclass(frozen=True)
class ServedScores:
    """A loaded, validated scoring snapshot with its lookup indexes."""

    snapshot: ScoreSnapshot
    areas: dict[str, AreaIndex]
    unit_rows: dict[str, list[dict[str, Any]]]
    provider_units: dict[str, list[str]]
    history: dict[str, list[dict[str, Any]]]
    inspections: LoadedInspections = LoadedInspections(None, {}, 0, {})

    def inspection_status(self, unit_id: str) -> dict[str, Any]:
        """A unit's :class:`~api.schemas.InspectionStatus` fields (not inspected: empty and not cooling)."""
        return self.inspections.status.get(unit_id, NOT_INSPECTED)

    @property
    def id(self) -> str:
        return self.snapshot.id

    @property
    def metadata(self) -> ScoreMetadata:
        return self.snapshot.metadata

    def model_version(self, risk_area: str) -> str:
        return self.metadata.model_versions.get(risk_area, self.metadata.model_version)


def served_scores(
    snapshot: ScoreSnapshot,
    history: dict[str, list[dict[str, Any]]],
    inspections: LoadedInspections | None = None,
) -> ServedScores:
    """Build the in-memory indexes of a validated snapshot.

    The candidates are rendered with each unit's last inspections and karenstid from ``inspections``
    here, once per scoring and ingest snapshot, so a candidate page costs no more than without them.
    """
    inspections = inspections or LoadedInspections(None, {}, 0, {})
    frame = snapshot.frame.with_columns(
        region_name=pl.col("region_code").replace_strict(REGIONS, default=pl.col("region_code"))
    ).sort("risk_area", "rank")
    areas: dict[str, AreaIndex] = {}
    unit_rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    provider_units: dict[str, set[str]] = defaultdict(set)
    for (area,), group in frame.group_by("risk_area", maintain_order=True):
        items: list[bytes] = []
        keys: list[FilterKey] = []
        for row in group.iter_rows(named=True):
            # A Candidate is a RankedUnit followed by the unit's InspectionStatus fields (api.schemas):
            # its JSON is the one object's fields joined to the other's (tests check it equals the model's).
            ranked = _RANKED.dump_json(_RANKED.validate_python(row))
            status = inspections.rendered.get(row["unit_id"], NOT_INSPECTED_JSON)
            items.append(ranked[:-1] + b"," + status[1:])
            keys.append((row["region_code"], row["ownership"], row["unit_type"], row["provider_id"]))
            unit_rows[row["unit_id"]].append(row)
            provider_units[row["provider_id"]].add(row["unit_id"])
        areas[str(area)] = area_index(_page_head(snapshot, str(area)), items, keys)
    return ServedScores(
        snapshot=snapshot,
        areas=areas,
        unit_rows=dict(unit_rows),
        provider_units={key: sorted(value) for key, value in provider_units.items()},
        history=history,
        inspections=inspections,
    )


def _page_head(snapshot: ScoreSnapshot, area: str) -> bytes:
    meta = snapshot.metadata
    fields = {
        "score_id": meta.score_id,
        "as_of": meta.as_of.isoformat(),
        "risk_area": area,
        "model_version": meta.model_versions.get(area, meta.model_version),
        "ranking_target": meta.ranking_target(area),
    }
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()[:-1] + b","


def candidate_page_json(index: AreaIndex, query: CandidateQuery, *, path: str, score_id: str) -> bytes:
    """The JSON body of one :class:`~api.schemas.CandidatePage`, assembled from pre-rendered candidates.

    Parameters
    ----------
    index
        The risk area's :class:`AreaIndex`; its ``head`` and ``items`` were rendered through the
        ``Candidate`` model (:func:`served_scores`) when the snapshot was loaded.
    query
        The validated query: filters (each a list meaning "any of"), ``limit`` and ``offset``.
    path
        The request path, for the ``self``, ``next`` and ``prev`` links.
    score_id
        The served scoring's id, which every link carries.

    Returns
    -------
    bytes
        Exactly what ``CandidatePage(...).model_dump_json(by_alias=True)`` would give for the page
        (tests check it), without serialising its candidates again on every request. The links carry
        the page's ``score_id``, so following them stays on this scoring.
    """
    wanted = tuple(_filter_values(getattr(query, name)) for name in QUERY_FILTERS)
    positions = index.matching(wanted)
    offset, limit = query.offset, query.limit
    page = positions[offset : offset + limit]
    base = f"{path}?risk_area={quote(query.risk_area)}&limit={limit}" + "".join(
        f"&{name}={quote(value)}"
        for name, values in zip(QUERY_FILTERS, wanted, strict=True)
        for value in values or ()
    )
    base += f"&score_id={quote(score_id)}"
    next_link = json.dumps(f"{base}&offset={offset + limit}") if offset + limit < len(positions) else "null"
    prev_link = json.dumps(f"{base}&offset={max(0, offset - limit)}") if offset > 0 else "null"
    tail = (
        f'"total":{len(positions)},"limit":{limit},"offset":{offset},'
        f'"links":{{"self":{json.dumps(f"{base}&offset={offset}")},"next":{next_link},'
        f'"prev":{prev_link}}},"items":['
    )
    return b"".join((index.head, tail.encode(), b",".join([index.items[i] for i in page]), b"]}"))


def _filter_values(value: str | list[str] | None) -> tuple[str, ...] | None:
    """A query filter as the tuple of values it accepts (None: not filtered)."""
    if value is None:
        return None
    return (value,) if isinstance(value, str) else tuple(value)


def score_history(store: ScoreStore, current_id: str) -> dict[str, list[dict[str, Any]]]:
    """Per unit, its scores in every stored snapshot that loads (oldest first)."""
    frames = []
    for meta in store.list():
        try:
            frame = pl.read_parquet(
                store.root / f"{meta.score_id}.parquet",
                columns=["unit_id", "risk_area", "rank", "percentile", "p_deficiency"],
            )
        except Exception as error:
            logger.warning("score history skips %s: %s", meta.score_id, error)
            continue
        frames.append(
            frame.with_columns(
                score_id=pl.lit(meta.score_id),
                as_of=pl.lit(meta.as_of),
                created_at=pl.lit(meta.created_at),
                is_current=pl.lit(meta.score_id == current_id),
            )
            .join(_versions(meta), on="risk_area", how="left")
            .with_columns(pl.col("model_version").fill_null(meta.model_version))
        )
    if not frames:
        return {}
    history = pl.concat(frames).sort("unit_id", "as_of", "created_at", "risk_area").drop("created_at")
    return {
        str(unit): group.drop("unit_id").to_dicts()
        for (unit,), group in history.group_by("unit_id", maintain_order=True)
    }


def _public_reason(error: Exception) -> str:
    """Why a snapshot cannot be served, without the store's paths or file contents."""
    if isinstance(error, ScoreNotFoundError):
        return "it is not stored"
    if isinstance(error, ScoreValidationError):
        return "it is unreadable or violates the scores contract"
    return str(error)  # the served-areas check: names risk areas only


def _shown_id(score_id: str) -> str:
    """A score id as it may appear in a response (ids that do not have the id shape are not shown)."""
    return score_id if re.match(SCORE_ID_PATTERN, score_id) else "(invalid id)"


def _versions(meta: ScoreMetadata) -> pl.DataFrame:
    return pl.DataFrame(
        {"risk_area": list(meta.model_versions), "model_version": list(meta.model_versions.values())},
        schema={"risk_area": pl.String, "model_version": pl.String},
    )


class ScoresHolder:
    """Holds the served snapshot; polls ``CURRENT`` and swaps in a new snapshot once fully loaded."""

    def __init__(
        self,
        store: ScoreStore,
        config: Config,
        refresh_seconds: float = 1.0,
        inspections: InspectionsSource | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.refresh_seconds = refresh_seconds
        # Replaced (before the first refresh) by tests that serve inspections without an ingest snapshot.
        self.inspections = inspections
        self._served: ServedScores | None = None
        self._problem: str | None = None
        self._public_problem: str | None = None
        self._attempted: tuple[str | None, int, str | None] | None = None
        self._last_poll = 0.0
        self._load_lock = threading.Lock()

    @property
    def served(self) -> ServedScores | None:
        """The snapshot to answer the current request with (one atomic attribute read)."""
        return self._served

    @property
    def problem(self) -> str | None:
        """Why the holder is not ready (None when it serves the published snapshot), for the log."""
        return self._problem

    @property
    def public_problem(self) -> str | None:
        """:attr:`problem` as a client may see it: it names the snapshot id only, never a path."""
        return self._public_problem

    def poll(self) -> None:
        """Cheap per-request check; starts a background load when ``CURRENT`` changed."""
        now = time.monotonic()
        if now - self._last_poll < self.refresh_seconds:
            return
        self._last_poll = now
        if self._marker() != self._attempted and not self._load_lock.locked():
            threading.Thread(target=self.refresh, name="scores-refresh", daemon=True).start()

    def refresh(self) -> bool:
        """Load the published snapshot if ``CURRENT`` changed since the last attempt; True if swapped."""
        with self._load_lock:
            marker = self._marker()
            if marker == self._attempted:
                return False
            self._attempted = marker
            score_id = marker[0]
            if score_id is None:
                self._problem = f"no scoring snapshot has been published in {self.store.root}"
                self._public_problem = "no scoring snapshot has been published"
                return False
            if (
                self._served is not None
                and self._served.id == score_id
                and self._served.inspections.snapshot_id == marker[2]
            ):
                self._problem = self._public_problem = None
                return False
            try:
                snapshot = self.store.open(score_id)
                self._check_areas(snapshot)
                fresh = served_scores(
                    snapshot, score_history(self.store, score_id), self._loaded_inspections(snapshot)
                )
            except (ScoreNotFoundError, ScoreValidationError, ValueError) as error:
                kept = f"; still serving {self._served.id}" if self._served else ""
                self._problem = f"published scoring snapshot {score_id!r} cannot be served: {error}{kept}"
                self._public_problem = (
                    f"published scoring snapshot {_shown_id(score_id)} cannot be served: "
                    f"{_public_reason(error)}{kept}"
                )
                logger.error("%s", self._problem)
                return False
            self._served = fresh
            self._problem = self._public_problem = None
            # The indexes are ~10^5 long-lived objects without reference cycles: keep them out of the
            # cyclic collector's full passes, which otherwise show up as p99 latency spikes.
            gc.freeze()
            logger.info("serving scoring snapshot %s", score_id)
            return True

    def _marker(self) -> tuple[str | None, int, str | None]:
        """The published score id, ``CURRENT``'s mtime, and the current ingest snapshot's id."""
        inspections = self.inspections.marker() if self.inspections else None
        path = self.store.current_path()
        try:
            mtime = path.stat().st_mtime_ns
        except FileNotFoundError:
            return (None, 0, inspections)
        return (self.store.current_id(), mtime, inspections)

    def _loaded_inspections(self, snapshot: ScoreSnapshot) -> LoadedInspections:
        """The inspections' status per unit at the scores' ``as_of``, with the configured cooldown.

        An ingest snapshot whose inspections cannot be read leaves the fields empty (logged): the
        candidates are still worth serving without them.
        """
        months = self.config.planning.cooldown_months
        if self.inspections is None:
            return LoadedInspections(None, {}, months, {})
        try:
            frame, snapshot_id = self.inspections.load()
            return loaded_inspections(frame, snapshot_id, snapshot.metadata.as_of, months)
        except Exception as error:  # a broken ingest snapshot must not stop the scores being served
            logger.error("serving candidates without inspections: %s", error)
            return LoadedInspections(None, {}, months, {})

    def _check_areas(self, snapshot: ScoreSnapshot) -> None:
        present = set(snapshot.frame["risk_area"].unique().to_list())
        missing = sorted(set(self.config.risk_area_ids) - present)
        if missing:
            raise ValueError(
                f"risk areas {missing} of the configuration have no scores (has {sorted(present)})"
            )
        if OVERALL not in present:
            raise ValueError("no 'overall' scores")
