"""The API's documentation pages (``/docs``, ``/redoc``): local assets only, under a strict policy."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from engine.settings import Settings
from tests.web_support import LiveServer

PAGES = {"/docs": ".opblock", "/redoc": "[data-section-id]"}  # page -> an element only a rendered page has


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # No scores are needed: the documentation describes the API whether or not anything is served.
    return Settings(home=tmp_path / "home", mlflow_tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.mark.parametrize("path", sorted(PAGES))
def test_the_api_docs_are_served_locally_with_security_headers(client: TestClient, path: str) -> None:
    # when a documentation page is asked for
    page = client.get(path)
    # then it loads its scripts and stylesheets from this server only
    assert page.status_code == 200
    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', page.text)
    assert sources and all(source.startswith("/docs-static/") for source in sources), sources
    for source in sources:
        asset = client.get(source)
        assert asset.status_code == 200 and len(asset.content) > 1000, f"{source} is not served"
    # and under a policy that allows nothing else: no other origin, no inline script but its own
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy, policy
    assert "http" not in policy and "'unsafe-eval'" not in policy, policy
    script_policy = next(part for part in policy.split(";") if part.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_policy, "inline scripts are allowed wholesale"
    inline = re.findall(r"<script>(.*?)</script>", page.text, re.DOTALL)
    assert len(re.findall(r"'sha256-", script_policy)) == len(inline), "each inline script has its hash"
    # and it cannot be framed or sniffed
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"


def test_fastapi_cdn_pages_are_off(client: TestClient) -> None:
    # given the application, then no route of it serves FastAPI's CDN-based pages or their OAuth helper
    assert client.get("/docs/oauth2-redirect").status_code == 404
    assert "cdn.jsdelivr.net" not in client.get("/docs").text + client.get("/redoc").text


@pytest.mark.slow
def test_the_api_docs_render_in_chromium_with_nothing_from_elsewhere(
    browser: Any, settings: Settings
) -> None:
    # given the API served over HTTP and Chromium with every request off the site recorded and refused
    with LiveServer(settings) as server:
        context = browser.new_context(base_url=server.url)
        off_site: list[str] = []

        def route(request_route: Any) -> None:
            url = request_route.request.url
            if url.startswith((server.url, "blob:", "data:")):
                request_route.continue_()
            else:
                off_site.append(f"{request_route.request.resource_type} {url}")
                request_route.abort()

        context.route("**/*", route)
        page = context.new_page()
        for path, rendered in PAGES.items():
            # when the documentation page is opened
            page.goto(path)
            # then it renders the operations under its policy, with its own assets only
            page.wait_for_selector(rendered, timeout=20_000)
            assert page.locator(rendered).count() >= 5, f"{path} shows no operations"
        context.close()
    assert not off_site, f"requests that left the site (or would have, without the policy): {off_site}"
