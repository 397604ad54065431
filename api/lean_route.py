"""``LeanRoute``: an ``APIRoute`` for hot endpoints that calls its dependencies directly.

FastAPI resolves every dependency of every request through its generic solver (parameter extraction,
sub-dependency graph, caching, scopes). On ``GET /v1/candidates`` that solver was the largest single
cost left after the page itself was pre-rendered. A ``LeanRoute`` is declared, documented and
validated exactly like an ``APIRoute`` (OpenAPI operation, response model, ``dependencies=[...]``),
but its request handler awaits each declared dependency and then the endpoint, each with the
``Request`` as its only argument.

So that nothing declared is ever skipped, the route is refused when the application is built unless
the endpoint and every dependency are ``async`` functions of the ``Request`` alone: no parameters,
no sub-dependencies, no ``yield``. Security and other checks therefore stay route dependencies (e.g.
``Depends(require_scope("read:candidates"))``) and run in the order declared. The endpoint returns
the ``Response`` itself: the response model documents it but is not applied per request, so a test must
check that the body matches the model. ``dependency_overrides`` do not apply to a ``LeanRoute`` (it
does not consult the solver); tests exercise it unmodified.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any

import fastapi.routing
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class LeanRouteError(TypeError):
    """A ``LeanRoute`` declares something its direct handler would not honour."""


class LeanRoute(APIRoute):
    """An ``APIRoute`` whose handler awaits its dependencies and endpoint directly (see module doc)."""

    def get_route_handler(self) -> Handler:
        dependant = _effective_dependant(self)
        calls = [
            _request_only(sub, f"dependency of {self.path}", forbid_sub_dependencies=True)
            for sub in dependant.dependencies
        ]
        endpoint = _request_only(dependant, f"endpoint of {self.path}", forbid_sub_dependencies=False)

        async def handler(request: Request) -> Response:
            for call in calls:
                await call(request)
            response = await endpoint(request)
            if not isinstance(response, Response):
                raise LeanRouteError(f"the endpoint of {self.path} must return a Response, not {response!r}")
            return response

        return handler


def _effective_dependant(route: APIRoute) -> Dependant:
    """The dependant FastAPI would solve for ``route``, including an including router's dependencies."""
    context_var = getattr(fastapi.routing, "_effective_route_context_var", None)
    context = context_var.get() if context_var is not None else None
    if context is not None and getattr(context, "original_route", None) is route:
        dependant: Dependant = context.dependant
        return dependant
    return route.dependant


def _request_only(dependant: Dependant, what: str, *, forbid_sub_dependencies: bool) -> Handler:
    """``dependant.call`` as a function of the request; refuses anything it would not honour.

    A dependency must have no sub-dependencies (``forbid_sub_dependencies``); the endpoint's are the
    route's ``dependencies=[...]``, which the handler calls itself.
    """
    call = dependant.call
    declared = {
        "parameters": [
            field.name
            for fields in (
                dependant.path_params,
                dependant.query_params,
                dependant.header_params,
                dependant.cookie_params,
                dependant.body_params,
            )
            for field in fields
        ],
        "sub-dependencies": dependant.dependencies if forbid_sub_dependencies else [],
        "special parameters": [
            name
            for name in (
                dependant.response_param_name,
                dependant.background_tasks_param_name,
                dependant.security_scopes_param_name,
                dependant.websocket_param_name,
                dependant.http_connection_param_name,
            )
            if name
        ],
    }
    problems = [f"{kind} {value}" for kind, value in declared.items() if value]
    if call is None or not inspect.iscoroutinefunction(call):
        problems.append("it is not an async function (generators and sync functions need the solver)")
    if dependant.request_param_name is None:
        problems.append("it takes no Request")
    if problems:
        raise LeanRouteError(
            f"a LeanRoute {what} must be an async function of the Request alone; {call!r} has "
            + "; ".join(problems)
        )
    assert call is not None and dependant.request_param_name is not None
    name = dependant.request_param_name

    async def call_with_request(request: Request) -> Any:
        return await call(**{name: request})

    return call_with_request
