"""What every page shows: the served scoring arranged for pages, the unit history, the area names.

Shared by the page modules (``pages``, ``planning``, ``signin``), which import it; it imports none of them.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from fastapi import Request

from api.web.auth import PageError
from api.web.data import ScoresView, SnapshotHistory, scores_view, snapshot_history
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


def current_history(request: Request, view: ScoresView, *, wait: bool = True) -> SnapshotHistory:
    """The current ingest snapshot's per-unit history (empty when there is no snapshot).

    With ``wait=False`` a history that is not built yet is built in the background and an empty stand-in
    (``loading=True``) is returned, so a list page never waits for the index of every unit.
    """
    state = app_state(request)
    inspections, snapshot_id = current_inspections(state.settings.snapshots_dir)
    del inspections
    key = (snapshot_id, view.as_of)
    cache = web_state(request).history

    def build() -> SnapshotHistory:
        if snapshot_id is None:
            return SnapshotHistory(None)
        from engine.snapshots import SnapshotStore

        tables = SnapshotStore(state.settings.snapshots_dir).open(snapshot_id).tables()
        return snapshot_history(tables, snapshot_id, state.config, view.as_of)

    if not wait and cache.peek(key) is None:
        threading.Thread(target=cache.get, args=(key, build), name="web-history", daemon=True).start()
        return SnapshotHistory(snapshot_id, loading=True)
    return cache.get(key, build)


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
    names = {area.id: area.name_sv for area in app_state(request).config.risk_areas}
    return names | {OVERALL: OVERALL_NAME}


def page_context(request: Request, view: ScoresView) -> dict[str, Any]:
    served = app_state(request).holder.served
    assert served is not None
    return {"meta": served.metadata, "area_names": area_names(request), "view": view}
