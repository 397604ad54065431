"""Scores for a named team: their own id and lineage, and plans drawn from them (CLI and API)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from engine.scores import NoTeamScoringError, ScoreStore, scoring_for_team
from tests.api_support import harness
from tests.scores_factory import make_scores, write_published


def _write_for_team(store: ScoreStore, team: str, *, shift: float = 0.5) -> str:
    """A scoring with the published one's lineage that assumes ``team`` inspects; returns its id."""
    return store.write(
        make_scores(shift=shift),
        model_name="tillsynsrisk",
        model_version="1",
        run_id="run1",
        feature_set_id="fs-test",
        snapshot_id="snap-test",
        config_hash="c" * 64,
        planned_inspection={"team": team},
    ).score_id


def test_a_teams_scoring_has_an_id_of_its_own_and_records_the_team(tmp_path: Path) -> None:
    # given one scores frame
    store = ScoreStore(tmp_path)
    frame = make_scores()
    lineage = {
        "model_name": "tillsynsrisk",
        "model_version": "1",
        "feature_set_id": "fs",
        "snapshot_id": "snap",
        "config_hash": "c" * 64,
    }
    # when it is stored team-neutral, for team nord, and for nord again
    neutral = store.write(frame, **lineage)
    nord = store.write(frame, **lineage, planned_inspection={"team": "nord"})
    again = store.write(frame, **lineage, planned_inspection={"team": "nord"})
    # then the team's scoring has another id than the neutral one, the same each time, and says its team
    assert nord.score_id != neutral.score_id, "a team's scoring shares the team-neutral id"
    assert again.score_id == nord.score_id
    assert store.metadata(nord.score_id).planned_inspection == {"team": "nord"}
    assert store.metadata(neutral.score_id).planned_inspection == {}


def test_the_newest_scoring_for_a_team_is_found_and_an_unknown_team_is_refused(tmp_path: Path) -> None:
    # given a published team-neutral scoring and one made for team nord from the same snapshot and model
    store = ScoreStore(tmp_path)
    write_published(store, make_scores())
    nord = _write_for_team(store, "nord")
    # when the scoring of nord, and of a team without one, is asked for
    found = scoring_for_team(store, "nord")
    # then nord's is found, and the other is refused with the teams that have one and how to make it
    assert found.id == nord
    with pytest.raises(NoTeamScoringError, match=r"team 'syd'.*teams with one: \['nord'\].*score --team syd"):
        scoring_for_team(store, "syd")


def test_post_plans_with_a_team_draws_from_that_teams_scoring(tmp_path: Path) -> None:
    # given the API serving team-neutral scores, and a scoring for team nord
    api = harness(tmp_path / "home")
    nord = _write_for_team(api.store, "nord")
    body = {"capacity": 5, "seed": 1, "cooldown_months": 0}
    # when a plan names team nord
    response = api.client.post("/v1/plans", json={**body, "team": "nord"}, headers=api.auth())
    # then it is drawn from nord's scoring, and the team is not a plan parameter
    assert response.status_code == 201, response.text
    assert response.json()["score_id"] == nord
    assert "team" not in response.json()["parameters"]
    neutral = api.client.post("/v1/plans", json=body, headers=api.auth())
    assert neutral.status_code == 201 and neutral.json()["score_id"] == api.score_id, neutral.text


@pytest.mark.parametrize(
    ("team", "status", "problem", "detail"),
    [
        ("syd", 404, "no-team-scoring", "no scoring assumes team 'syd'"),
        ("x" * 65, 422, "validation-error", "team"),
        ("<script>", 422, "validation-error", "team"),
    ],
    ids=["no-scoring", "too-long", "not-a-name"],
)
def test_post_plans_refuses_a_team_it_cannot_plan_for(
    tmp_path: Path, team: str, status: int, problem: str, detail: str
) -> None:
    # given the API serving team-neutral scores and a scoring for nord only
    api = harness(tmp_path / "home")
    _write_for_team(api.store, "nord")
    # when a plan names another team, or no team name at all
    response = api.client.post(
        "/v1/plans", json={"capacity": 5, "seed": 1, "cooldown_months": 0, "team": team}, headers=api.auth()
    )
    # then it is a problem response naming what is wrong (a valid name without a scoring is not found,
    # as an unknown score_id is), never a traceback
    assert response.status_code == status, response.text
    assert response.json()["type"].endswith(problem), response.json()
    assert detail in response.text, response.text
    assert "Traceback" not in response.text


def test_post_plans_refuses_a_pinned_scoring_made_for_another_team(tmp_path: Path) -> None:
    # given the served team-neutral scoring
    api = harness(tmp_path / "home")
    # when a plan names team nord but pins the team-neutral scoring
    response = api.client.post(
        "/v1/plans",
        json={"capacity": 5, "seed": 1, "cooldown_months": 0, "team": "nord", "score_id": api.score_id},
        headers=api.auth(),
    )
    # then it is refused: that scoring assumes no team
    assert response.status_code == 404, response.text
    assert "assumes no team" in response.json()["detail"], response.json()


def test_plan_with_a_team_without_a_scoring_says_how_to_make_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a home with a published team-neutral scoring and none for team syd
    monkeypatch.setenv("TILLSYNSRISK_HOME", str(tmp_path / "home"))
    api = harness(tmp_path / "home")
    # when a plan is made for team syd
    result = CliRunner().invoke(app, ["plan", "--capacity", "5", "--seed", "1", "--team", "syd"])
    # then it stops with a usage error that says how to score for syd
    assert result.exit_code == 2, result.output
    assert "tillsynsrisk score --team syd" in " ".join(result.output.split()), result.output
    assert api.score_id  # the published scoring was there
