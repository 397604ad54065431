"""Conditional GET on every read route: strong ETags, If-None-Match → 304, Cache-Control per resource,
HEAD, and a polling client that downloads again only after a new scoring is served."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.conditional import none_match
from tests.api_support import ApiHarness, harness
from tests.scores_factory import make_scores, write_published

SCORES_DERIVED = "private, no-cache"
IMMUTABLE = "private, max-age=31536000, immutable"
# Every read route with the Cache-Control it answers with and whether its body follows the scoring.
READ_ROUTES = [
    ("/healthz", "no-store", False),
    ("/readyz", "no-store", True),
    ("/v1/risk-areas", SCORES_DERIVED, True),
    ("/v1/candidates?risk_area=samverkan&limit=5", SCORES_DERIVED, True),
    ("/v1/units/SE2321000016-u0003", SCORES_DERIVED, True),
    ("/v1/providers/5500000012", SCORES_DERIVED, True),
    ("/v1/plans/{plan_id}", IMMUTABLE, False),
    ("/v1/models/current", SCORES_DERIVED, True),
]
ROUTE_IDS = [path.split("?")[0] for path, _, _ in READ_ROUTES]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> ApiHarness:
    return harness(tmp_path_factory.mktemp("api-conditional"))


@pytest.fixture(scope="module")
def plan_id(api: ApiHarness) -> str:
    created = api.client.post("/v1/plans", json={"capacity": 3, "seed": 1}, headers=api.auth())
    assert created.status_code == 201, created.text
    return str(created.json()["plan_id"])


@pytest.mark.parametrize(("path", "cache_control", "scored"), READ_ROUTES, ids=ROUTE_IDS)
def test_read_route_answers_304_to_its_own_etag(
    api: ApiHarness, plan_id: str, path: str, cache_control: str, scored: bool
) -> None:
    # given a first read with its ETag
    url = path.format(plan_id=plan_id)
    first = api.client.get(url, headers=api.auth())
    tag = first.headers.get("etag")
    assert first.status_code == 200 and tag, f"GET {url} has no ETag"
    assert tag.startswith('"') and tag.endswith('"'), f"the ETag {tag} must be a strong, quoted tag"
    assert first.headers["cache-control"] == cache_control, f"GET {url}: wrong Cache-Control"
    # when the client asks again with If-None-Match
    again = api.client.get(url, headers=api.auth() | {"If-None-Match": tag})
    # then 304 with the same ETag and Cache-Control and no body
    assert again.status_code == 304, f"GET {url} with its own ETag answered {again.status_code}"
    assert again.content == b"", "a 304 has no body"
    assert again.headers["etag"] == tag and again.headers["cache-control"] == cache_control


@pytest.mark.parametrize(("path", "cache_control", "scored"), READ_ROUTES, ids=ROUTE_IDS)
def test_head_is_the_get_without_its_body(
    api: ApiHarness, plan_id: str, path: str, cache_control: str, scored: bool
) -> None:
    # when a read route is asked with HEAD
    url = path.format(plan_id=plan_id)
    got = api.client.get(url, headers=api.auth())
    head = api.client.head(url, headers=api.auth())
    # then it answers like GET (status, ETag, length, type) with no body, instead of 405
    assert head.status_code == 200, f"HEAD {url} answered {head.status_code}"
    assert head.content == b""
    for header in ("etag", "content-length", "content-type", "cache-control"):
        assert head.headers[header] == got.headers[header], f"HEAD {url}: {header} differs from GET"


def test_head_is_audited_as_head(tmp_path: Path) -> None:
    api = harness(tmp_path)
    api.client.head("/v1/models/current", headers=api.auth())
    entries = api.client.app.state.tillsynsrisk.audit.entries()  # type: ignore[attr-defined]
    assert [(entry.method, entry.path, entry.status) for entry in entries] == [
        ("HEAD", "/v1/models/current", 200)
    ]


def test_polling_client_gets_304_until_a_new_scoring_is_served(tmp_path: Path) -> None:
    # given a client that read every read route once and kept the ETags
    api = harness(tmp_path)
    plan = api.client.post("/v1/plans", json={"capacity": 3, "seed": 1}, headers=api.auth()).json()
    urls = {path.format(plan_id=plan["plan_id"]): scored for path, _, scored in READ_ROUTES}
    tags = {url: api.client.get(url, headers=api.auth()).headers["etag"] for url in urls}
    # when it polls three times while nothing changes
    for _ in range(3):
        for url, tag in tags.items():
            polled = api.client.get(url, headers=api.auth() | {"If-None-Match": tag})
            # then every poll is a 304
            assert polled.status_code == 304, f"GET {url} changed while nothing was published"
    # when a new scoring is published and served
    new_id = write_published(api.store, make_scores(seed=7, shift=0.3), version="2")
    assert api.client.app.state.tillsynsrisk.holder.refresh()  # type: ignore[attr-defined]
    # then the first poll of every scores-derived route returns the new data with a new ETag
    for url, scored in urls.items():
        polled = api.client.get(url, headers=api.auth() | {"If-None-Match": tags[url]})
        if not scored:
            assert polled.status_code == 304, f"GET {url} does not depend on the scoring"
            continue
        assert polled.status_code == 200, f"GET {url} kept answering 304 after a new scoring"
        assert polled.headers["etag"] != tags[url]
        assert new_id in polled.text, f"GET {url} does not carry the new scoring {new_id}"


@pytest.mark.parametrize(
    ("header", "matches"),
    [
        ('"abc"', True),
        ('W/"abc"', True),
        ('"x", "abc"', True),
        ("*", True),
        ('"abcd"', False),
        ("abc", False),
        ("", False),
    ],
    ids=["same", "weak-form", "in-a-list", "star", "other", "unquoted", "empty"],
)
def test_if_none_match_compares_tags_weakly(header: str, matches: bool) -> None:
    assert none_match(header, '"abc"') is matches, f"If-None-Match {header!r}"


def test_errors_are_never_304_and_never_stored(api: ApiHarness) -> None:
    # when an unknown unit is asked for with If-None-Match: *
    response = api.client.get("/v1/units/SE2321000016-x9", headers=api.auth() | {"If-None-Match": "*"})
    # then the 404 problem is answered as it is, with no ETag, and must not be stored
    assert response.status_code == 404 and "etag" not in response.headers
    assert response.headers["cache-control"] == "no-store"


def test_stale_etag_gets_the_full_body(api: ApiHarness) -> None:
    response = api.client.get("/v1/risk-areas", headers=api.auth() | {"If-None-Match": '"0000"'})
    assert response.status_code == 200 and response.json()["items"], "a stale tag must get the full body"


def test_304_needs_a_valid_key(api: ApiHarness) -> None:
    tag = api.client.get("/v1/models/current", headers=api.auth()).headers["etag"]
    response = api.client.get("/v1/models/current", headers={"If-None-Match": tag})
    assert response.status_code == 401, "an ETag must not let a client without a key learn anything"


def test_provider_rollup_is_the_same_bytes_on_every_request(api: ApiHarness) -> None:
    # given an unchanged scoring, when a provider is read many times
    bodies = {api.client.get("/v1/providers/5500000012", headers=api.auth()).content for _ in range(150)}
    # then every body is the same (its mean probabilities once varied in the last bit, and so its ETag)
    assert len(bodies) == 1, f"{len(bodies)} different bodies for the same provider and scoring"
