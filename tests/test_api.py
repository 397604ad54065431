"""The API's endpoints through a real TestClient: statuses, problem details, pagination, filters, plans."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.api_support import ApiHarness, harness, inspections_frame

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> ApiHarness:
    return harness(tmp_path_factory.mktemp("api-home"))


def test_healthz_needs_no_key_and_readyz_names_the_snapshot(api: ApiHarness) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    ready = api.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "score_id": api.score_id, "as_of": "2025-06-01"}


def test_risk_areas_lists_configured_areas_and_overall_with_model_version(api: ApiHarness) -> None:
    response = api.client.get("/v1/risk-areas", headers=api.auth())
    assert response.status_code == 200
    items = response.json()["items"]
    assert [item["id"] for item in items] == [
        "personcentrering",
        "tillganglighet",
        "samverkan",
        "kontinuitet",
        "systematiskt_kvalitetsarbete",
        "overall",
    ]
    assert {item["model_version"] for item in items} == {"1"}
    assert items[1]["name_sv"] == "Tillgänglighet" and items[1]["units"] == 40


def test_candidates_are_ranked_with_explanations_and_paginate(api: ApiHarness) -> None:
    # when paging through tillgänglighet 15 at a time
    seen: list[int] = []
    url: str | None = "/v1/candidates?risk_area=tillganglighet&limit=15"
    pages = 0
    while url:
        page = api.client.get(url, headers=api.auth("read:candidates")).json()
        assert page["total"] == 40 and page["limit"] == 15
        seen += [item["rank"] for item in page["items"]]
        url = page["links"]["next"]
        pages += 1
    # then every rank appears once, in order, over three pages
    assert pages == 3
    assert seen == list(range(1, 41)), "pages must cover the ranking exactly once in rank order"
    first = api.client.get("/v1/candidates?risk_area=tillganglighet&limit=1", headers=api.auth()).json()
    item = first["items"][0]
    assert item["percentile"] == 100.0 and item["explanations"][0]["sentence_sv"].startswith("Klagomål")
    assert first["links"]["self"] == (
        f"/v1/candidates?risk_area=tillganglighet&limit=1&score_id={api.score_id}&offset=0"
    ), "the self link pins the page's scoring"
    assert "summary" not in item and "personnummer" not in str(item), "no free text in responses"


def test_candidates_offset_past_the_end_is_an_empty_page(api: ApiHarness) -> None:
    page = api.client.get("/v1/candidates?offset=100", headers=api.auth()).json()
    assert page["items"] == [] and page["total"] == 40 and page["links"]["next"] is None


@pytest.mark.parametrize(
    ("query", "field", "value"),
    [
        ("region=01", "region_code", "01"),
        ("ownership=public", "ownership", "public"),
        ("unit_type=vardcentral", "unit_type", "vardcentral"),
        ("provider_id=5500000012", "provider_id", "5500000012"),
    ],
    ids=["region", "ownership", "unit-type", "provider"],
)
def test_candidates_filters_keep_rank_order(api: ApiHarness, query: str, field: str, value: str) -> None:
    page = api.client.get(f"/v1/candidates?risk_area=samverkan&limit=500&{query}", headers=api.auth()).json()
    assert page["items"], f"filter {query} should match some units"
    assert {item[field] for item in page["items"]} == {value}
    ranks = [item["rank"] for item in page["items"]]
    assert ranks == sorted(ranks) and page["total"] == len(ranks)


def test_candidates_filters_combine_and_next_link_keeps_them(api: ApiHarness) -> None:
    page = api.client.get("/v1/candidates?ownership=private&region=12&limit=1", headers=api.auth()).json()
    assert page["total"] == 7  # region 12 has units 2, 7, ..., 37; unit 32 (provider 0) is public
    filters = "risk_area=overall&limit=1&region=12&ownership=private"
    assert page["links"]["next"] == f"/v1/candidates?{filters}&score_id={api.score_id}&offset=1"


def test_unknown_risk_area_is_a_400_problem_naming_the_known_areas(api: ApiHarness) -> None:
    response = api.client.get("/v1/candidates?risk_area=nope", headers=api.auth())
    assert response.status_code == 400, "a bad query value is a 400"
    assert response.headers["content-type"] == PROBLEM
    assert response.json() == {
        "type": "urn:tillsynsrisk:problem:unknown-risk-area",
        "title": "Unknown risk area",
        "status": 400,
        "detail": "unknown risk area <value>; known: ['kontinuitet', 'overall', 'personcentrering', "
        "'samverkan', 'systematiskt_kvalitetsarbete', 'tillganglighet']",
        "instance": "/v1/candidates",
    }


@pytest.mark.parametrize(
    ("query", "location"),
    [
        ("limit=0", "query.limit"),
        ("limit=501", "query.limit"),
        ("offset=-1", "query.offset"),
        ("region=Stockholm", "query.region.0"),
        ("ownership=state", "query.ownership"),
    ],
    ids=["limit-0", "limit-too-big", "negative-offset", "region-name", "ownership"],
)
def test_invalid_query_value_is_a_400_problem_naming_the_parameter(
    api: ApiHarness, query: str, location: str
) -> None:
    # when a candidates query has a value its parameter does not accept
    response = api.client.get(f"/v1/candidates?{query}", headers=api.auth())
    # then a 400 problem names the parameter and the parameters the route accepts
    body = response.json()
    assert response.status_code == 400 and response.headers["content-type"] == PROBLEM, body
    assert (
        body["type"] == "urn:tillsynsrisk:problem:invalid-query"
        and body["title"] == "Invalid query parameter"
    )
    assert [error["location"] for error in body["errors"]] == [location]
    assert body["detail"].startswith(f"the query does not match the route: {location}: ")
    assert "allowed parameters: limit, offset, ownership, provider_id" in body["detail"]


def test_unit_profile_covers_every_area_and_its_history(api: ApiHarness) -> None:
    response = api.client.get("/v1/units/SE2321000016-u0003", headers=api.auth("read:units"))
    assert response.status_code == 200
    profile = response.json()
    assert profile["unit_id"] == "SE2321000016-u0003" and profile["region_name"] == "Västra Götaland"
    assert len(profile["areas"]) == 6
    assert {area["units_in_area"] for area in profile["areas"]} == {40}
    assert len(profile["history"]) == 6 and all(point["is_current"] for point in profile["history"])


def test_unknown_unit_is_a_404_problem(api: ApiHarness) -> None:
    response = api.client.get("/v1/units/SE2321000016-zzzz", headers=api.auth())
    assert response.status_code == 404 and response.headers["content-type"] == PROBLEM
    assert response.json() == {
        "type": "urn:tillsynsrisk:problem:unknown-unit",
        "title": "Unknown unit",
        "status": 404,
        "detail": f"no unit <value> in scoring snapshot {api.score_id}",
        "instance": "/v1/units/SE2321000016-zzzz",
    }


def test_provider_rollup_counts_high_risk_units_by_percentile(api: ApiHarness) -> None:
    # provider 1 owns units 1, 9, 17, 25, 33
    url = "/v1/providers/5500000012"
    default = api.client.get(url, headers=api.auth("read:providers")).json()
    everything = api.client.get(f"{url}?high_risk_percentile=0", headers=api.auth()).json()
    assert [unit["unit_id"][-2:] for unit in sorted(default["units"], key=lambda u: u["unit_id"])] == [
        "01",
        "09",
        "17",
        "25",
        "33",
    ]
    assert default["high_risk_percentile"] == 90.0
    overall = {area["risk_area"]: area for area in everything["areas"]}["overall"]
    assert overall["units"] == 5 and overall["high_risk_units"] == 5
    assert overall["max_p_deficiency"] >= overall["mean_p_deficiency"] > 0
    expected_high = sum(1 for unit in default["units"] if unit["overall_percentile"] >= 90.0)
    assert {a["risk_area"]: a for a in default["areas"]}["overall"]["high_risk_units"] == expected_high


def test_unknown_provider_is_a_404_problem(api: ApiHarness) -> None:
    response = api.client.get("/v1/providers/5560000001", headers=api.auth())
    assert response.status_code == 404
    assert response.json()["type"] == "urn:tillsynsrisk:problem:unknown-provider"


def test_models_current_reports_lineage(api: ApiHarness) -> None:
    info = api.client.get("/v1/models/current", headers=api.auth("read:models")).json()
    assert info["score_id"] == api.score_id
    assert (info["model_name"], info["model_version"], info["feature_set_id"], info["snapshot_id"]) == (
        "tillsynsrisk",
        "1",
        "fs-test",
        "snap-test",
    )
    assert info["rows_per_area"]["overall"] == 40


def test_unknown_path_and_wrong_method_are_problems(api: ApiHarness) -> None:
    missing = api.client.get("/v1/nothing", headers=api.auth())
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM
    assert missing.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "no resource at this path",
        "instance": "/v1/nothing",
    }
    wrong = api.client.delete("/v1/candidates", headers=api.auth())
    assert wrong.status_code == 405 and wrong.headers["content-type"] == PROBLEM
    assert wrong.json()["detail"] == "this method is not allowed on this path"


def test_unhandled_error_is_a_500_problem_without_internals(tmp_path: Path) -> None:
    # given a served snapshot whose index is broken behind the API's back
    api = harness(tmp_path)
    served = api.client.app.state.tillsynsrisk.holder.served  # type: ignore[attr-defined]
    served.unit_rows["SE2321000016-u0001"] = [{"broken": "row"}]
    # when
    response = api.client.get("/v1/units/SE2321000016-u0001", headers=api.auth())
    # then
    assert response.status_code == 500 and response.headers["content-type"] == PROBLEM
    assert response.json() == {
        "type": "urn:tillsynsrisk:problem:internal-error",
        "title": "Internal Server Error",
        "status": 500,
        "detail": "the server could not complete the request; the error has been logged",
        "instance": "/v1/units/SE2321000016-u0001",
    }
    assert "Traceback" not in response.text and "KeyError" not in response.text


def test_plan_create_then_get_is_reproducible(tmp_path: Path) -> None:
    # given a unit inspected two months before the scores' as_of date
    api = harness(tmp_path, inspections=inspections_frame([("SE2321000016-u0009", dt.date(2025, 4, 1))]))
    body = {
        "capacity": 8,
        "seed": 42,
        "risk_area": "tillganglighet",
        "max_per_provider": 2,
        "exploration": 0.25,
    }
    # when created twice and fetched
    created = api.client.post("/v1/plans", json=body, headers=api.auth("write:plans"))
    again = api.client.post("/v1/plans", json=body, headers=api.auth())
    plan = created.json()
    fetched = api.client.get(created.headers["location"], headers=api.auth("read:plans"))
    # then the same parameters and seed give the same plan, stored with its inputs
    assert created.status_code == 201 and again.status_code == 201
    assert again.json()["plan_id"] == plan["plan_id"] and again.json()["chosen"] == plan["chosen"]
    assert fetched.status_code == 200 and fetched.json() == plan
    assert plan["parameters"] | {"seed": 42} == body | {
        "per_region": None,
        "cooldown_months": 12,
        "design": "top",
        "floor": 0.0,
        "regions": [],
        "municipalities": [],
    }
    assert plan["score_id"] == api.score_id and plan["inspections_snapshot_id"] == "snap-test"
    assert (plan["risk_ranked"], plan["random"]) == (6, 2)
    assert {unit["selection"] for unit in plan["chosen"]} == {"risk_based", "random"}
    assert "SE2321000016-u0009" not in {unit["unit_id"] for unit in plan["chosen"]}
    assert (api.settings.plans_dir / f"{plan['plan_id']}.json").is_file()


def test_plan_with_unknown_area_or_extra_field_is_422(api: ApiHarness) -> None:
    unknown = api.client.post(
        "/v1/plans", json={"capacity": 3, "seed": 1, "risk_area": "x"}, headers=api.auth()
    )
    assert unknown.status_code == 422 and unknown.json()["type"].endswith("unknown-risk-area")
    extra = api.client.post("/v1/plans", json={"capacity": 3, "seed": 1, "colour": "red"}, headers=api.auth())
    assert extra.status_code == 422 and extra.json()["errors"][0]["location"] == "body.colour"


def test_plan_without_inspections_and_a_cooldown_is_a_409(tmp_path: Path) -> None:
    api = harness(tmp_path)
    app = api.client.app
    from api.deps import Inspections, get_inspections

    app.dependency_overrides[get_inspections] = lambda: Inspections(frame=None, snapshot_id=None)  # type: ignore[attr-defined]
    response = api.client.post("/v1/plans", json={"capacity": 3, "seed": 1}, headers=api.auth())
    assert response.status_code == 409
    assert response.json()["detail"].endswith("ingest one or set cooldown_months=0")
    ok = api.client.post(
        "/v1/plans", json={"capacity": 3, "seed": 1, "cooldown_months": 0}, headers=api.auth()
    )
    assert ok.status_code == 201


def test_unknown_plan_is_a_404_problem(api: ApiHarness) -> None:
    response = api.client.get("/v1/plans/plan-0000000000000000", headers=api.auth())
    assert response.status_code == 404 and response.json()["detail"] == "no plan with that id"


def test_without_a_published_snapshot_data_routes_are_503_and_readyz_says_why(tmp_path: Path) -> None:
    api = harness(tmp_path, publish=False)
    ready = api.client.get("/readyz")
    assert ready.status_code == 503 and ready.headers["content-type"] == PROBLEM
    assert ready.json()["detail"] == "no scoring snapshot has been published", "no path in a response"
    candidates = api.client.get("/v1/candidates", headers=api.auth())
    assert candidates.status_code == 503 and candidates.json()["type"].endswith("not-ready")
    assert api.client.get("/v1/candidates").status_code == 401, "authentication comes before readiness"
