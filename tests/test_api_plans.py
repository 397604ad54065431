"""Plans as an integrator uses them: named, listed, filtered and fetched as the web page's CSV files."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from api.schemas import PlanList
from cli import app
from engine.scores import ScoreStore
from engine.settings import Settings
from serving.plan_export import BOM, inspections_csv_text, plan_csv_text
from serving.plans import plan_label
from tests.api_support import ApiHarness, harness
from tests.scores_factory import make_scores, write_published

PLAN = {"capacity": 4, "seed": 7, "cooldown_months": 0}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> ApiHarness:
    return harness(tmp_path_factory.mktemp("plans-home"))


def _create(api: ApiHarness, **fields: Any) -> dict[str, Any]:
    response = api.client.post("/v1/plans", json=PLAN | fields, headers=api.auth("write:plans"))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _backdate(api: ApiHarness, plan_id: str, created_at: str) -> None:
    """Rewrite a stored plan's creation time (the list filters on it)."""
    path = api.settings.plans_dir / f"{plan_id}.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps(document | {"created_at": created_at}), encoding="utf-8")


def test_a_plan_keeps_its_name_and_purpose(tmp_path: Path) -> None:
    # given a plan request with a name and a purpose
    api = harness(tmp_path)
    labels = {"name": "Tillgänglighet hösten", "purpose": "Uppföljning.\nAndra raden."}
    # when it is created and fetched
    created = _create(api, **labels)
    fetched = api.client.get(f"/v1/plans/{created['plan_id']}", headers=api.auth("read:plans")).json()
    # then both carry the labels, and so does the stored document
    assert (created["name"], created["purpose"]) == (labels["name"], labels["purpose"]), created
    assert fetched == created, "the fetched plan differs from the created one"
    stored = json.loads((api.settings.plans_dir / f"{created['plan_id']}.json").read_text(encoding="utf-8"))
    assert stored["name"] == labels["name"] and stored["purpose"] == labels["purpose"]


def test_labels_are_part_of_the_plan_id_and_an_unlabelled_plan_keeps_its_id(tmp_path: Path) -> None:
    # given the same parameters without labels, with a name, and with the name again
    api = harness(tmp_path)
    plain, named, again = _create(api), _create(api, name="A"), _create(api, name="A")
    # then the name makes another plan, the same name the same plan (idempotent), and no label no change
    assert named["plan_id"] != plain["plan_id"], "a named plan must not overwrite the unnamed one"
    assert again["plan_id"] == named["plan_id"], "the same request must give the same plan"
    assert plain["name"] is None and plain["purpose"] is None
    assert named["chosen"] == plain["chosen"], "labels must not change the units chosen"


@pytest.mark.parametrize(
    ("fields", "location"),
    [
        ({"name": "x" * 121}, "body.name"),
        ({"name": "två\nrader"}, "body.name"),
        ({"name": "Enhet 19121212-1212"}, "body.name"),
        ({"purpose": "p" * 2001}, "body.purpose"),
        ({"purpose": "nollbyte\x00"}, "body.purpose"),
        ({"name": 5}, "body.name"),
    ],
)
def test_a_bad_label_is_a_422_naming_the_field(
    api: ApiHarness, fields: dict[str, Any], location: str
) -> None:
    # when a plan is asked for with a label too long, with control characters, a personnummer or no text
    response = api.client.post("/v1/plans", json=PLAN | fields, headers=api.auth("write:plans"))
    # then it is refused, naming the field and never echoing a personal identity number
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["location"] == location, response.json()
    assert "19121212" not in response.text, "a personal identity number was echoed"


def test_a_blank_label_is_stored_as_none() -> None:
    # when a label is only whitespace, then it is no label
    assert plan_label("  \n ", field="name", max_chars=10, multiline=False) is None
    assert plan_label(" Vår plan ", field="name", max_chars=10, multiline=False) == "Vår plan"


def test_plans_are_listed_newest_first_with_paging_links(tmp_path: Path) -> None:
    # given three plans created on three days
    api = harness(tmp_path)
    ids = [_create(api, seed=seed)["plan_id"] for seed in (1, 2, 3)]
    for day, plan_id in zip((1, 2, 3), ids, strict=True):
        _backdate(api, plan_id, f"2025-09-0{day}T10:00:00+00:00")
    # when they are listed two at a time
    first = api.client.get("/v1/plans?limit=2", headers=api.auth("read:plans"))
    second = api.client.get(first.json()["links"]["next"], headers=api.auth("read:plans"))
    # then the pages follow each other newest first, with total, next and prev
    assert first.status_code == 200 and second.status_code == 200, (first.text, second.text)
    page1, page2 = PlanList.model_validate(first.json()), PlanList.model_validate(second.json())
    assert [item.plan_id for item in page1.items + page2.items] == ids[::-1]
    assert page1.total == page2.total == 3
    assert page1.links.prev is None and page2.links.next is None
    assert page2.links.prev is not None and page2.links.prev.endswith("offset=0")


def test_plans_filter_by_creation_day_design_risk_area_and_name(tmp_path: Path) -> None:
    # given plans that differ in day, design, risk area and name
    api = harness(tmp_path)
    early = _create(api, name="Vår tillgänglighet", risk_area="tillganglighet")["plan_id"]
    late = _create(api, name="Höstens urval", design="stratified")["plan_id"]
    _backdate(api, early, "2025-03-01T08:00:00+00:00")
    _backdate(api, late, "2025-10-01T08:00:00+00:00")

    def listed(query: str) -> list[str]:
        response = api.client.get(f"/v1/plans?{query}", headers=api.auth("read:plans"))
        assert response.status_code == 200, response.text
        return [item["plan_id"] for item in response.json()["items"]]

    # then each filter keeps only the plans that pass it
    assert listed("created_from=2025-06-01") == [late]
    assert listed("created_to=2025-03-01") == [early], "created_to must include its own day"
    assert listed("design=stratified") == [late]
    assert listed("risk_area=tillganglighet") == [early]
    assert listed("name=TILLGÄNGLIG") == [early], "the name filter matches a part, ignoring case"
    assert listed("name=urval&design=top") == [], "filters must combine"


def test_listing_needs_the_read_plans_scope(api: ApiHarness) -> None:
    # when plans are listed with a key without read:plans, then 403
    response = api.client.get("/v1/plans", headers=api.auth("read:candidates"))
    assert response.status_code == 403, response.text


@pytest.mark.parametrize("query", ["limit=0", "design=best", "created_from=yesterday", "name="])
def test_a_bad_list_query_is_a_400_naming_the_parameter(api: ApiHarness, query: str) -> None:
    response = api.client.get(f"/v1/plans?{query}", headers=api.auth("read:plans"))
    assert response.status_code == 400, f"{query}: {response.status_code}"
    assert query.lstrip("?").split("=")[0] in response.json()["detail"], response.json()


@pytest.mark.parametrize("file", ["plan.csv", "inspections.csv"])
def test_plan_csvs_need_a_bearer_key_with_read_plans_not_a_web_sign_in(api: ApiHarness, file: str) -> None:
    # given a stored plan
    plan_id = _create(api, seed=11)["plan_id"]
    url = f"/v1/plans/{plan_id}/{file}"
    # when its file is fetched without a key, with a key lacking the scope, and with read:plans
    without = api.client.get(url, follow_redirects=False)
    wrong = api.client.get(url, headers=api.auth("read:units"), follow_redirects=False)
    right = api.client.get(url, headers=api.auth("read:plans"), follow_redirects=False)
    # then a bearer problem, a scope problem, and the file (no redirect to the sign-in page)
    assert without.status_code == 401 and wrong.status_code == 403, (without.text, wrong.text)
    assert right.status_code == 200, right.text
    assert right.headers["content-type"] == "text/csv; charset=utf-8"
    assert right.headers["content-disposition"].startswith("attachment; filename=")
    assert plan_id in right.headers["content-disposition"]


def test_plan_csvs_are_the_bytes_the_web_export_writes(api: ApiHarness) -> None:
    # given a stored plan
    plan_id = _create(api, seed=12, name="=HYPERLINK(1)")["plan_id"]
    document = api.client.app.state.tillsynsrisk.plans.open(plan_id)  # type: ignore[attr-defined]
    areas = api.client.app.state.tillsynsrisk.config.risk_area_ids  # type: ignore[attr-defined]
    # when both files are fetched
    plan_csv = api.client.get(f"/v1/plans/{plan_id}/plan.csv", headers=api.auth("read:plans"))
    inspections_csv = api.client.get(f"/v1/plans/{plan_id}/inspections.csv", headers=api.auth("read:plans"))
    # then they are exactly serving.plan_export's text, with the byte-order mark the web page adds
    assert plan_csv.content == plan_csv_text(document).encode("utf-8")
    assert inspections_csv.content == (BOM + inspections_csv_text(document, areas)).encode("utf-8")
    assert len(plan_csv.text.splitlines()) == 1 + len(document["chosen"])


def test_the_csv_of_an_unknown_plan_is_a_404_problem(api: ApiHarness) -> None:
    response = api.client.get("/v1/plans/plan-0000000000000000/plan.csv", headers=api.auth("read:plans"))
    assert response.status_code == 404 and response.headers["content-type"] == "application/problem+json"


def test_an_unreadable_plan_file_is_left_out_of_the_list(tmp_path: Path) -> None:
    # given a stored plan and a corrupt plan file
    api = harness(tmp_path)
    kept = _create(api)["plan_id"]
    (api.settings.plans_dir / "plan-ffffffffffffffff.json").write_text("{", encoding="utf-8")
    # when plans are listed, then the corrupt one is skipped, not a 500
    response = api.client.get("/v1/plans", headers=api.auth("read:plans"))
    assert response.status_code == 200, response.text
    assert [item["plan_id"] for item in response.json()["items"]] == [kept]


def test_created_day_filters_use_utc(tmp_path: Path) -> None:
    # given a plan created at 00:30 in Stockholm, which is the previous day in UTC
    api = harness(tmp_path)
    plan_id = _create(api)["plan_id"]
    _backdate(
        api, plan_id, dt.datetime(2025, 6, 2, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))).isoformat()
    )
    # then it belongs to 1 June
    response = api.client.get("/v1/plans?created_from=2025-06-01&created_to=2025-06-01", headers=api.auth())
    assert [item["plan_id"] for item in response.json()["items"]] == [plan_id]


def test_plan_on_the_command_line_takes_a_name_and_purpose_shown_by_list_and_show(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a home with published scores
    monkeypatch.setenv("TILLSYNSRISK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "250")
    write_published(ScoreStore(Settings().scores_dir), make_scores(units=30))
    runner = CliRunner()
    # when a plan is made with --name and --purpose, then listed and shown
    labels = ["--name", "Vårens plan", "--purpose", "Uppföljning av klagomål"]
    made = runner.invoke(
        app, ["plan", "--capacity", "3", "--seed", "1", "--cooldown-months", "0", "--json", *labels]
    )
    assert made.exit_code == 0, made.output
    plan_id = json.loads(made.stdout)["plan_id"]
    listed = runner.invoke(app, ["plan", "list"])
    shown = runner.invoke(app, ["plan", "show", plan_id])
    # then the plan carries the labels and both commands print them
    assert json.loads(made.stdout)["name"] == "Vårens plan"
    assert "Vårens plan" in listed.output, listed.output
    assert "Vårens plan" in shown.output and "Uppföljning av klagomål" in shown.output, shown.output


def test_plan_on_the_command_line_refuses_a_personnummer_in_the_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a home with published scores
    monkeypatch.setenv("TILLSYNSRISK_HOME", str(tmp_path / "home"))
    write_published(ScoreStore(Settings().scores_dir), make_scores(units=30))
    # when a plan is named with a personal identity number
    result = CliRunner().invoke(
        app, ["plan", "--capacity", "3", "--seed", "1", "--cooldown-months", "0", "--name", "19121212-1212"]
    )
    # then it is refused without echoing the number, and nothing is stored
    assert result.exit_code == 2, result.output
    assert "19121212" not in result.output
    assert not list(Settings().plans_dir.glob("plan-*.json")), "a refused plan was stored"


def test_a_plan_limited_to_a_region_and_a_kommun_chooses_only_units_there(api: ApiHarness) -> None:
    # given the test scores' regions 01, 03, 12, 14, 25 with kommuner 0180, 0380, 1280, 1480, 2580
    # when a plan is asked for region 12 and kommun 0380 (Uppsala)
    plan = _create(api, regions=["12"], municipalities=["0380"], design="stratified", capacity=5)
    # then it keeps its area and chooses only units in it
    assert plan["parameters"]["regions"] == ["12"] and plan["parameters"]["municipalities"] == ["0380"]
    places = {(unit["region_code"], unit["municipality_code"]) for unit in plan["chosen"]}
    assert places and places <= {("12", "1280"), ("03", "0380")}, places


@pytest.mark.parametrize(
    ("fields", "location"),
    [
        ({"regions": ["99"]}, "body.regions.0"),
        ({"regions": ["1"]}, "body.regions.0"),
        ({"municipalities": ["0199"]}, "body.municipalities.0"),
        ({"municipalities": ["0180"] * 291}, "body.municipalities"),
        ({"regions": "01"}, "body.regions"),
    ],
    ids=["unknown-region", "malformed-region", "unknown-kommun", "too-many-kommuner", "not-a-list"],
)
def test_an_unknown_or_unbounded_place_is_a_422_naming_it(
    api: ApiHarness, fields: dict[str, Any], location: str
) -> None:
    response = api.client.post("/v1/plans", json=PLAN | fields, headers=api.auth("write:plans"))
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["location"] == location, response.json()


def test_a_pps_floor_at_capacity_over_eligible_says_the_plan_is_random_and_which_floor_is_useful(
    api: ApiHarness,
) -> None:
    # given the harness's 40 units and 4 inspections (K/N = 0.1), when a pps plan asks for a floor of 0.5
    plan = _create(api, design="pps", floor=0.5)
    # then the response names it a random plan and gives the largest floor that still follows risk
    assert plan["largest_useful_floor"] == pytest.approx(0.099), plan["warnings"]
    assert any("random plan" in warning for warning in plan["warnings"]), plan["warnings"]
    assert len({unit["inclusion_probability"] for unit in plan["chosen"]}) == 1
    # and a floor below it gives no such field
    assert _create(api, design="pps", floor=0.05)["largest_useful_floor"] is None


def test_plan_on_the_command_line_takes_regions_and_kommuner_and_warns_of_a_random_floor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a home with published scores
    monkeypatch.setenv("TILLSYNSRISK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "250")
    write_published(ScoreStore(Settings().scores_dir), make_scores(units=30))
    runner = CliRunner()
    base = ["plan", "--capacity", "3", "--seed", "1", "--cooldown-months", "0"]
    # when a plan is limited with --region and --kommun
    made = runner.invoke(app, [*base, "--region", "01", "--kommun", "0380", "--json"])
    assert made.exit_code == 0, made.output
    document = json.loads(made.stdout)
    # then it keeps its area and chooses only there
    assert document["parameters"]["regions"] == ["01"] and document["parameters"]["municipalities"] == [
        "0380"
    ]
    assert {unit["region_code"] for unit in document["chosen"]} <= {"01", "03"}
    # and an unknown code is refused, and a pps floor above K/N is called a random plan
    assert runner.invoke(app, [*base, "--region", "99"]).exit_code == 2
    random_plan = runner.invoke(app, [*base, "--design", "pps", "--floor", "0.5"])
    assert random_plan.exit_code == 0, random_plan.output
    assert "random plan" in random_plan.output and "largest useful floor is 0.099" in random_plan.output
