"""API keys (hashed, scoped, revocable), 401/403 problems, the append-only audit log and closed CORS."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from api.security import SCOPES, ApiKeyError, ApiKeyStore, parse_scopes
from tests.api_support import ApiHarness, harness

ROUTES = [
    ("GET", "/v1/risk-areas", "read:candidates"),
    ("GET", "/v1/candidates", "read:candidates"),
    ("GET", "/v1/units/SE2321000016-u0001", "read:units"),
    ("GET", "/v1/providers/5500000012", "read:providers"),
    ("GET", "/v1/models/current", "read:models"),
    ("GET", "/v1/plans/plan-0000000000000000", "read:plans"),
    ("POST", "/v1/plans", "write:plans"),
]
ROUTE_IDS = [f"{method} {path.split('/')[2]}" for method, path, _ in ROUTES]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> ApiHarness:
    return harness(tmp_path_factory.mktemp("security-home"))


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES, ids=ROUTE_IDS)
def test_every_route_needs_a_key(api: ApiHarness, method: str, path: str, scope: str) -> None:
    response = api.client.request(method, path, json={"capacity": 1, "seed": 1})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="tillsynsrisk"'
    assert response.json() == {
        "type": "urn:tillsynsrisk:problem:unauthenticated",
        "title": "Authentication required",
        "status": 401,
        "detail": "send an API key as 'Authorization: Bearer <key>'",
        "instance": path,
    }


@pytest.mark.parametrize(
    "header",
    ["Bearer tr_000000000000_" + "A" * 43, "Bearer not-a-key", "Basic dXNlcjpwYXNz"],
    ids=["unknown-key", "malformed", "basic-auth"],
)
def test_invalid_credentials_are_401(api: ApiHarness, header: str) -> None:
    response = api.client.get("/v1/candidates", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_a_key_with_a_changed_character_is_rejected(api: ApiHarness) -> None:
    key = api.keys["all"]
    tampered = key[:-1] + ("A" if key[-1] != "A" else "B")
    response = api.client.get("/v1/candidates", headers={"Authorization": f"Bearer {tampered}"})
    assert response.status_code == 401 and response.json()["title"] == "Invalid API key"


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES, ids=ROUTE_IDS)
def test_each_route_enforces_its_scope(api: ApiHarness, method: str, path: str, scope: str) -> None:
    # given a key holding every scope except the one this route needs
    other = next(name for name in SCOPES if name != scope)
    response = api.client.request(method, path, headers=api.auth(other), json={"capacity": 1, "seed": 1})
    assert response.status_code == 403
    assert response.json()["detail"] == f"this request needs scope {scope!r}; the key has [{other!r}]"
    allowed = api.client.request(
        method, path, headers=api.auth(scope), json={"capacity": 1, "seed": 1, "cooldown_months": 0}
    )
    assert allowed.status_code in {200, 201, 404}, f"{scope} should be enough for {method} {path}"


def test_keys_are_stored_hashed_and_listed_without_the_key(tmp_path: Path) -> None:
    store = ApiKeyStore(tmp_path / "keys.sqlite3")
    record, key = store.create("planner", frozenset({"read:candidates", "write:plans"}))
    raw = (tmp_path / "keys.sqlite3").read_bytes() + (tmp_path / "keys.sqlite3-wal").read_bytes()
    assert key.encode() not in raw, "the key itself must never be stored"
    assert key.startswith(f"tr_{record.key_id}_") and len(key) == 3 + 12 + 1 + 43
    assert store.authenticate(key) == record
    assert [k.name for k in store.list()] == ["planner"]


def test_revoked_keys_stop_working_and_names_can_be_reused(api: ApiHarness) -> None:
    store: ApiKeyStore = api.client.app.state.tillsynsrisk.keys  # type: ignore[attr-defined]
    _, key = store.create("temporary", frozenset({"read:candidates"}))
    headers = {"Authorization": f"Bearer {key}"}
    assert api.client.get("/v1/risk-areas", headers=headers).status_code == 200
    store.revoke("temporary")
    assert api.client.get("/v1/risk-areas", headers=headers).status_code == 401
    store.create("temporary", frozenset({"read:candidates"}))
    with pytest.raises(ApiKeyError, match="an active key named 'temporary' already exists"):
        store.create("temporary", frozenset({"read:candidates"}))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("read:everything", r"unknown or no scopes \['read:everything'\]; allowed: \['read:candidates'"),
        ("", ""),
    ],
    ids=["unknown", "empty"],
)
def test_parse_scopes_rejects_unknown_scopes(text: str, message: str) -> None:
    with pytest.raises(ApiKeyError, match=message):
        parse_scopes(text)


def test_audit_log_records_who_what_when_and_status(tmp_path: Path) -> None:
    # given
    api = harness(tmp_path)
    # when
    api.client.get("/v1/units/SE2321000016-u0001?x=1", headers=api.auth("read:units"))
    api.client.get("/v1/candidates")
    created = api.client.post("/v1/plans", json={"capacity": 2, "seed": 3}, headers=api.auth())
    api.client.get("/healthz")
    api.client.get("/v1/nowhere", headers=api.auth())
    # then
    entries = api.client.app.state.tillsynsrisk.audit.entries()  # type: ignore[attr-defined]
    assert [(e.method, e.path, e.status) for e in entries] == [
        ("GET", "/v1/units/{unit_id}", 400),
        ("GET", "/v1/candidates", 401),
        ("POST", "/v1/plans", 201),
        ("GET", "/v1/nowhere", 404),
    ], "health probes are not audited; everything else is"
    unit, anonymous, plan, unrouted = entries
    assert unrouted.key_id == api.keys["all"].split("_")[1], "the public key id is kept even without a route"
    assert (unit.key_name, unit.query, unit.resource_ids) == (
        "read-units",
        "x",
        {"unit_id": "SE2321000016-u0001"},
    )
    assert anonymous.key_name is None
    assert plan.key_name == "all" and plan.resource_ids["plan_id"] == created.json()["plan_id"]
    assert all(api.keys["all"] not in str(entry) for entry in entries), "the key must never be logged"
    assert entries[0].at < entries[2].at


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_log SET status = 200", "DELETE FROM audit_log"],
    ids=["update", "delete"],
)
def test_audit_log_is_append_only(tmp_path: Path, statement: str) -> None:
    api = harness(tmp_path)
    api.client.get("/v1/candidates")
    api.client.app.state.tillsynsrisk.audit.flush()  # type: ignore[attr-defined]
    connection = sqlite3.connect(api.settings.audit_db)
    with pytest.raises(sqlite3.IntegrityError, match="audit_log is append-only"):
        connection.execute(statement)
    assert connection.execute("SELECT count(*), min(status) FROM audit_log").fetchone() == (1, 401)


def test_cors_is_closed_by_default(api: ApiHarness) -> None:
    response = api.client.options(
        "/v1/candidates",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in response.headers
    get = api.client.get("/v1/candidates", headers=api.auth() | {"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in get.headers


def test_cors_allows_only_configured_origins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TILLSYNSRISK_CORS_ORIGINS", '["https://tillsyn.ivo.example"]')
    api = harness(tmp_path)
    allowed = api.client.get("/v1/candidates", headers=api.auth() | {"Origin": "https://tillsyn.ivo.example"})
    other = api.client.get("/v1/candidates", headers=api.auth() | {"Origin": "https://evil.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://tillsyn.ivo.example"
    assert "access-control-allow-origin" not in other.headers


def test_a_key_revoked_by_another_process_stops_working_within_a_second(api: ApiHarness) -> None:
    # given a key in use, and the CLI (another ApiKeyStore on the same database) revoking it
    store: ApiKeyStore = api.client.app.state.tillsynsrisk.keys  # type: ignore[attr-defined]
    _, key = store.create("short-lived", frozenset({"read:candidates"}))
    headers = {"Authorization": f"Bearer {key}"}
    assert api.client.get("/v1/risk-areas", headers=headers).status_code == 200
    ApiKeyStore(api.settings.api_keys_db).revoke("short-lived")
    # when the key cache's refresh interval has passed
    time.sleep(store.refresh_seconds + 0.1)
    # then
    assert api.client.get("/v1/risk-areas", headers=headers).status_code == 401
