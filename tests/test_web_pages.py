"""The planners' pages without a browser: sessions, cookies, CSRF, scopes, audit, formatting, exports."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.security import ApiKeyStore
from api.web.format import number_sv, odds_in_words, percent_sv
from api.web.sessions import SessionStore
from serving.plan_export import inspections_csv_text, neutralised, plan_csv_text
from tests.web_support import PLANNER_SCOPES, SERIOUS_AREA, WebHome, csrf_of, signed_in


@pytest.fixture
def client(web_home: WebHome) -> Iterator[TestClient]:
    with TestClient(create_app(web_home.settings), raise_server_exceptions=False) as test_client:
        yield test_client


def test_pages_redirect_to_sign_in_and_come_back_after(client: TestClient, web_home: WebHome) -> None:
    # Given no session, when a page is asked for, then the answer is the sign-in page with the way back
    response = client.get("/kandidater?region=01", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/logga-in?next=%2Fkandidater%3Fregion%3D01"

    # When the key is given through the form, the session cookie is HttpOnly and SameSite=Strict
    form = client.get(response.headers["location"])
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    signed = client.post(
        "/logga-in",
        data={"api_key": web_home.keys["planner"], "next": "/kandidater?region=01", "csrf_token": token},
        follow_redirects=False,
    )
    assert signed.status_code == 303 and signed.headers["location"] == "/kandidater?region=01"
    cookie = next(value for value in signed.headers.get_list("set-cookie") if value.startswith("tr_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie
    assert web_home.keys["planner"] not in cookie, "the cookie holds a session token, never the key"


def test_session_cookie_is_secure_over_tls(web_home: WebHome) -> None:
    with TestClient(create_app(web_home.settings), base_url="https://tillsyn.example") as client:
        form = client.get("/logga-in")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
        signed = client.post(
            "/logga-in",
            data={"api_key": web_home.keys["planner"], "csrf_token": token},
            follow_redirects=False,
        )
    cookie = next(value for value in signed.headers.get_list("set-cookie") if value.startswith("tr_session="))
    assert "Secure" in cookie


def test_sign_in_refuses_an_unknown_key_and_a_missing_token(client: TestClient, web_home: WebHome) -> None:
    form = client.get("/logga-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    wrong = client.post("/logga-in", data={"api_key": "tr_000000000000_" + "x" * 43, "csrf_token": token})
    assert wrong.status_code == 401 and "okänd eller återkallad" in wrong.text
    forged = client.post("/logga-in", data={"api_key": web_home.keys["planner"]}, follow_redirects=False)
    assert forged.status_code == 403 and "tr_session" not in forged.headers.get("set-cookie", "")


def test_every_page_view_is_audited_with_the_key_id_and_never_the_key(
    client: TestClient, web_home: WebHome
) -> None:
    signed_in(client, web_home.keys["planner"])
    unit = web_home.unit_ids[0]
    assert client.get(f"/enheter/{unit}").status_code == 200

    audit = client.app.state.tillsynsrisk.audit  # type: ignore[attr-defined]
    entries = audit.entries(limit=50)
    key_id = ApiKeyStore.key_id_of(web_home.keys["planner"])
    view = [e for e in entries if e.path == "/enheter/{unit_id}"][-1]  # the route template, never raw values
    assert view.key_id == key_id and view.key_name == "planerare" and view.status == 200
    assert view.resource_ids == {"unit_id": unit}
    assert any(e.path == "/logga-in" and e.method == "POST" and e.key_id == key_id for e in entries)
    assert all(web_home.keys["planner"] not in f"{e.path}?{e.query}" for e in entries)


def test_scopes_decide_what_is_shown_and_allowed(client: TestClient, web_home: WebHome) -> None:
    # Given a key with only read:candidates
    keys = client.app.state.tillsynsrisk.keys  # type: ignore[attr-defined]
    _, key = keys.create("bara-kandidater", frozenset({"read:candidates"}))
    signed_in(client, key)

    # Then candidates show, units do not, and the navigation offers only what the key may open
    page = client.get("/kandidater")
    assert page.status_code == 200
    assert 'href="/planera"' not in page.text and 'href="/enheter/' not in page.text
    refused = client.get(f"/enheter/{web_home.unit_ids[0]}")
    assert refused.status_code == 403 and "read:units" in refused.text
    assert refused.headers["content-type"].startswith("text/html")


def test_a_revoked_key_ends_its_session(client: TestClient) -> None:
    keys = client.app.state.tillsynsrisk.keys  # type: ignore[attr-defined]
    _, key = keys.create("snart-aterkallad", PLANNER_SCOPES)
    signed_in(client, key)
    assert client.get("/kandidater").status_code == 200
    keys.revoke("snart-aterkallad")
    assert client.get("/kandidater", follow_redirects=False).status_code == 303


def test_sign_out_needs_the_csrf_token_and_ends_the_session(client: TestClient, web_home: WebHome) -> None:
    signed_in(client, web_home.keys["planner"])
    assert client.post("/logga-ut", data={}).status_code == 403
    out = client.post("/logga-ut", data={"csrf_token": csrf_of(client)}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 303


def test_idle_sessions_expire(tmp_path: Any) -> None:
    store = SessionStore(tmp_path / "sessions.sqlite3", idle_minutes=30)
    token, _ = store.create("abc123abc123", "planerare", now=1000.0)
    assert store.get(token, now=1000.0 + 29 * 60) is not None
    assert store.get(token, now=1000.0 + 29 * 60 + 31 * 60) is None, "30 idle minutes end the session"
    assert store.get(token, now=1000.0) is None, "an expired session is gone for good"
    assert store.get("not-a-token") is None
    store.close()


def test_candidates_filter_sort_and_page_through_shareable_urls(
    client: TestClient, web_home: WebHome
) -> None:
    signed_in(client, web_home.keys["planner"])
    page = client.get(
        "/kandidater?risk_area=tillganglighet&ownership=private&sort=enhet&order=desc&per_page=25"
    )
    assert page.status_code == 200
    names = re.findall(r'<a href="/enheter/[^"]+"><bdi>([^<]+)</bdi></a>', page.text)
    assert names and names == sorted(names, reverse=True)
    assert "offentlig" not in re.sub(r"<option.*?</option>", "", page.text), "only private units"
    assert "sort=enhet" in page.text and "ownership=private" in page.text, "links keep the filter state"
    bad = client.get("/kandidater?region=Stockholm")
    assert bad.status_code == 400 and "region" in bad.text


def test_unit_page_shows_counts_never_free_text(client: TestClient, web_home: WebHome) -> None:
    # Given the unit with the most complaints in the snapshot, whose complaints carry summaries
    from engine.snapshots import SnapshotStore

    complaints = SnapshotStore(web_home.settings.snapshots_dir).open().scan("complaints").collect()
    busiest = complaints.group_by("unit_id").len().sort("len", descending=True)["unit_id"][0]
    summaries = [text for text in complaints.filter(unit_id=busiest)["summary"].to_list() if text]
    signed_in(client, web_home.keys["planner"])

    # When the unit page is shown
    page = client.get(f"/enheter/{busiest}")

    # Then the quarterly counts are there and not one summary is
    assert page.status_code == 200 and "kv." in page.text
    assert summaries, "the world's complaints have summaries to leak"
    leaked = [text for text in summaries if text in page.text]
    assert not leaked, f"free text reached the page: {leaked[:2]}"


def test_plan_csv_is_swedish_excel_with_formulas_neutralised() -> None:
    document = {
        "plan_id": "plan-0123456789abcdef",
        "parameters": {"risk_area": "overall"},
        "chosen": [
            {
                "plan_position": 1, "unit_id": "SE2321000016-u1", "unit_name": "=HYPERLINK(\"x\")",
                "provider_id": "5560000001", "provider_name": "@Bolaget; AB", "region_code": "01",
                "municipality_code": "0180", "risk_area": "overall", "rank": 1, "percentile": 99.5,
                "p_deficiency": 0.1234, "reason": "risk_rank", "selection": "risk_based",
                "inclusion_probability": 1.0,
            }
        ],
    }  # fmt: skip
    text = plan_csv_text(document)
    assert text.startswith("\ufeff")
    header, row = list(csv.reader(io.StringIO(text[1:]), delimiter=";"))
    assert header[0] == "Nr" and row[2] == '\'=HYPERLINK("x")' and row[4] == "'@Bolaget; AB"
    assert row[9] == "99,5" and row[10] == "0,1234" and row[11] == "Riskrankad" and row[12] == "1,0000"
    assert neutralised("-1+1") == "'-1+1" and neutralised("+46") == "'+46" and neutralised("Ok") == "Ok"
    rows = inspections_csv_text(document, ["a", "b"]).splitlines()
    assert rows[0].startswith("inspection_id;unit_id") and len(rows) == 3
    assert rows[1].endswith(";risk_based;1,0")


@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [(12345.678, 2, "12\u00a0345,68"), (0, 0, "0"), (-1500, 0, "\u22121\u00a0500"), (None, 0, "–")],
    ids=["thousands-and-decimals", "zero", "negative", "missing"],
)
def test_numbers_are_written_the_swedish_way(value: Any, decimals: int, expected: str) -> None:
    assert number_sv(value, decimals) == expected


def test_percent_and_words() -> None:
    assert percent_sv(0.4567, 1) == "45,7\u00a0%"
    assert odds_in_words(0.62) == "ungefär 6 av 10"
    assert odds_in_words(0.03) == "ungefär 3 av 100"


def test_unknown_pages_are_html_and_the_api_keeps_problem_json(client: TestClient, web_home: WebHome) -> None:
    signed_in(client, web_home.keys["planner"])
    page = client.get("/planer/plan-ffffffffffffffff")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    api = client.get("/v1/nothing")
    assert api.status_code == 404 and api.headers["content-type"] == "application/problem+json"


def test_plan_warnings_are_shown_in_swedish() -> None:
    from api.web.planning import swedish_warning

    text = swedish_warning(
        "only 3 of capacity 5 units could be chosen: 2 units are in cooldown and the caps exclude others"
    )
    assert text.startswith("Bara 3 av 5 enheter kunde väljas: 2 enheter är inom karenstiden")


@pytest.mark.parametrize(
    ("warning", "expected"),
    [
        (
            "the floor 0.1 is more than 20 inspections (or the caps) allow on 844 eligible units; "
            "used 0.0152",
            "Golvet 10,0\u00a0% är högre än 20 inspektioner (eller gränserna) räcker till bland 844 valbara",
        ),
        ("only 12 of capacity 20 units are eligible under the caps", "Bara 12 av 20 enheter kan väljas"),
        (
            "the stratified design does not apply the region and provider caps (they would change the ...)",
            "Stratifierat urval tillämpar inte gränserna",
        ),
        (
            "providers ['5561234567'] spanning several regions got more than 2 units: the pps design holds",
            "Några vårdgivare med enheter i flera regioner fick fler än 2 enheter",
        ),
    ],
    ids=["floor-lowered", "few-eligible", "stratified-caps", "provider-cap-in-expectation"],
)
def test_design_warnings_are_shown_in_swedish(warning: str, expected: str) -> None:
    from api.web.planning import swedish_warning

    assert swedish_warning(warning).startswith(expected)


def test_a_pps_plan_is_previewed_with_its_design_floor_and_expected_error(
    client: TestClient, web_home: WebHome
) -> None:
    # Given a planner on the plan form, which offers the three designs
    signed_in(client, web_home.keys["planner"])
    form = client.get("/planera")
    assert 'name="design"' in form.text and 'value="pps"' in form.text
    # When a pps plan with a 10 % floor is previewed
    values = {
        "csrf_token": csrf_of(client),
        "risk_area": "overall",
        "capacity": "10",
        "per_region": "",
        "max_per_provider": "",
        "exploration": "15",
        "design": "pps",
        "floor": "10",
        "cooldown_months": "12",
        "seed": "7",
    }
    preview = client.post("/planera/forhandsgranska", data=values)
    # Then the preview names the design and its floor, and the anticipated error of the prevalence estimate
    assert preview.status_code == 200, preview.text
    assert "Riskproportionellt urval med golvet 10" in preview.text
    assert "förväntat medelfel per riskområde" in preview.text
    # And the save form carries the design on, so the saved plan is the previewed one
    assert 'name="design" value="pps"' in preview.text and 'name="floor" value="10"' in preview.text


def test_pages_and_api_say_which_target_ranks_each_area(client: TestClient, web_home: WebHome) -> None:
    # Given a served scoring that ranks systematiskt kvalitetsarbete by the risk of a serious finding
    # (94 % of its inspections found some deficiency) and tillgänglighet by the risk of a deficiency
    signed_in(client, web_home.keys["planner"])

    # When the candidates of each area are shown
    serious = client.get(f"/kandidater?risk_area={SERIOUS_AREA}&per_page=100")
    deficiency = client.get("/kandidater?risk_area=tillganglighet")

    # Then each page says in Swedish what ranks the area, and why
    expected = (
        "Rangordnas efter risk för allvarlig brist (andelen brister är 94\u00a0% i området, "
        "så nästan alla har någon brist)."
    )
    assert expected in serious.text, "the Kandidater page does not say the area is ranked by serious findings"
    assert "Rangordnas efter risk för brist." in deficiency.text, "tillgänglighet's ranking is not named"

    # And the unit page names the target beside the rank
    unit = client.get(f"/enheter/{web_home.unit_ids[0]}")
    assert "efter risk för allvarlig brist" in unit.text and expected in unit.text, "the Enhet page lacks it"

    # And the API's candidate page says it too, its candidates in the order of P(serious)
    bearer = {"Authorization": f"Bearer {web_home.keys['planner']}"}
    page = client.get(f"/v1/candidates?risk_area={SERIOUS_AREA}&limit=50", headers=bearer).json()
    assert page["ranking_target"] == "serious", (
        f"ranking_target missing or wrong: {page.get('ranking_target')}"
    )
    p_serious = [item["p_serious"] for item in page["items"]]
    assert p_serious == sorted(p_serious, reverse=True), "the candidates are not in the order of P(serious)"
    p_deficiency = [item["p_deficiency"] for item in page["items"]]
    assert p_deficiency != sorted(p_deficiency, reverse=True), "the test needs the two orders to differ"
    areas = client.get("/v1/risk-areas", headers=bearer).json()["items"]
    assert {a["id"]: a["ranking_target"] for a in areas}[SERIOUS_AREA] == "serious"


def test_a_unit_page_answers_without_waiting_for_the_index_of_every_unit(
    web_home: WebHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading
    import time

    from api.web import views

    # Given an app whose index of every unit's history takes long to build (a national snapshot)
    release = threading.Event()
    real = views.snapshot_history

    def slow_index(*args: Any, unit_id: str | None = None) -> Any:
        if unit_id is None:
            release.wait(60)
        return real(*args, unit_id=unit_id)

    monkeypatch.setattr(views, "snapshot_history", slow_index)
    unit_id = web_home.unit_ids[0]
    with TestClient(create_app(web_home.settings), raise_server_exceptions=False) as client:
        signed_in(client, web_home.keys["planner"])  # sign-in starts building the index
        # When the planner opens a unit page before the index is built
        started = time.monotonic()
        cold = client.get(f"/enheter/{unit_id}")
        waited = time.monotonic() - started
        # Then it answers at once, with the page the built index gives
        release.set()
        building = {"web-history", "web-warm-up"}
        deadline = time.monotonic() + 60
        while any(t.name in building and t.is_alive() for t in threading.enumerate()):
            assert time.monotonic() < deadline, "the index was never built"
            time.sleep(0.1)
        warm = client.get(f"/enheter/{unit_id}")
    assert cold.status_code == 200 and waited < 30, f"the unit page waited {waited:.1f} s for the index"

    # (chart element ids are numbered per page render, so they are left out of the comparison)
    def page(text: str) -> str:
        return re.sub(r"chart-\d+", "chart-N", text)

    assert page(cold.text) == page(warm.text), "the unit page from its own history differs from the index's"
