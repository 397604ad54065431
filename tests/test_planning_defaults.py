"""The plan defaults live in the configuration's [planning] section: every way of making a plan reads them."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cli import app
from engine.config import ConfigError, PlanningSettings, config_from_mapping, default_config_text, load_config
from engine.scores import ScoreStore
from engine.settings import Settings
from tests.api_support import harness
from tests.scores_factory import make_scores, write_published
from tests.web_support import WebHome

# Different from every packaged default; cooldown 0 also plans without an ingest snapshot's inspections.
CHANGED = {"design": "top", "exploration": 0.5, "floor": 0.0, "cooldown_months": 0}


def config_with_planning(directory: Path, **planning: object) -> Path:
    """The packaged configuration with its [planning] values replaced, written to ``directory``."""
    text = default_config_text()
    for key, value in planning.items():
        line = re.compile(rf"^{key} = .*$", re.MULTILINE)
        section = text.index("\n[planning]\n")
        head, tail = text[:section], text[section:]
        tail, replaced = line.subn(f"{key} = {json.dumps(value)}", tail, count=1)
        assert replaced == 1, f"[planning] has no {key} line to change"
        text = head + tail
    path = directory / "tillsynsrisk.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def changed_config(tmp_path: Path) -> Path:
    return config_with_planning(tmp_path, **CHANGED)


def test_the_packaged_planning_section_is_the_models_defaults() -> None:
    # Given the packaged configuration, then its [planning] section states exactly the model's defaults
    assert load_config().planning == PlanningSettings(), "default_config.toml and PlanningSettings disagree"
    assert load_config().planning.exploration == 0.15 and load_config().planning.cooldown_months == 12


@pytest.mark.parametrize(
    ("key", "value"),
    [("exploration", 1.5), ("cooldown_months", -1), ("design", "best"), ("floor", -0.1)],
    ids=["exploration above 1", "negative cooldown", "unknown design", "negative floor"],
)
def test_a_bad_planning_default_is_refused_with_its_key(key: str, value: object) -> None:
    mapping = tomllib.loads(default_config_text())
    mapping["planning"][key] = value
    with pytest.raises(ConfigError, match=rf"planning\.{key}"):
        config_from_mapping(mapping)


def test_the_planning_defaults_are_part_of_the_config_file(changed_config: Path) -> None:
    # Given a configuration file with other plan defaults, when it is loaded, then they are its [planning]
    assert load_config(changed_config).planning == PlanningSettings(**CHANGED)  # type: ignore[arg-type]


# --- the command line --------------------------------------------------------------------------------


@pytest.fixture
def cli_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home with published scores (no ingest snapshot: a cooldown cannot be applied)."""
    monkeypatch.setenv("TILLSYNSRISK_HOME", str(tmp_path / "home"))
    write_published(ScoreStore(Settings().scores_dir), make_scores(units=60))
    return tmp_path / "home"


def _plan_json(*args: str) -> dict[str, object]:
    result = CliRunner().invoke(app, ["plan", "--capacity", "20", "--seed", "3", "--json", *args])
    assert result.exit_code == 0, result.output
    document: dict[str, object] = json.loads(result.stdout)
    return document


@pytest.mark.usefixtures("cli_home")
def test_plan_on_the_command_line_takes_the_configured_defaults(
    changed_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the packaged defaults, a plan without --cooldown-months needs the inspections it does not have
    refused = CliRunner().invoke(app, ["plan", "--capacity", "20", "--seed", "3"])
    assert refused.exit_code == 2 and "cooldown_months=12" in refused.stderr, refused.output
    # When the configuration's [planning] says 50 % exploration and no cooldown
    monkeypatch.setenv("TILLSYNSRISK_CONFIG", str(changed_config))
    document = _plan_json()
    # Then the plan uses them, and says so in its stored parameters
    parameters = document["parameters"]
    assert isinstance(parameters, dict)
    assert (parameters["exploration"], parameters["cooldown_months"]) == (0.5, 0), parameters
    assert document["random"] == 10, "half of K = 20 must be drawn at random"
    # And an option given on the command line still wins over the configuration
    given = _plan_json("--exploration", "0.1")["parameters"]
    assert isinstance(given, dict) and given["exploration"] == 0.1


@pytest.mark.usefixtures("cli_home")
def test_a_configured_pps_design_takes_the_floor_without_naming_the_design(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a deployment whose default design is pps with a floor of 0.02
    config = config_with_planning(tmp_path, design="pps", floor=0.02, cooldown_months=0)
    monkeypatch.setenv("TILLSYNSRISK_CONFIG", str(config))
    # When a plan is made without --design, and one with --floor but no --design
    default = _plan_json()
    floored = _plan_json("--floor", "0.05")
    # Then both are pps plans, with the configured and the given floor
    assert default["design"] == "pps" and default["parameters"]["floor"] == 0.02  # type: ignore[index]
    assert floored["design"] == "pps" and floored["parameters"]["floor"] == 0.05  # type: ignore[index]


# --- the API -----------------------------------------------------------------------------------------


def test_post_plans_takes_the_configured_defaults(
    tmp_path: Path, changed_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the API of a deployment whose [planning] says 50 % exploration and no cooldown
    monkeypatch.setenv("TILLSYNSRISK_CONFIG", str(changed_config))
    api = harness(tmp_path / "home")
    # When a plan is asked for with only its capacity and seed
    response = api.client.post("/v1/plans", json={"capacity": 10, "seed": 1}, headers=api.auth())
    # Then it is made with the configured exploration share and cooldown
    assert response.status_code == 201, response.text
    parameters = response.json()["parameters"]
    assert (parameters["exploration"], parameters["cooldown_months"], parameters["design"]) == (0.5, 0, "top")
    # And a value in the body still wins
    given = api.client.post(
        "/v1/plans", json={"capacity": 10, "seed": 1, "exploration": 0.2}, headers=api.auth()
    )
    assert given.status_code == 201 and given.json()["parameters"]["exploration"] == 0.2, given.text
    # And the OpenAPI document states the deployment's defaults to its integrators
    schema = api.client.get("/openapi.json").json()["components"]["schemas"]["PlanRequest"]["properties"]
    assert {name: schema[name].get("default") for name in CHANGED} == CHANGED


def test_post_plans_uses_the_packaged_cooldown_when_the_configuration_says_nothing(tmp_path: Path) -> None:
    # Given the packaged configuration and no ingest snapshot, when a plan names no cooldown
    api = harness(tmp_path / "home", inspections=None)
    api.client.app.dependency_overrides.clear()  # type: ignore[attr-defined]
    response = api.client.post("/v1/plans", json={"capacity": 3, "seed": 1}, headers=api.auth())
    # Then the 12-month default applies, and without inspections it cannot
    assert response.status_code == 409, response.text
    assert "cooldown_months=12" in response.json()["detail"]


# --- the web plan form -------------------------------------------------------------------------------


@pytest.fixture
def form_client(web_home: WebHome, tmp_path: Path) -> Iterator[TestClient]:
    """The pages of the prepared web home, served under a configuration with other plan defaults."""
    from api.main import create_app

    config = config_with_planning(tmp_path, **CHANGED)
    settings = web_home.settings.model_copy(update={"config_file": config})
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        sign_in = client.get("/logga-in")
        token = re.search(r'name="csrf_token" value="([^"]+)"', sign_in.text).group(1)  # type: ignore[union-attr]
        signed = client.post(
            "/logga-in",
            data={"api_key": web_home.keys["planner"], "next": "/", "csrf_token": token},
            follow_redirects=False,
        )
        assert signed.status_code == 303, signed.text
        yield client


def _input_value(page: str, name: str) -> str:
    found = re.search(rf'<input id="{name}" name="{name}"[^>]*\bvalue="([^"]*)"', page)
    assert found, f"the form has no {name} input"
    return found.group(1)


def test_the_plan_form_is_prefilled_with_the_configured_defaults(form_client: TestClient) -> None:
    # Given a deployment whose [planning] says 50 % exploration and no cooldown, when a planner opens the form
    page = form_client.get("/planera")
    # Then the form offers those values
    assert page.status_code == 200, page.text
    assert _input_value(page.text, "exploration") == "50", "exploration is shown in percent"
    assert _input_value(page.text, "cooldown_months") == "0"
    assert _input_value(page.text, "floor") == "0"
    assert re.search(r'<option value="top" selected>', page.text), "the configured design is selected"


# --- the simulation ----------------------------------------------------------------------------------


def test_the_simulation_takes_the_configured_exploration_and_cooldown_unless_given() -> None:
    from simulation.loop import SimulationSettings

    configured = PlanningSettings(exploration=0.3, cooldown_months=6)
    # Given simulation settings that name neither, then the configured values fill them
    filled = SimulationSettings().with_defaults(configured)
    assert (filled.exploration, filled.cooldown_months) == (0.3, 6)
    # Given settings that name them, then they win
    given = SimulationSettings(exploration=0.1, cooldown_months=0).with_defaults(configured)
    assert (given.exploration, given.cooldown_months) == (0.1, 0)
