"""The web pages' shared state (sessions, templates, caches) and the accessors every page module uses.

The bottom of ``api/web``: it imports none of the page modules, so they can all import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request
from fastapi.templating import Jinja2Templates

from api.deps import AppState
from api.web.data import (
    ModelFacts,
    OneEntryCache,
    RecentInspections,
    ScoresView,
    SnapshotHistory,
    SourceFreshness,
    TopTenthChanges,
)
from api.web.sessions import SessionStore


@dataclass
class WebState:
    """Created once by :func:`api.web.install.install_web`; caches are rebuilt when their input changes."""

    sessions: SessionStore
    templates: Jinja2Templates
    scores: OneEntryCache[ScoresView] = field(default_factory=OneEntryCache)
    history: OneEntryCache[SnapshotHistory] = field(default_factory=OneEntryCache)
    inspected: OneEntryCache[RecentInspections] = field(default_factory=OneEntryCache)
    changes: OneEntryCache[TopTenthChanges] = field(default_factory=OneEntryCache)
    freshness: OneEntryCache[list[SourceFreshness]] = field(default_factory=OneEntryCache)
    model: OneEntryCache[ModelFacts] = field(default_factory=OneEntryCache)
    report: OneEntryCache[str] = field(default_factory=OneEntryCache)


def web_state(request: Request) -> WebState:
    state: WebState = request.app.state.tillsynsrisk_web
    return state


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.tillsynsrisk
    return state
