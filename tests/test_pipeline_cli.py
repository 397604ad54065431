"""The planner's whole path on a small world: generate → ingest → train → promote → score → plan → API."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cli import app
from engine.scores import OVERALL, ScoreStore
from engine.settings import Settings
from tests.cli_support import generated_and_ingested


@pytest.mark.slow
@pytest.mark.usefixtures("cli_home_with_models")
def test_a_promoted_champion_scores_every_unit_and_the_api_serves_it(tmp_path: Path) -> None:
    # Given a small world ingested and a trained run promoted to champion (forced: gates are not the point)
    runner = CliRunner()
    generated_and_ingested(runner, tmp_path / "world", seed=5, units=250, years=5)
    trained = runner.invoke(app, ["train", "--as-of", "2026-01-01"])
    assert trained.exit_code == 0, trained.output
    found = re.search(r"run id: ([0-9a-f]{32})", trained.output)
    assert found, trained.output[-2000:]
    promoted = runner.invoke(app, ["promote", found.group(1), "--force"])
    assert promoted.exit_code == 0, promoted.output

    # When scoring without --as-of
    scored = runner.invoke(app, ["score"])

    # Then every active unit is scored in every area and overall, at the month after the newest record
    assert scored.exit_code == 0, scored.output
    assert "Top 10 units over all risk areas" in scored.output
    settings = Settings()
    snapshot = ScoreStore(settings.scores_dir).current()
    frame = snapshot.frame
    assert snapshot.metadata.as_of == dt.date(2026, 1, 1)
    assert snapshot.metadata.run_id == found.group(1)
    areas = set(frame["risk_area"].unique())
    assert areas == {*settings.load_config().risk_area_ids, OVERALL}
    per_area = frame.group_by("risk_area").len()["len"].unique().to_list()
    assert len(per_area) == 1, f"every area must score the same units, got counts {per_area}"
    top = frame.filter((pl.col("risk_area") == OVERALL) & (pl.col("rank") <= 20))
    assert top["explanations"].list.len().min() >= 1, "the highest-ranked units must carry reasons"
    sentence = top["explanations"].list.first().struct.field("sentence_sv").to_list()[0]
    assert re.search(r": .+", sentence), f"an explanation is a sentence with a value: {sentence!r}"

    # And the plan command and the API both work on the published snapshot
    planned = runner.invoke(app, ["plan", "--capacity", "10", "--seed", "1", "--per-region", "2"])
    assert planned.exit_code == 0, planned.output
    from api.main import create_app
    from api.security import ApiKeyStore

    keys = ApiKeyStore(settings.api_keys_db)
    _, key = keys.create("pipeline-test", frozenset({"read:candidates"}))
    keys.close()
    with TestClient(create_app(settings)) as client:
        assert client.get("/readyz").status_code == 200
        response = client.get(
            "/v1/candidates",
            params={"risk_area": "tillganglighet", "limit": 5},
            headers={"Authorization": f"Bearer {key}"},
        )
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [item["rank"] for item in items] == [1, 2, 3, 4, 5]
