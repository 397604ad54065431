"""The change feed: publications, promotions and saved plans, in order, with stable ids, paged by after."""

from __future__ import annotations

import datetime as dt
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from api.schemas import EventPage
from cli import app
from engine.config import Config
from engine.events import EventLog
from engine.scores import ScoreStore
from engine.settings import Settings
from models.jobs import TrainingResult
from models.tracking import Tracking
from serving.plans import PlanStore
from tests.api_support import ApiHarness, harness
from tests.scores_factory import make_scores

PLAN = {"capacity": 3, "seed": 5, "cooldown_months": 0}


def _published_store(settings: Settings, as_of: dt.date) -> tuple[ScoreStore, str]:
    """A score store that logs to the home's event log, with one more (unpublished) snapshot written."""
    store = ScoreStore(settings.scores_dir, EventLog(settings.events_db))
    meta = store.write(
        make_scores(units=40, as_of=as_of),
        model_name="tillsynsrisk",
        model_version="1",
        feature_set_id="f",
        snapshot_id="s",
        config_hash="c",
    )
    return store, meta.score_id


def _feed(api: ApiHarness, query: str = "", key: str = "read:events") -> dict[str, Any]:
    response = api.client.get(f"/v1/events{query}", headers=api.auth(key))
    assert response.status_code == 200, response.text
    page: dict[str, Any] = EventPage.model_validate(response.json()).model_dump(mode="json", by_alias=True)
    return page


def test_the_event_log_gives_increasing_ids_that_are_never_reused(tmp_path: Path) -> None:
    # given a log with three events, the newest of which is then deleted by hand
    log = EventLog(tmp_path / "home" / "events.sqlite3")
    ids = [log.append("plan.saved", {"plan_id": f"p{i}"}) for i in range(3)]
    with sqlite3.connect(log.path) as connection:
        connection.execute("DELETE FROM events WHERE id = ?", (ids[-1],))
    # when another event is appended
    following = log.append("scoring.published", {"score_id": "x"})
    # then ids increase in the order of appending and a deleted id is not given again
    assert ids == sorted(ids) and len(set(ids)) == 3, ids
    assert following is not None and ids[-1] is not None and following > ids[-1], (following, ids)
    assert [event.id for event in log.after(0, 10)] == [*ids[:2], following]
    assert log.last_id() == following


def test_the_event_log_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.sqlite3")
    log.append("plan.saved", {"plan_id": "p"})
    assert stat.S_IMODE(log.path.stat().st_mode) == 0o600, oct(log.path.stat().st_mode)


def test_an_event_with_a_once_key_is_logged_once(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.sqlite3")
    first = log.append("plan.saved", {"plan_id": "p"}, once_key="plan.saved:p")
    second = log.append("plan.saved", {"plan_id": "p"}, once_key="plan.saved:p")
    assert first is not None and second is None and len(log.after(0, 10)) == 1


def test_an_empty_or_missing_log_reads_as_no_events(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "never-written.sqlite3")
    assert log.after(0, 10) == [] and log.last_id() == 0
    assert not log.path.exists(), "reading must not create the log"


def test_publishing_logs_an_event_only_when_the_served_scoring_changes(tmp_path: Path) -> None:
    # given two stored scorings
    settings = Settings(home=tmp_path)
    store, first = _published_store(settings, dt.date(2025, 5, 1))
    _, second = _published_store(settings, dt.date(2025, 6, 1))
    # when the first is published twice, then the second
    store.publish(first)
    store.publish(first)
    store.publish(second)
    # then two publications are logged, each naming the scoring it replaced
    events = EventLog(settings.events_db).after(0, 10)
    assert [(event.type, event.subject["score_id"]) for event in events] == [
        ("scoring.published", first),
        ("scoring.published", second),
    ]
    assert events[0].subject["previous_score_id"] is None
    assert events[1].subject["previous_score_id"] == first and events[1].subject["as_of"] == "2025-06-01"


def test_a_failed_publication_logs_nothing(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    store = ScoreStore(settings.scores_dir, EventLog(settings.events_db))
    with pytest.raises(Exception, match="no scoring snapshot"):
        store.publish("20250101-000000000000")
    assert EventLog(settings.events_db).after(0, 10) == []


def test_a_plan_created_through_the_api_is_in_the_feed_once(tmp_path: Path) -> None:
    # given an API
    api = harness(tmp_path)
    # when the same plan is asked for twice and another once
    created = [
        api.client.post("/v1/plans", json=PLAN | extra, headers=api.auth("write:plans")).json()
        for extra in ({}, {}, {"name": "Andra"})
    ]
    # then the feed has one plan.saved per new plan, in order, with the plan's labels
    items = _feed(api)["items"]
    assert [(item["type"], item["subject"]["plan_id"]) for item in items] == [
        ("plan.saved", created[0]["plan_id"]),
        ("plan.saved", created[2]["plan_id"]),
    ], items
    assert items[1]["subject"]["name"] == "Andra"


def test_a_plan_made_on_the_command_line_is_in_the_feed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a home with a published scoring
    monkeypatch.setenv("TILLSYNSRISK_HOME", str(tmp_path / "home"))
    settings = Settings()
    store, score_id = _published_store(settings, dt.date(2025, 6, 1))
    store.publish(score_id)
    # when a plan is made with the command line
    result = CliRunner().invoke(app, ["plan", "--capacity", "3", "--seed", "1", "--cooldown-months", "0"])
    # then the feed shows the publication, then the plan
    assert result.exit_code == 0, result.output
    events = EventLog(settings.events_db).after(0, 10)
    assert [event.type for event in events] == ["scoring.published", "plan.saved"], events
    assert events[1].subject["plan_id"] == PlanStore(settings.plans_dir).ids()[0]


def test_the_feed_pages_by_the_after_cursor_with_stable_ids(tmp_path: Path) -> None:
    # given a publication and three saved plans
    api = harness(tmp_path)
    store, score_id = _published_store(api.settings, dt.date(2025, 6, 1))
    store.publish(score_id)
    for seed in (1, 2, 3):
        api.client.post("/v1/plans", json=PLAN | {"seed": seed}, headers=api.auth("write:plans"))
    # when the feed is read two at a time, following links.next, and then read whole
    first = _feed(api, "?limit=2")
    second = _feed(api, first["links"]["next"].removeprefix("/v1/events"))
    third = _feed(api, second["links"]["next"].removeprefix("/v1/events"))
    whole = _feed(api)
    # then the pages are the whole feed in order, once each, with the same ids every time it is read
    paged = first["items"] + second["items"] + third["items"]
    assert paged == whole["items"], "paging must neither skip nor repeat an event"
    assert [item["type"] for item in paged] == ["scoring.published"] + ["plan.saved"] * 3
    assert [item["id"] for item in paged] == sorted(item["id"] for item in paged)
    assert (first["has_more"], second["has_more"], third["has_more"]) == (True, False, False)
    # and a client that is up to date gets an empty page that tells it to ask again from the same id
    assert third["items"] == [] and third["last_id"] == second["last_id"] == paged[-1]["id"]
    assert third["links"]["next"] == f"/v1/events?after={paged[-1]['id']}&limit=2"


def test_a_client_can_tell_that_the_log_was_replaced(tmp_path: Path) -> None:
    # given a feed with two events, read to the end by a client
    api = harness(tmp_path)
    for seed in (1, 2):
        api.client.post("/v1/plans", json=PLAN | {"seed": seed}, headers=api.auth("write:plans"))
    cursor = _feed(api)["last_id"]
    # when the log is lost and one new event is recorded
    api.settings.events_db.unlink()
    api.client.post("/v1/plans", json=PLAN | {"seed": 3}, headers=api.auth("write:plans"))
    # then the client's next page says the newest id is below its cursor, and reading from 0 finds the event
    page = _feed(api, f"?after={cursor}")
    assert page["items"] == [] and page["newest_id"] < cursor, page
    assert [item["type"] for item in _feed(api, "?after=0")["items"]] == ["plan.saved"]


def test_the_feed_needs_the_read_events_scope(tmp_path: Path) -> None:
    api = harness(tmp_path)
    assert api.client.get("/v1/events").status_code == 401
    assert api.client.get("/v1/events", headers=api.auth("read:plans")).status_code == 403
    assert api.client.get("/v1/events", headers=api.auth("read:events")).status_code == 200


@pytest.mark.parametrize("query", ["?after=-1", "?limit=0", "?limit=1001", "?after=x"])
def test_a_bad_cursor_or_limit_is_a_400_naming_the_parameter(tmp_path: Path, query: str) -> None:
    api = harness(tmp_path)
    response = api.client.get(f"/v1/events{query}", headers=api.auth("read:events"))
    assert response.status_code == 400, f"{query}: {response.status_code}"
    assert query.lstrip("?").split("=")[0] in response.json()["detail"], response.json()


@pytest.mark.slow
def test_a_promotion_is_in_the_feed(
    tmp_path: Path, champion_run: TrainingResult, models_tracking: Tracking, models_config: Config
) -> None:
    from models.registry import promote

    # given an event log
    log = EventLog(tmp_path / "events.sqlite3")
    # when a run is promoted (forced: the shared store may hold a champion already) with the log
    decision = promote(models_tracking, champion_run.run_id, models_config.model, force=True, events=log)
    # then the feed names the new champion version and its run
    events = log.after(0, 10)
    if not decision.promoted:  # it already was the champion: nothing happened, nothing is logged
        assert events == []
        return
    assert [(event.type, event.subject["version"], event.subject["run_id"]) for event in events] == [
        ("model.promoted", decision.version, champion_run.run_id)
    ]
