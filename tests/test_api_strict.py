"""What an integrator meets first: strict query parameters, repeatable filters, pinned scorings, 400 for a
malformed body, and every problem type a route can answer with listed in the OpenAPI document."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.main import create_app
from engine.settings import Settings
from tests.api_support import ApiHarness, harness
from tests.scores_factory import make_scores, provider_ids, write_published

PROBLEM = "application/problem+json"
CANDIDATE_PARAMETERS = [
    "limit",
    "offset",
    "ownership",
    "provider_id",
    "region",
    "risk_area",
    "score_id",
    "unit_type",
]
# Every route with the query parameters it accepts (a plan is created by the fixture).
ROUTES = [
    ("GET", "/healthz", []),
    ("GET", "/readyz", []),
    ("GET", "/v1/risk-areas", ["score_id"]),
    ("GET", "/v1/candidates", CANDIDATE_PARAMETERS),
    ("GET", "/v1/units/SE2321000016-u0003", []),
    ("GET", "/v1/providers/5500000012", ["high_risk_percentile"]),
    ("GET", "/v1/plans/{plan_id}", []),
    ("GET", "/v1/models/current", []),
    ("POST", "/v1/plans", []),
]
ROUTE_IDS = [f"{method} {path}" for method, path, _ in ROUTES]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> ApiHarness:
    return harness(tmp_path_factory.mktemp("api-strict"))


@pytest.fixture(scope="module")
def plan_id(api: ApiHarness) -> str:
    created = api.client.post("/v1/plans", json={"capacity": 3, "seed": 1}, headers=api.auth())
    assert created.status_code == 201, created.text
    return str(created.json()["plan_id"])


def _call(api: ApiHarness, method: str, url: str) -> tuple[int, dict[str, object], str]:
    body = {"capacity": 3, "seed": 1} if method == "POST" else None
    response = api.client.request(method, url, json=body, headers=api.auth())
    return response.status_code, response.json(), response.headers["content-type"]


@pytest.mark.parametrize(("method", "path", "allowed"), ROUTES, ids=ROUTE_IDS)
def test_unknown_query_parameter_is_a_400_naming_it_and_the_allowed_ones(
    api: ApiHarness, plan_id: str, method: str, path: str, allowed: list[str]
) -> None:
    # given a route's URL with a parameter it does not define (an integrator's typo)
    url = path.format(plan_id=plan_id) + "?municipality=0104"
    # when it is called with a valid key
    status, body, content_type = _call(api, method, url)
    # then it is a 400 problem naming the parameter and the parameters the route accepts, not a
    # silently ignored filter
    assert status == 400 and content_type == PROBLEM, f"{method} {url} answered {status}: {body}"
    assert body["type"] == "urn:tillsynsrisk:problem:invalid-query", body
    assert body["errors"] == [{"location": "query.municipality", "message": "unknown parameter"}]
    assert body["allowed_parameters"] == allowed, "the problem must list what the route accepts"
    assert "query.municipality: unknown parameter; allowed parameters: " in str(body["detail"])


@pytest.mark.parametrize(
    ("query", "location"),
    [
        ("high_risk_percentile=101", "query.high_risk_percentile"),
        ("high_risk_percentile=many", "query.high_risk_percentile"),
    ],
    ids=["out-of-range", "not-a-number"],
)
def test_bad_query_value_is_a_400_naming_the_parameter(api: ApiHarness, query: str, location: str) -> None:
    # when a provider is asked for with a threshold that is not a percentile
    response = api.client.get(f"/v1/providers/5500000012?{query}", headers=api.auth())
    # then a 400 problem names the parameter (the value itself is not echoed)
    body = response.json()
    assert response.status_code == 400, body
    assert [error["location"] for error in body["errors"]] == [location]
    assert body["allowed_parameters"] == ["high_risk_percentile"]
    assert "many" not in response.text, "the sent value must not be echoed"


@pytest.mark.parametrize(
    ("name", "first", "second", "field"),
    [
        ("region", "01", "12", "region_code"),
        ("provider_id", *provider_ids(3)[1:], "provider_id"),
    ],
    ids=["region", "provider"],
)
def test_repeated_filter_means_any_of_its_values(
    api: ApiHarness, name: str, first: str, second: str, field: str
) -> None:
    # given the candidates of each value alone
    def page(query: str) -> dict[str, object]:
        response = api.client.get(f"/v1/candidates?limit=500&{query}", headers=api.auth())
        assert response.status_code == 200, response.text
        return dict(response.json())

    alone = [page(f"{name}={value}") for value in (first, second)]
    assert all(part["total"] for part in alone), f"both {name} values should match some units"
    # when the filter is repeated
    both = page(f"{name}={first}&{name}={second}")
    # then the page holds the units of either value, once each, in rank order
    items = both["items"]
    assert isinstance(items, list)
    assert both["total"] == sum(int(str(part["total"])) for part in alone), "repeats must mean any of"
    assert {item[field] for item in items} == {first, second}, f"a repeated {name} kept one value only"
    ranks = [item["rank"] for item in items]
    assert ranks == sorted(set(ranks)), "the union must stay in rank order without duplicates"
    links = both["links"]
    assert isinstance(links, dict)
    assert f"{name}={first}&{name}={second}" in str(links["self"]), "the links must keep both values"


def test_repeated_unit_type_keeps_every_value(api: ApiHarness) -> None:
    # given a world whose units are all vårdcentraler
    # when unit_type is repeated with a type no unit has
    page = api.client.get("/v1/candidates?unit_type=vardcentral&unit_type=bvc", headers=api.auth()).json()
    # then the vårdcentraler are still there (before, the last value alone filtered)
    assert page["total"] == 40, "a repeated unit_type must mean any of its values"


def test_malformed_json_body_is_a_400_problem(api: ApiHarness) -> None:
    # when a plan request's body is not JSON
    response = api.client.post(
        "/v1/plans", content=b'{"capacity": 3,', headers=api.auth() | {"Content-Type": "application/json"}
    )
    # then the answer is the 400 that docs/api.md promises, not a 422 about "body.1"
    assert response.status_code == 400 and response.headers["content-type"] == PROBLEM, response.text
    assert response.json() == {
        "type": "urn:tillsynsrisk:problem:malformed-body",
        "title": "Malformed request body",
        "status": 400,
        "detail": "the request body cannot be parsed as JSON",
        "instance": "/v1/plans",
    }


def test_body_that_is_not_utf8_is_the_same_400_problem(api: ApiHarness) -> None:
    response = api.client.post(
        "/v1/plans", content=b"\xff\xfe\xfd", headers=api.auth() | {"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["type"] == "urn:tillsynsrisk:problem:malformed-body"


def test_invalid_body_values_stay_422(api: ApiHarness) -> None:
    response = api.client.post("/v1/plans", json={"capacity": 0, "seed": 1}, headers=api.auth())
    assert response.status_code == 422, "a well-formed body with invalid values is a 422, as documented"
    assert response.json()["type"] == "urn:tillsynsrisk:problem:validation-error"


def test_paging_is_pinned_to_its_scoring_and_a_superseded_one_is_410(tmp_path: Path) -> None:
    # given page 1 of a ranking and the scoring it came from
    api = harness(tmp_path)
    first = api.client.get("/v1/candidates?risk_area=samverkan&limit=15", headers=api.auth()).json()
    assert first["score_id"] == api.score_id
    second = api.client.get(first["links"]["next"], headers=api.auth()).json()
    assert all(f"score_id={api.score_id}" in second["links"][name] for name in ("self", "next", "prev"))
    assert second["links"]["prev"] == first["links"]["self"], "prev must lead back to the page before"
    assert first["links"]["prev"] is None
    # when a new scoring is published and served before the client asks for page 3
    new_id = write_published(api.store, make_scores(seed=5, shift=0.4), version="2")
    api.client.app.state.tillsynsrisk.holder.refresh()  # type: ignore[attr-defined]
    gone = api.client.get(second["links"]["next"], headers=api.auth())
    # then page 3 is not taken from the new ranking: 410 with the id to start again from
    assert gone.status_code == 410 and gone.headers["content-type"] == PROBLEM, gone.text
    body = gone.json()
    assert body["type"] == "urn:tillsynsrisk:problem:score-gone"
    assert body["current_score_id"] == new_id, "the problem must name the scoring served now"
    risk_areas = api.client.get(f"/v1/risk-areas?score_id={api.score_id}", headers=api.auth())
    assert risk_areas.status_code == 410, "every list pins its scoring"
    restarted = api.client.get(f"/v1/candidates?risk_area=samverkan&score_id={new_id}", headers=api.auth())
    assert restarted.status_code == 200 and restarted.json()["score_id"] == new_id


def test_openapi_lists_every_problem_type_per_route(tmp_path: Path) -> None:
    # given the OpenAPI document
    document = create_app(Settings(home=tmp_path)).openapi()
    operations = {
        f"{method.upper()} {path}": operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    # then every error response of every operation is a problem whose type is one of a listed set
    for name, operation in operations.items():
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            schema = response["content"]["application/problem+json"]["schema"]
            refs, restriction = schema["allOf"]
            assert refs == {"$ref": "#/components/schemas/Problem"}, f"{name} {status}"
            assert restriction["properties"]["status"] == {"enum": [int(status)]}
            assert restriction["properties"]["type"]["enum"], f"{name} {status} lists no problem type"
        assert "422" not in operation["responses"] or "HTTPValidationError" not in str(operation)

    def types(name: str, status: str) -> list[str]:
        listed = operations[name]["responses"][status]["content"]["application/problem+json"]["schema"]
        return [t.rsplit(":", 1)[-1] for t in listed["allOf"][1]["properties"]["type"]["enum"]]

    assert types("GET /v1/candidates", "400") == ["invalid-query", "unknown-risk-area"]
    assert types("GET /v1/candidates", "410") == ["score-gone"]
    assert types("GET /v1/candidates", "401") == ["unauthenticated", "invalid-key"]
    assert types("POST /v1/plans", "400") == ["invalid-query", "malformed-body"]
    assert types("POST /v1/plans", "422") == ["validation-error", "unknown-risk-area", "invalid-design"]
    assert types("GET /v1/units/{unit_id}", "404") == ["unknown-unit"]
    assert "Problem" in document["components"]["schemas"]


def test_a_parameter_name_that_is_a_credential_is_not_echoed(api: ApiHarness) -> None:
    # given the client's own key sent by mistake as a parameter name
    key = api.keys["all"]
    # when it is refused as an unknown parameter
    response = api.client.get(f"/v1/candidates?{key}=1&limt=5", headers=api.auth())
    # then the problem names the short, name-like parameter but not the key
    assert response.status_code == 400
    assert key not in response.text, "a key sent as a parameter name must not come back"
    locations = [error["location"] for error in response.json()["errors"]]
    assert sorted(locations) == ["query.<parameter>", "query.limt"], locations
