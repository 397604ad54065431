"""Candidates and unit profiles carry the last inspection per area and the karenstid, computed per load."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from api.schemas import CandidatePage, CandidateQuery
from api.serving import InspectionsSource, ScoresHolder, candidate_page_json
from engine.config import load_config
from engine.scores import ScoreStore
from tests.api_support import ApiHarness, harness
from tests.scores_factory import make_scores, write_published

# The scores' as_of is 2025-06-01; the packaged [planning] cooldown is 12 months.
INSPECTED = "SE2321000016-u0003"
LONG_AGO = "SE2321000016-u0005"


def inspections(rows: list[tuple[str, str, dt.date, str]]) -> pl.LazyFrame:
    """An ``inspections`` table: (unit, risk area, decision date, finding) per row, started 30 days before."""
    return pl.LazyFrame(
        {
            "inspection_id": [f"i{i}" for i in range(len(rows))],
            "unit_id": [row[0] for row in rows],
            "start_date": [row[2] - dt.timedelta(days=30) for row in rows],
            "decision_date": [row[2] for row in rows],
            "risk_area": [row[1] for row in rows],
            "finding": [row[3] for row in rows],
            "selection": ["risk_based"] * len(rows),
            "inclusion_probability": [1.0] * len(rows),
        },
        schema_overrides={"start_date": pl.Date, "decision_date": pl.Date},
    )


HISTORY = inspections(
    [
        (INSPECTED, "tillganglighet", dt.date(2023, 3, 1), "serious"),
        (INSPECTED, "tillganglighet", dt.date(2025, 4, 1), "deficiency"),
        (INSPECTED, "samverkan", dt.date(2024, 1, 10), "none"),
        (LONG_AGO, "tillganglighet", dt.date(2020, 2, 3), "none"),
    ]
)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> ApiHarness:
    return harness(tmp_path_factory.mktemp("status-home"), inspections=HISTORY)


def _items(api: ApiHarness, area: str = "overall") -> dict[str, dict[str, Any]]:
    response = api.client.get(
        f"/v1/candidates?risk_area={area}&limit=500", headers=api.auth("read:candidates")
    )
    assert response.status_code == 200, response.text
    return {item["unit_id"]: item for item in response.json()["items"]}


def test_a_candidate_carries_its_last_inspection_per_area_and_its_karenstid(api: ApiHarness) -> None:
    # given a unit inspected two months before the scores' as_of, one inspected five years before
    items = _items(api)
    # then the recent one is in karenstid until 12 months after its last inspection
    recent = items[INSPECTED]
    assert recent["last_inspections"] == [
        {"risk_area": "samverkan", "decision_date": "2024-01-10", "finding": "none"},
        {"risk_area": "tillganglighet", "decision_date": "2025-04-01", "finding": "deficiency"},
    ], "one entry per area, the latest inspection of each"
    assert recent["last_inspected"] == "2025-04-01"
    assert (recent["in_cooldown"], recent["cooldown_ends"]) == (True, "2026-04-01"), recent
    # and the old one has its inspection but no karenstid, and an uninspected unit has neither
    old = items[LONG_AGO]
    assert (
        old["last_inspected"] == "2020-02-03" and old["in_cooldown"] is False and old["cooldown_ends"] is None
    )
    never = items["SE2321000016-u0001"]
    assert (
        never["last_inspections"] == [] and never["last_inspected"] is None and never["in_cooldown"] is False
    )


def test_every_area_page_carries_the_same_status_and_matches_the_response_model(api: ApiHarness) -> None:
    # given the served candidates of one risk area
    served = api.client.app.state.tillsynsrisk.holder.served  # type: ignore[attr-defined]
    query = CandidateQuery(risk_area="tillganglighet", limit=500)
    body = candidate_page_json(
        served.areas["tillganglighet"], query, path="/v1/candidates", score_id=served.id
    )
    # then the page validates as a CandidatePage and the unit's status is the same as on the overall list
    page = CandidatePage.model_validate_json(body)
    assert page.model_dump_json(by_alias=True).encode() == body, "the page must be what the model renders"
    assert _items(api, "tillganglighet")[INSPECTED]["cooldown_ends"] == "2026-04-01"


def test_the_unit_profile_carries_the_same_status(api: ApiHarness) -> None:
    response = api.client.get(f"/v1/units/{INSPECTED}", headers=api.auth("read:units"))
    assert response.status_code == 200, response.text
    profile = response.json()
    candidate = _items(api)[INSPECTED]
    for field in ("last_inspections", "last_inspected", "in_cooldown", "cooldown_ends"):
        assert profile[field] == candidate[field], f"{field} differs between the profile and the candidate"


class CountingSource:
    """An inspections source that counts how often it is loaded, with a marker a test can move."""

    def __init__(self, frame: pl.LazyFrame) -> None:
        self.frame, self.snapshot_id, self.loads = frame, "snap-1", 0

    def source(self) -> InspectionsSource:
        return InspectionsSource(marker=lambda: self.snapshot_id, load=self.load)

    def load(self) -> tuple[pl.LazyFrame, str]:
        self.loads += 1
        return self.frame, self.snapshot_id


def test_the_status_is_computed_once_per_loaded_scoring_and_ingest_snapshot(tmp_path: Path) -> None:
    # given a holder serving published scores with inspections from a countable source
    store = ScoreStore(tmp_path / "scores")
    write_published(store, make_scores(units=20))
    counting = CountingSource(HISTORY)
    holder = ScoresHolder(store, load_config(), refresh_seconds=0.0, inspections=counting.source())
    holder.refresh()
    first = holder.served
    # when it is polled many times with nothing changed
    for _ in range(20):
        assert holder.refresh() is False, "nothing changed: nothing to reload"
    # then the inspections were read once
    assert counting.loads == 1 and holder.served is first
    # when another ingest snapshot becomes current (its inspections say the unit was never inspected)
    counting.frame, counting.snapshot_id = inspections([]), "snap-2"
    swapped = holder.refresh()
    # then the candidates are rendered again from it, with the same scores
    assert swapped and counting.loads == 2 and holder.served is not None
    assert holder.served.id == first.id and holder.served.inspections.snapshot_id == "snap-2"
    assert holder.served.inspection_status(INSPECTED)["in_cooldown"] is False


def test_the_cooldown_months_come_from_the_configuration(tmp_path: Path) -> None:
    # given a deployment configured with a 1-month cooldown (as_of 2025-06-01, inspected 2025-04-01)
    store = ScoreStore(tmp_path / "scores")
    write_published(store, make_scores(units=20))
    config = load_config()
    short = config.model_copy(update={"planning": config.planning.model_copy(update={"cooldown_months": 1})})
    holder = ScoresHolder(store, short, inspections=CountingSource(HISTORY).source())
    holder.refresh()
    # then the unit is no longer in karenstid
    assert holder.served is not None
    status = holder.served.inspection_status(INSPECTED)
    assert (status["in_cooldown"], status["cooldown_ends"]) == (False, None), status


def test_unreadable_inspections_leave_the_candidates_served_without_them(tmp_path: Path) -> None:
    # given an ingest snapshot whose inspections cannot be read
    store = ScoreStore(tmp_path / "scores")
    write_published(store, make_scores(units=20))

    def broken() -> tuple[pl.LazyFrame, str]:
        raise OSError("inspections.parquet is truncated")

    holder = ScoresHolder(store, load_config(), inspections=InspectionsSource(lambda: "snap", broken))
    # when the holder loads, then the scores are served and every unit reads as not inspected
    assert holder.refresh() and holder.served is not None and holder.problem is None
    assert holder.served.inspection_status(INSPECTED)["last_inspections"] == []
