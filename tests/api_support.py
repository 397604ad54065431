"""Helpers for the API tests: an app on a temporary home with a published scoring snapshot and keys."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from fastapi.testclient import TestClient

from api.deps import Inspections, get_inspections
from api.main import create_app
from api.security import SCOPES
from api.serving import InspectionsSource
from engine.scores import ScoreStore
from engine.settings import Settings
from tests.scores_factory import make_scores, write_published

ALL_SCOPES = frozenset(SCOPES)


@dataclass
class ApiHarness:
    client: TestClient
    settings: Settings
    store: ScoreStore
    score_id: str
    keys: dict[str, str]  # key name -> key

    def auth(self, name: str = "all") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[name]}"}


def inspections_frame(rows: list[tuple[str, dt.date]]) -> pl.LazyFrame:
    """An ingest-snapshot ``inspections`` table with one inspection per (unit, decision date)."""
    return pl.LazyFrame(
        {
            "inspection_id": [f"i{i}" for i in range(len(rows))],
            "unit_id": [unit for unit, _ in rows],
            "start_date": [day - dt.timedelta(days=30) for _, day in rows],
            "decision_date": [day for _, day in rows],
            "risk_area": ["tillganglighet"] * len(rows),
            "finding": ["none"] * len(rows),
            "selection": ["risk_based"] * len(rows),
            "inclusion_probability": [1.0] * len(rows),
        },
        schema_overrides={"start_date": pl.Date, "decision_date": pl.Date},
    )


def harness(
    home: Path,
    *,
    units: int = 40,
    publish: bool = True,
    inspections: pl.LazyFrame | None = None,
    refresh_seconds: float = 0.0,
) -> ApiHarness:
    """A TestClient over ``create_app`` with keys: ``all`` scopes, and one key per single scope."""
    settings = Settings(home=home, scores_refresh_seconds=refresh_seconds)
    store = ScoreStore(settings.scores_dir)
    score_id = write_published(store, make_scores(units=units)) if publish else ""
    app = create_app(settings)
    frame = inspections if inspections is not None else inspections_frame([])
    app.dependency_overrides[get_inspections] = lambda: Inspections(frame=frame, snapshot_id="snap-test")
    # The candidates' last inspections and karenstid come from the same inspections, read by the holder.
    holder = app.state.tillsynsrisk.holder
    holder.inspections = InspectionsSource(marker=lambda: "snap-test", load=lambda: (frame, "snap-test"))
    holder.refresh()
    key_store = app.state.tillsynsrisk.keys
    keys = {"all": key_store.create("all", ALL_SCOPES)[1]}
    for scope in SCOPES:
        keys[scope] = key_store.create(scope.replace(":", "-"), frozenset({scope}))[1]
    return ApiHarness(TestClient(app, raise_server_exceptions=False), settings, store, score_id, keys)
