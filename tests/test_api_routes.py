"""Every route goes through FastAPI's own routing and dependency solver: overrides apply everywhere."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from api.deps import current_client, get_scores, get_state
from api.main import ROUTERS
from api.problems import ProblemError
from api.schemas import CandidatePage
from api.security import ApiKey
from tests.api_support import ALL_SCOPES, ApiHarness, harness

# One request per route, and the status it gets once the client dependency is overridden (no key sent).
EXAMPLES: dict[tuple[str, str], tuple[str, dict[str, Any] | None, int]] = {
    ("GET", "/v1/risk-areas"): ("/v1/risk-areas", None, 200),
    ("GET", "/v1/candidates"): ("/v1/candidates?limit=3", None, 200),
    ("GET", "/v1/units/{unit_id}"): ("/v1/units/SE2321000016-u0003", None, 200),
    ("GET", "/v1/providers/{provider_id}"): ("/v1/providers/5500000012", None, 200),
    ("POST", "/v1/plans"): ("/v1/plans", {"capacity": 3, "seed": 1}, 201),
    ("GET", "/v1/plans"): ("/v1/plans", None, 200),
    ("GET", "/v1/plans/{plan_id}"): ("/v1/plans/plan-0000000000000000", None, 404),
    ("GET", "/v1/plans/{plan_id}/plan.csv"): ("/v1/plans/plan-0000000000000000/plan.csv", None, 404),
    ("GET", "/v1/plans/{plan_id}/inspections.csv"): (
        "/v1/plans/plan-0000000000000000/inspections.csv",
        None,
        404,
    ),
    ("GET", "/v1/models/current"): ("/v1/models/current", None, 200),
    ("GET", "/v1/events"): ("/v1/events", None, 200),
}
# /healthz has no dependency to override; /readyz depends on the state (overridden below).
UNAUTHENTICATED = {("GET", "/healthz"), ("GET", "/readyz")}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> ApiHarness:
    return harness(tmp_path_factory.mktemp("routes-home"))


def _app(api: ApiHarness) -> FastAPI:
    app = api.client.app
    assert isinstance(app, FastAPI)
    return app


def _routes() -> dict[tuple[str, str], APIRoute]:
    """The routes of every router the application includes, by (method, path)."""
    return {
        (method, route.path): route
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    }


def _calls(dependant: Dependant) -> set[Any]:
    """Every dependency callable in a route's dependency tree."""
    return {dependant.call} | {call for sub in dependant.dependencies for call in _calls(sub)}


def test_every_route_is_a_plain_api_route_with_an_example(api: ApiHarness) -> None:
    # given the operations the application serves (its OpenAPI document) and its routers' routes
    served = {
        (method.upper(), path)
        for path, operations in api.client.get("/openapi.json").json()["paths"].items()
        for method in operations
    }
    routes = _routes()
    # then every operation comes from an included router, as FastAPI's own APIRoute (no custom class)
    assert set(routes) == served
    assert {type(route) for route in routes.values()} == {APIRoute}
    assert served == set(EXAMPLES) | UNAUTHENTICATED, "a new route needs an entry in EXAMPLES"
    for key in EXAMPLES:
        assert current_client in _calls(routes[key].dependant), f"{key} does not authenticate its client"


@pytest.mark.parametrize("route", sorted(EXAMPLES), ids=lambda key: f"{key[0]} {key[1]}")
def test_overriding_the_client_dependency_applies_to_every_authenticated_route(
    tmp_path: Path, route: tuple[str, str]
) -> None:
    # given an app whose client dependency is overridden by a key with every scope
    api = harness(tmp_path)
    app = _app(api)
    url, body, expected = EXAMPLES[route]
    method = route[0]
    # when the route is called without any key
    without = api.client.request(method, url, json=body)
    app.dependency_overrides[current_client] = lambda: ApiKey("test", "test", ALL_SCOPES, "2025-01-01")
    overridden = api.client.request(method, url, json=body)
    # then the key is refused normally, and the override lets the request through to the route
    assert without.status_code == 401, f"{route} must need a key without the override"
    assert overridden.status_code == expected, f"{route}: {overridden.status_code} {overridden.text[:300]}"


@pytest.mark.parametrize(
    "route",
    [key for key in sorted(EXAMPLES) if get_scores in _calls(_routes()[key].dependant)],
    ids=lambda key: f"{key[0]} {key[1]}",
)
def test_overriding_the_scores_dependency_applies_to_every_route_that_reads_scores(
    tmp_path: Path, route: tuple[str, str]
) -> None:
    # given an app whose served scores are overridden by a dependency that refuses with a 503
    api = harness(tmp_path)
    app = _app(api)

    def unavailable() -> None:
        raise ProblemError(503, "overridden", "Overridden", "scores replaced in a test")

    app.dependency_overrides[get_scores] = unavailable
    url, body, _ = EXAMPLES[route]
    # when the route is called with a valid key
    response = api.client.request(route[0], url, json=body, headers=api.auth())
    # then the override answered
    assert response.status_code == 503 and response.json()["type"].endswith(":overridden")


def test_overriding_the_state_dependency_applies_to_readiness(tmp_path: Path) -> None:
    # given an app with no published snapshot (not ready), and the state of a home that has one
    api = harness(tmp_path, publish=False)
    ready_state = harness(tmp_path / "ready").client.app.state.tillsynsrisk  # type: ignore[attr-defined]
    app = _app(api)
    assert api.client.get("/readyz").status_code == 503
    # when readiness is asked with the state of a home that has a published snapshot
    app.dependency_overrides[get_state] = lambda: ready_state
    # then the override's state answers
    assert api.client.get("/readyz").json()["status"] == "ready"


@pytest.mark.parametrize(
    "query",
    [
        "risk_area=tillganglighet&limit=50",
        "region=01&ownership=public&limit=2",
        "unit_type=vardcentral&provider_id=5500000012&limit=3&offset=1",
        "offset=39",
        "offset=100",
    ],
    ids=["first-page", "filtered", "provider-and-type", "last-item", "past-the-end"],
)
def test_candidate_pages_are_exactly_what_the_response_model_renders(api: ApiHarness, query: str) -> None:
    # given a page assembled from pre-rendered candidates
    response = api.client.get(f"/v1/candidates?{query}", headers=api.auth())
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    body = response.json()
    # then it validates against CandidatePage and round-trips through it unchanged
    page = CandidatePage.model_validate(body)
    assert json.loads(page.model_dump_json(by_alias=True)) == body, f"page {query} differs from its model"
