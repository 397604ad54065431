"""The API and plan commands: apikey create/list/revoke, plan create/show/export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.security import ApiKeyStore
from cli.api_cmd import apikey_app
from cli.plan_cmd import plan_app
from engine.scores import ScoreStore
from engine.settings import Settings
from tests.api_support import harness
from tests.scores_factory import make_scores, write_published

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TILLSYNSRISK_HOME", str(tmp_path))
    return tmp_path


def test_apikey_create_prints_only_the_key_on_stdout_and_stores_its_hash(home: Path) -> None:
    result = runner.invoke(
        apikey_app, ["create", "--name", "planner", "--scopes", "read:candidates,write:plans"]
    )
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    assert key.startswith("tr_") and "\n" not in key, "stdout must hold the key alone"
    record = ApiKeyStore(Settings().api_keys_db).authenticate(key)
    assert record is not None and record.scopes == {"read:candidates", "write:plans"}
    listed = runner.invoke(apikey_app, ["list"])
    assert "planner" in listed.stdout and key not in listed.stdout


def test_apikey_create_rejects_unknown_scopes_naming_the_allowed_ones(home: Path) -> None:
    result = runner.invoke(apikey_app, ["create", "--name", "x", "--scopes", "read:all"])
    assert result.exit_code == 1
    assert "unknown or no scopes ['read:all']; allowed:" in result.stderr


def test_apikey_revoke_unknown_name_fails(home: Path) -> None:
    result = runner.invoke(apikey_app, ["revoke", "nobody"])
    assert result.exit_code == 1 and "no active key with name or id 'nobody'" in result.stderr


def test_plan_command_gives_the_same_plan_as_the_api(home: Path) -> None:
    # given published scores, planned through the API with cooldown off
    api = harness(home / "api")
    body = {"capacity": 6, "seed": 5, "risk_area": "kontinuitet", "max_per_provider": 2, "cooldown_months": 0}
    via_api = api.client.post("/v1/plans", json=body, headers=api.auth()).json()
    write_published(ScoreStore(Settings().scores_dir), make_scores(units=40))
    # when the same parameters are given to the CLI on the same scores
    args = ["--capacity", "6", "--seed", "5", "--risk-area", "kontinuitet", "--max-per-provider", "2"]
    result = runner.invoke(plan_app, [*args, "--cooldown-months", "0", "--json"])
    # then the units, reasons and probabilities agree (the plan id also names the inspections snapshot)
    assert result.exit_code == 0, result.output
    via_cli = json.loads(result.stdout)
    assert [u["unit_id"] for u in via_cli["chosen"]] == [u["unit_id"] for u in via_api["chosen"]]
    assert [u["inclusion_probability"] for u in via_cli["chosen"]] == [
        u["inclusion_probability"] for u in via_api["chosen"]
    ]
    assert (Settings().plans_dir / f"{via_cli['plan_id']}.json").is_file()


def test_plan_command_without_capacity_explains_usage(home: Path) -> None:
    result = runner.invoke(plan_app, ["--seed", "1"])
    assert result.exit_code == 2 and "needs --capacity K and --seed S" in result.stderr


def test_plan_export_writes_swedish_inspections_csv(home: Path) -> None:
    write_published(ScoreStore(Settings().scores_dir), make_scores(units=20))
    created = runner.invoke(plan_app, ["--capacity", "4", "--seed", "1", "--cooldown-months", "0", "--json"])
    plan_id = json.loads(created.stdout)["plan_id"]
    out = home / "plan.csv"
    result = runner.invoke(plan_app, ["export", plan_id, "--format", "inspections-csv", "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    lines = text.lstrip("\ufeff").splitlines()
    assert text.startswith("\ufeff"), "Swedish exports carry a BOM"
    assert (
        lines[0]
        == "inspection_id;unit_id;start_date;decision_date;risk_area;finding;selection;inclusion_probability"
    )
    assert len(lines) == 1 + 4 * 5, "an overall plan covers every configured risk area"
    assert lines[1].startswith(f"{plan_id}-001;") and lines[1].endswith(";risk_based;1,0")
    bad = runner.invoke(plan_app, ["export", plan_id, "--format", "xlsx"])
    assert bad.exit_code == 2 and "allowed: ['inspections-csv']" in bad.stderr
