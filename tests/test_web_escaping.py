"""What the data or a URL says is shown as text on the planners' pages, never obeyed as HTML."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.web.rendering import HERE, templates
from tests.web_support import WebHome

PAYLOAD = '"><b id="injected">x</b><meta http-equiv="refresh" content="0;url=http://127.0.0.1:9/">'


@pytest.fixture
def client(web_home: WebHome) -> Iterator[TestClient]:
    with TestClient(create_app(web_home.settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.mark.parametrize(
    "name", sorted(path.name for path in (HERE / "templates").glob("*")), ids=lambda name: name
)
def test_every_page_template_is_autoescaped(name: str) -> None:
    # given the page templates as the application loads them
    environment = templates().env
    # when a hostile value is rendered through an expression of that template's environment
    rendered = environment.from_string("{{ value }}").render(value=PAYLOAD)
    # then the template's own name switches escaping on, and the value comes out as text
    assert environment.autoescape is True or environment.autoescape(name), f"{name} is not autoescaped"
    assert "<b" not in rendered and "&lt;b" in rendered


def test_the_sign_in_page_does_not_reflect_html_from_next(client: TestClient) -> None:
    # given a link to the sign-in page whose `next` carries markup
    # when a visitor who is not signed in opens it
    page = client.get(f"/logga-in?next={quote('/' + PAYLOAD, safe='')}")
    # then the page is shown, and the markup is not part of it
    assert page.status_code == 200
    assert 'id="injected"' not in page.text
    assert not re.search(r"<meta[^>]+refresh", page.text), "the sign-in page carries a meta refresh"


def test_templates_never_mark_data_safe() -> None:
    # given every page template's source
    sources = {path.name: path.read_text(encoding="utf-8") for path in (HERE / "templates").glob("*")}
    # then none switches escaping off for a value
    offenders = [name for name, text in sources.items() if "|safe" in text.replace(" ", "")]
    offenders += [name for name, text in sources.items() if "autoescape false" in text]
    assert not offenders, f"templates that render data unescaped: {offenders}"
