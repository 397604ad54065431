"""What every page shows: the served scoring arranged for pages, the unit history, the area names.

Shared by the page modules (``pages``, ``planning``, ``signin``), which import it; it imports none of them.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import polars as pl
from fastapi import Request

from api.web.auth import PageError
from api.web.data import (
    RecentInspections,
    ScoresView,
    SnapshotHistory,
    SourceFreshness,
    TopTenthChanges,
    recent_inspections,
    scores_view,
    snapshot_history,
    source_freshness,
    top_tenth_changes,
)
from api.web.model_facts import model_facts
from api.web.state import app_state, web_state
from engine.scores import OVERALL
from serving.plans import current_inspections

logger = logging.getLogger(__name__)
OVERALL_NAME = "Samlad risk"


def current_view(request: Request) -> ScoresView:
    """The served scoring snapshot arranged for pages (503 page when nothing is published)."""
    state = app_state(request)
    state.holder.poll()
    served = state.holder.served
    if served is None:
        raise PageError(
            503,
            "Inga riskbedömningar publicerade",
            "Det finns ännu ingen publicerad riskbedömning. Kör `tillsynsrisk score` och försök igen.",
        )
    threshold = state.settings.high_risk_percentile
    return web_state(request).scores.get(
        (served.id, threshold), lambda: scores_view(served.snapshot, threshold)
    )


def current_history(
    request: Request, view: ScoresView, *, wait: bool = True, unit_id: str | None = None
) -> SnapshotHistory:
    """The current ingest snapshot's per-unit history (empty when there is no snapshot).

    With ``wait=False`` a history that is not built yet is built in the background and an empty stand-in
    (``loading=True``) is returned, so a list page never waits for the index of every unit. With
    ``unit_id`` and the index not built yet, the build is started in the background and the history of
    that one unit is returned (a unit page right after sign-in waits for its own region, not the country).
    """
    state = app_state(request)
    inspections, snapshot_id = current_inspections(state.settings.snapshots_dir)
    del inspections
    key = (snapshot_id, view.as_of)
    cache = web_state(request).history

    def tables() -> dict[str, pl.LazyFrame]:
        from engine.snapshots import SnapshotStore

        return SnapshotStore(state.settings.snapshots_dir).open(snapshot_id).tables()

    def build() -> SnapshotHistory:
        if snapshot_id is None:
            return SnapshotHistory(None)
        return snapshot_history(tables(), snapshot_id, state.config, view.as_of)

    if (not wait or unit_id is not None) and cache.peek(key) is None:
        threading.Thread(target=cache.get, args=(key, build), name="web-history", daemon=True).start()
        if unit_id is not None and snapshot_id is not None:
            return snapshot_history(tables(), snapshot_id, state.config, view.as_of, unit_id=unit_id)
        return SnapshotHistory(snapshot_id, loading=True)
    return cache.get(key, build)


def current_inspected(request: Request, view: ScoresView) -> RecentInspections:
    """Last inspection per unit and the units in karenstid, for the current ingest snapshot."""
    state = app_state(request)
    inspections, snapshot_id = current_inspections(state.settings.snapshots_dir)
    months = state.config.planning.cooldown_months
    return web_state(request).inspected.get(
        (snapshot_id, view.as_of, months),
        lambda: recent_inspections(inspections, snapshot_id, view.as_of, months),
    )


def current_changes(request: Request, view: ScoresView) -> TopTenthChanges:
    """Units entering and leaving the high-risk group per area since the scoring stored before this one."""
    state = app_state(request)
    store = state.holder.store
    stored = store.list()
    earlier = [meta for meta in stored if meta.score_id != view.score_id]
    current = next((meta for meta in stored if meta.score_id == view.score_id), None)
    if current is not None:
        earlier = [m for m in earlier if (m.as_of, m.created_at) < (current.as_of, current.created_at)]
    if not earlier:
        return TopTenthChanges(None, None)
    previous = earlier[-1]
    threshold = state.settings.high_risk_percentile

    def build() -> TopTenthChanges:
        columns = ["unit_id", "risk_area", "percentile"]
        try:
            before = pl.read_parquet(store.root / f"{previous.score_id}.parquet", columns=columns)
        except Exception as error:  # an unreadable old scoring: the overview says nothing about change
            logger.warning("overview cannot read scoring %s: %s", previous.score_id, error)
            return TopTenthChanges(None, None)
        now = pl.concat([frame.select(columns) for frame in view.areas.values()])
        return TopTenthChanges(previous.score_id, previous.as_of, top_tenth_changes(now, before, threshold))

    return web_state(request).changes.get((view.score_id, previous.score_id, threshold), build)


def current_freshness(request: Request) -> list[SourceFreshness]:
    """The newest date per source in the ingest snapshot the served scoring was computed from.

    Empty when that snapshot is not in the store (scored elsewhere, or removed).
    """
    state = app_state(request)
    served = state.holder.served
    assert served is not None
    snapshot_id = served.metadata.snapshot_id

    def build() -> list[SourceFreshness]:
        from engine.snapshots import SnapshotNotFoundError, SnapshotStore

        try:
            tables = SnapshotStore(state.settings.snapshots_dir).open(snapshot_id).tables()
        except SnapshotNotFoundError:
            return []
        return source_freshness(tables, state.config)

    return web_state(request).freshness.get(snapshot_id, build)


def warm_up(request: Request) -> None:
    """Build the served snapshot's page caches and read the model's facts in the background.

    Started at sign-in, so the first pages a planner opens do not wait for the unit history index or
    for MLflow.
    """

    def build() -> None:
        try:
            view = current_view(request)
            current_history(request, view)
            model_facts(request, view)
        except Exception as error:  # a page shows the problem when it is asked for; nothing to do here
            logger.info("web warm-up stopped: %s", error)

    threading.Thread(target=build, name="web-warm-up", daemon=True).start()


def area_names(request: Request) -> dict[str, str]:
    """Risk area id → Swedish name, the configured areas first, then ``overall``."""
    return app_state(request).config.risk_area_names_sv | {OVERALL: OVERALL_NAME}


def page_context(request: Request, view: ScoresView) -> dict[str, Any]:
    served = app_state(request).holder.served
    assert served is not None
    return {"meta": served.metadata, "area_names": area_names(request), "view": view}
