"""LeanRoute: declared dependencies are never skipped, and what it cannot honour is refused at build time."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.testclient import TestClient

from api.lean_route import LeanRoute, LeanRouteError
from api.schemas import CandidatePage
from tests.api_support import harness


def _app(*, router_dependencies: list[Any] | None = None, calls: list[str] | None = None) -> FastAPI:
    seen = calls if calls is not None else []

    async def first(request: Request) -> None:
        seen.append("first")

    async def deny_without_header(request: Request) -> None:
        seen.append("second")
        if "x-allow" not in request.headers:
            raise HTTPException(403, "denied")

    router = APIRouter(route_class=LeanRoute)

    @router.get("/thing", dependencies=[Depends(first), Depends(deny_without_header)])
    async def thing(request: Request) -> Response:
        seen.append("endpoint")
        return Response(b'{"ok":true}', media_type="application/json")

    app = FastAPI()
    app.include_router(router, dependencies=router_dependencies or [])
    return app


def test_lean_route_awaits_dependencies_in_order_before_the_endpoint() -> None:
    calls: list[str] = []
    client = TestClient(_app(calls=calls))
    assert client.get("/thing", headers={"x-allow": "1"}).json() == {"ok": True}
    assert calls == ["first", "second", "endpoint"]
    calls.clear()
    # a dependency that raises stops the request before the endpoint runs
    assert client.get("/thing").status_code == 403
    assert calls == ["first", "second"], "the endpoint must not run when a dependency refuses"


def test_lean_route_honours_dependencies_added_by_the_including_router() -> None:
    async def refuse(request: Request) -> None:
        raise HTTPException(401, "router-level dependency")

    client = TestClient(_app(router_dependencies=[Depends(refuse)]))
    response = client.get("/thing", headers={"x-allow": "1"})
    assert response.status_code == 401, "a dependency of include_router(...) must not be skipped"


async def _with_query(request: Request, limit: int = 5) -> None:
    return None


def _sync(request: Request) -> None:
    return None


async def _generator(request: Request) -> AsyncIterator[None]:
    yield None


async def _needs_other(other: None = Depends(_sync)) -> None:
    return None


@pytest.mark.parametrize(
    ("dependency", "message"),
    [
        (_with_query, r"parameters \['limit'\]"),
        (_sync, "not an async function"),
        (_generator, "not an async function"),
        (_needs_other, "sub-dependencies"),
    ],
    ids=["query-parameter", "sync", "yield", "sub-dependency"],
)
def test_lean_route_refuses_dependencies_it_would_not_honour(
    dependency: Callable[..., Any], message: str
) -> None:
    router = APIRouter(route_class=LeanRoute)
    with pytest.raises(LeanRouteError, match=message):

        @router.get("/x", dependencies=[Depends(dependency)])
        async def endpoint(request: Request) -> Response:
            return Response()


def test_lean_route_refuses_an_endpoint_with_parameters() -> None:
    router = APIRouter(route_class=LeanRoute)
    with pytest.raises(LeanRouteError, match=r"endpoint of /x must be an async function.*parameters \['q'\]"):

        @router.get("/x")
        async def endpoint(request: Request, q: str) -> Response:
            return Response()


def test_candidate_pages_are_exactly_what_the_response_model_renders(tmp_path: Path) -> None:
    # given pages rendered from pre-rendered bytes (first page, a filtered page, the last page)
    api = harness(tmp_path, units=30)
    for query in ("risk_area=tillganglighet&limit=50", "region=01&ownership=public&limit=2", "offset=29"):
        response = api.client.get(f"/v1/candidates?{query}", headers=api.auth())
        assert response.status_code == 200 and response.headers["content-type"] == "application/json"
        body = response.json()
        # then each validates against CandidatePage and round-trips through it unchanged
        page = CandidatePage.model_validate(body)
        assert json.loads(page.model_dump_json(by_alias=True)) == body, f"page {query} differs from its model"
