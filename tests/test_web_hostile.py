"""A hostile world through every page: what the data and the URL say is shown as text, never obeyed.

Unit and provider names, explanation sentences, the model run's lineage and subgroup names carry HTML,
template and URL payloads and invisible format characters (``tests/hostile_world.py``); query and form
values carry more. Every page is read as a browser would (``html.parser``) here, and in Chromium in
``test_hostile_world_in_chromium_builds_no_element_and_goes_nowhere``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

import polars as pl
import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from api.main import create_app
from api.web.plan_form import PLAN_FIELDS, defaults
from engine.config import PlanningSettings
from engine.scores import OVERALL, ScoreStore
from serving.plans import PlanStore
from tests.hostile_world import (
    FORMAT_PAYLOADS,
    HTML_PAYLOADS,
    QUERY_PAYLOADS,
    format_characters_in,
    hostile_home,
    injected_markup,
)
from tests.web_support import LiveServer, WebHome, csrf_of, signed_in

NUMERIC_FIELDS = tuple(
    field.name for field in PLAN_FIELDS if field.kind in {"int", "optional_int", "percent"}
)
# The planner's own text: every HTML payload in the plan's name (one line, bounded) and purpose.
HOSTILE_LABELS = {"name": " ".join(HTML_PAYLOADS)[:120], "purpose": "\n".join(HTML_PAYLOADS)[:2000]}
REPORT_TAGS = frozenset({"style", "img"})


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory, models_tracking: Any) -> WebHome:
    root = tmp_path_factory.mktemp("web-hostile")
    return hostile_home(root, models_tracking.tracking_uri, models_tracking.artifact_root)


@pytest.fixture(scope="module")
def client(hostile: WebHome) -> Iterator[TestClient]:
    with TestClient(create_app(hostile.settings), raise_server_exceptions=False) as test_client:
        yield test_client


def plan_form_values(**changes: str) -> dict[str, str]:
    """The plan form's defaults as the browser sends them, with ``changes``."""
    prefilled = defaults(PlanningSettings())
    return {field.name: field.text(prefilled[field.name]) for field in PLAN_FIELDS} | changes


def overall_scores(home: WebHome) -> pl.DataFrame:
    snapshot = ScoreStore(home.settings.scores_dir).open(home.score_id)
    return snapshot.frame.filter(pl.col("risk_area") == OVERALL).sort("rank")


@pytest.fixture(scope="module")
def hostile_pages(client: TestClient, hostile: WebHome) -> dict[str, tuple[int, str]]:
    """Every page of the hostile world (label → status and HTML), planner signed in where it must be."""
    pages: dict[str, tuple[int, str]] = {}

    def get(label: str, url: str) -> None:
        response = client.get(url)
        pages[label] = (response.status_code, response.text)

    # Reflected before sign-in: the sign-in page's `next`, and the wrong-key page that keeps it.
    for number, payload in enumerate(QUERY_PAYLOADS):
        get(f"sign-in next {number}", f"/logga-in?next={quote('/' + payload, safe='')}")
    form = client.get("/logga-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    wrong = client.post(
        "/logga-in", data={"api_key": "tr_wrong", "next": "/" + HTML_PAYLOADS[0], "csrf_token": token}
    )
    pages["sign-in wrong key"] = (wrong.status_code, wrong.text)

    signed_in(client, hostile.keys["planner"])
    scores = overall_scores(hostile)
    get("Översikt", "/")
    for area in ScoreStore(hostile.settings.scores_dir).open(hostile.score_id).frame["risk_area"].unique():
        get(f"Kandidater {area}", f"/kandidater?risk_area={area}&per_page=100")
    get("Kandidater sorted by name", "/kandidater?sort=enhet&per_page=100")
    get("Kandidater sorted by provider", "/kandidater?sort=vardgivare&order=desc&per_page=100")
    for number, payload in enumerate(QUERY_PAYLOADS):
        get(f"Kandidater provider filter {number}", "/kandidater?" + urlencode({"provider": payload}))
        get(f"Kandidater unit type filter {number}", "/kandidater?" + urlencode({"unit_type": payload[:64]}))
        get(f"Kandidater risk area {number}", "/kandidater?" + urlencode({"risk_area": payload[:64]}))
        get(f"Kandidater risk area long {number}", "/kandidater?" + urlencode({"risk_area": payload * 3}))
        get(f"unknown page {number}", f"/kandidater/{quote(payload, safe='')}")
        get(f"unknown unit {number}", f"/enheter/{quote(payload, safe='')}")
        get(f"unknown provider {number}", f"/vardgivare/{quote(payload, safe='')}")
        get(f"unknown plan {number}", f"/planer/{quote(payload, safe='')}")
        get(f"plan form from query {number}", "/planera?" + urlencode(dict.fromkeys(NUMERIC_FIELDS, payload)))
    for unit_id in scores["unit_id"]:
        get(f"Enhet {unit_id}", f"/enheter/{unit_id}")
    for provider_id in scores["provider_id"].unique():
        get(f"Vårdgivare {provider_id}", f"/vardgivare/{provider_id}")

    # Planera: the form, its 422 page with every field hostile, a preview, the saved plan and the list.
    get("Planera", "/planera")
    csrf = csrf_of(client)
    for number, payload in enumerate(QUERY_PAYLOADS):
        refused = client.post(
            "/planera/forhandsgranska",
            data={"csrf_token": csrf} | dict.fromkeys([field.name for field in PLAN_FIELDS], payload),
        )
        pages[f"Planera 422 {number}"] = (refused.status_code, refused.text)
    values = plan_form_values(capacity="15", per_region="", max_per_provider="", cooldown_months="0")
    values |= HOSTILE_LABELS
    preview = client.post("/planera/forhandsgranska", data={"csrf_token": csrf} | values)
    pages["Planera preview"] = (preview.status_code, preview.text)
    saved = client.post("/planera/spara", data={"csrf_token": csrf} | values, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    get("saved plan", saved.headers["location"])
    get("Planera with saved plans", "/planera")
    get("Modell", "/modell")
    get("Modell report", "/modell/rapport")
    return pages


def test_no_page_turns_hostile_data_into_markup(hostile_pages: dict[str, tuple[int, str]]) -> None:
    # given every page of a world whose names, reasons, lineage and URLs carry HTML payloads
    # when each page is read as a browser would read it
    found = {
        label: injected_markup(html, REPORT_TAGS if label == "Modell report" else frozenset())
        for label, (_, html) in hostile_pages.items()
    }
    # then no element, attribute or link on any page came from the data
    injected = {label: items for label, items in found.items() if items}
    assert not injected, f"pages that turned data into markup: {injected}"


def test_no_payload_reaches_a_page_unescaped(hostile_pages: dict[str, tuple[int, str]]) -> None:
    # given every page of the hostile world
    # then no payload stands in a page as written, with its `<` intact
    raw = {
        label: [
            payload for payload in (*HTML_PAYLOADS, *QUERY_PAYLOADS) if "<" in payload and payload in html
        ]
        for label, (_, html) in hostile_pages.items()
    }
    assert not {label: items for label, items in raw.items() if items}, f"unescaped payloads: {raw}"


def test_no_page_answers_a_server_error(hostile_pages: dict[str, tuple[int, str]]) -> None:
    # given every page of the hostile world, then each is an answer the app meant (never a 500)
    statuses = {label: status for label, (status, _) in hostile_pages.items() if status >= 500}
    assert not statuses, f"server errors: {statuses}"


def test_hostile_names_are_shown_as_text(hostile_pages: dict[str, tuple[int, str]], hostile: WebHome) -> None:
    # given the candidate list, which names every unit and its provider
    status, html = hostile_pages["Kandidater sorted by name"]
    assert status == 200
    # then each HTML payload is on the page, escaped: it reached the page and is shown as text
    missing = [payload for payload in HTML_PAYLOADS if escape(payload) not in html]
    assert not missing, f"payloads not shown (escaped) on the candidate list: {missing}"
    # and template syntax in a name is shown as written, never evaluated
    assert "{{7*7}} {% if true %}mall{% endif %}" in html, "template syntax in a name was evaluated"
    # and the saved plan shows the hostile unit names it chose, escaped
    _, plan = hostile_pages["saved plan"]
    assert any(escape(payload) in plan for payload in HTML_PAYLOADS), "the saved plan shows no hostile name"
    # and the planner's hostile name and purpose are shown as written, escaped, on the plan and in the list
    assert escape(HOSTILE_LABELS["name"]) in plan, "the plan's name is not shown as text"
    assert escape(HTML_PAYLOADS[1]) in plan and escape(HTML_PAYLOADS[-1]) in plan, "the purpose is not shown"
    _, listed = hostile_pages["Planera with saved plans"]
    assert escape(HOSTILE_LABELS["name"]) in listed, "the list does not name the hostile plan as text"


def test_the_422_page_shows_every_hostile_field_back_as_text(
    hostile_pages: dict[str, tuple[int, str]],
) -> None:
    # given plan forms whose every field is a payload
    for number in range(len(QUERY_PAYLOADS)):
        status, html = hostile_pages[f"Planera 422 {number}"]
        # then each is refused with the form again (422), the values back in their fields as text
        assert status == 422, f"payload {number}: {status}"
        for name in NUMERIC_FIELDS:
            field = re.search(rf'<input id="{name}" name="{name}"[^>]*>', html, re.DOTALL)
            assert field is not None, f"payload {number}: the field {name} is not one input element"
            assert "aria-invalid" in field.group(0), f"payload {number}: {name} is not marked invalid"


def test_format_characters_in_names_never_reach_a_page(
    hostile_pages: dict[str, tuple[int, str]], hostile: WebHome
) -> None:
    # given pages showing names with bidi overrides, isolates, marks and zero-width characters
    # then no page carries one of those characters
    found = {label: format_characters_in(html) for label, (_, html) in hostile_pages.items()}
    assert not {label: chars for label, chars in found.items() if chars}, f"format characters: {found}"
    # and the unit with a right-to-left override is shown by its letters, in logical order and isolated
    unit_id = overall_scores(hostile)["unit_id"][0]
    _, html = hostile_pages[f"Enhet {unit_id}"]
    assert "<h1><bdi>Vårdcentral atsäB 0</bdi></h1>" in html, "the name is not shown as its letters, isolated"
    assert len(FORMAT_PAYLOADS) >= 5


def test_a_non_ascii_csrf_token_is_refused_like_a_wrong_one(client: TestClient, hostile: WebHome) -> None:
    # given a signed-in planner
    signed_in(client, hostile.keys["planner"])
    values = plan_form_values()
    for token in ("å" * 43, "\u202e", "токен", "\x00"):
        # when a form arrives with a token that is not ASCII
        preview = client.post("/planera/forhandsgranska", data={"csrf_token": token} | values)
        signout = client.post("/logga-ut", data={"csrf_token": token}, follow_redirects=False)
        # then it is refused as a wrong token is (403 page), never a server error
        assert preview.status_code == 403, f"{token!r}: {preview.status_code}"
        assert "säkerhetstoken" in preview.text
        assert signout.status_code == 403, f"{token!r}: sign-out answered {signout.status_code}"
    # and on the sign-in form as well
    anonymous = TestClient(client.app, raise_server_exceptions=False)
    anonymous.get("/logga-in")
    refused = anonymous.post("/logga-in", data={"api_key": "x", "next": "/", "csrf_token": "å" * 43})
    assert refused.status_code == 403, f"sign-in with a non-ASCII token answered {refused.status_code}"


def test_the_plan_form_lists_saved_plans_a_page_at_a_time(client: TestClient, hostile: WebHome) -> None:
    # given many stored plans (copies of one plan under new ids)
    signed_in(client, hostile.keys["planner"])
    csrf = csrf_of(client)
    values = plan_form_values(capacity="5", cooldown_months="0")
    client.post("/planera/spara", data={"csrf_token": csrf} | values, follow_redirects=False)
    store = PlanStore(hostile.settings.plans_dir)
    template = store.open(store.ids()[0])
    for number in range(60):
        store.save(
            template | {"plan_id": f"plan-{number:016x}", "created_at": f"2026-02-01T00:00:{number:02d}Z"}
        )
    newest = f"plan-{59:016x}"
    total = len(store.ids())
    # when the plan form is opened
    first = client.get("/planera")
    listed = re.findall(r'<a href="/planer/(plan-[0-9a-f]{16})">', first.text)
    # then it lists 25 plans, the newest saved first, says how many there are and links to the next page
    assert len(listed) == 25, f"{len(listed)} plans listed on one page"
    assert listed[0] == newest, f"the newest plan is not first: {listed[:3]}"
    assert f"av {total}" in first.text.replace("\u00a0", ""), f"the page does not say there are {total} plans"
    assert 'href="/planera?sida=2#sparade-rubrik"' in first.text
    # and the last page holds the rest; a page past the end or not a number shows a real page
    pages = -(-total // 25)
    last = client.get(f"/planera?sida={pages}")
    rest = re.findall(r'<a href="/planer/(plan-[0-9a-f]{16})">', last.text)
    assert len(rest) == total - 25 * (pages - 1) and not set(rest) & set(listed)
    for raw in ("999999999", "0", "-1", "x", "٣", "1" * 5000):
        response = client.get(f"/planera?sida={quote(raw)}")
        assert response.status_code == 200, f"sida={raw[:20]!r}: {response.status_code}"


# --- in Chromium --------------------------------------------------------------------------------------

INJECTED_IN_DOM = """(report) => {
  const selectors = ['[data-pwn]', 'meta[http-equiv]', 'iframe', 'base', 'object', 'embed', 'frame',
                     'form[action^="http"]', 'script:not([src="/static/app.js"])'];
  if (!report) { selectors.push('img', 'style'); }
  const found = Array.from(document.querySelectorAll(selectors.join(',')))
    .map(e => e.outerHTML.slice(0, 160));
  for (const element of document.querySelectorAll('*')) {
    for (const attribute of element.attributes) {
      if (attribute.name.startsWith('on')) { found.push(element.outerHTML.slice(0, 160)); }
    }
  }
  for (const link of document.querySelectorAll('a[href]')) {
    if (link.protocol === 'javascript:' || link.origin !== location.origin) {
      found.push(link.outerHTML.slice(0, 160));
    }
  }
  return {found: found, title: document.title};
}"""


@pytest.mark.slow
def test_hostile_world_in_chromium_builds_no_element_and_goes_nowhere(browser: Any, hostile: WebHome) -> None:
    # given the hostile world served over HTTP and a planner in Chromium, every request off the site
    # blocked and recorded, every dialog recorded
    scores = overall_scores(hostile)
    with LiveServer(hostile.settings) as server:
        context = browser.new_context(base_url=server.url, locale="sv-SE")
        context.set_default_timeout(15_000)
        off_site: list[str] = []
        dialogs: list[str] = []

        def route(request_route: Any) -> None:
            if request_route.request.url.startswith(server.url):
                request_route.continue_()
            else:
                off_site.append(request_route.request.url)
                request_route.abort()

        context.route("**/*", route)
        page = context.new_page()
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        problems: dict[str, Any] = {}

        def visited(label: str, *, report: bool = False) -> None:
            where = page.url
            page.wait_for_timeout(300)  # a meta refresh of 0 s would have fired by now
            result = page.evaluate(INJECTED_IN_DOM, report)
            if result["found"] or result["title"] == "pwned" or page.url != where:
                problems[label] = {"found": result["found"], "title": result["title"], "url": page.url}

        # when a visitor follows hostile sign-in links
        for number, payload in enumerate(QUERY_PAYLOADS):
            page.goto(f"/logga-in?next={quote('/' + payload, safe='')}")
            visited(f"sign-in next {number}")
        # and signs in, and reads every kind of page
        page.goto("/logga-in")
        page.get_by_label("API-nyckel").fill(hostile.keys["planner"])
        page.get_by_role("button", name="Logga in").click()
        page.wait_for_load_state()
        urls = {
            "Översikt": "/",
            "Kandidater by name": "/kandidater?sort=enhet&per_page=100",
            "Kandidater by provider": "/kandidater?sort=vardgivare&per_page=100",
            "Modell": "/modell",
            "Planera": "/planera",
        }
        for number, payload in enumerate(QUERY_PAYLOADS):
            urls[f"provider filter {number}"] = "/kandidater?" + urlencode({"provider": payload})
            urls[f"risk area {number}"] = "/kandidater?" + urlencode({"risk_area": payload[:64]})
            urls[f"unknown page {number}"] = f"/kandidater/{quote(payload, safe='')}"
        for unit_id in scores["unit_id"][:16]:
            urls[f"Enhet {unit_id}"] = f"/enheter/{unit_id}"
        for provider_id in scores["provider_id"].unique()[:12]:
            urls[f"Vårdgivare {provider_id}"] = f"/vardgivare/{provider_id}"
        for label, url in urls.items():
            page.goto(url)
            visited(label)
        page.goto("/modell/rapport")
        visited("Modell report", report=True)
        assert not problems, f"pages where data became markup or moved the page: {problems}"

        # and fills every field of the plan form with a payload (the 422 page), then plans and saves
        page.goto("/planera")
        for name in NUMERIC_FIELDS:
            page.locator(f"#{name}").fill(HTML_PAYLOADS[0])
        page.get_by_role("button", name="Förhandsgranska").click()
        page.wait_for_load_state()
        visited("Planera 422")
        for name, value in plan_form_values(capacity="15", per_region="", cooldown_months="0").items():
            if name in NUMERIC_FIELDS:
                page.locator(f"#{name}").fill(value)
        page.get_by_role("button", name="Förhandsgranska").click()
        page.wait_for_load_state()
        visited("Planera preview")
        page.get_by_role("button", name="Spara planen").click()
        page.wait_for_load_state()
        assert "/planer/plan-" in page.url, f"the plan was not saved: {page.url}"
        visited("saved plan")
        context.close()

    # then no page built an element from the data, ran a handler, showed a dialog or went anywhere
    assert not problems, f"pages where data became markup or moved the page: {problems}"
    assert not dialogs, f"dialogs opened by data: {dialogs}"
    assert not off_site, f"requests off the site: {off_site[:5]}"


# --- the helpers behind the pages -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Vårdcentral \u202eatsäB\u202c", "Vårdcentral atsäB"),
        ("\u2066Hälsan\u2069 \u2067Norr\u2069", "Hälsan Norr"),
        ("Läkar\u200bhuset\u200e\u200f\u200d\u200c", "Läkarhuset"),
        ("Familje\u00adläkarna\u2060\u2062\ufeff\U000e0041", "Familjeläkarna"),
        ("Vårdcentralen Å\u030angermanland", "Vårdcentralen Å\u030angermanland"),  # combining ring kept
        ("مركز صحي", "مركز صحي"),  # right-to-left letters are kept; only the invisible controls go
        ("plain ASCII <b>", "plain ASCII <b>"),
    ],
    ids=[
        "override",
        "isolates",
        "zero-width and marks",
        "soft hyphen, joiner, bom, tag",
        "combining",
        "arabic",
        "ascii",
    ],
)
def test_format_characters_are_removed_and_letters_kept(text: str, expected: str) -> None:
    from api.web.format import without_format_characters

    # when a text is prepared for a page, then only its format characters are gone
    assert without_format_characters(text) == expected


def test_markup_stays_markup_without_its_format_characters() -> None:
    from markupsafe import Markup

    from api.web.format import shown

    # given a chart (markup built from escaped parts) whose title carried an override
    chart = Markup("<svg><title>Region \u202eX</title></svg>")
    # when a template shows it, then it is still markup, without the override
    result = shown(chart)
    assert isinstance(result, Markup) and str(result) == "<svg><title>Region X</title></svg>"
    assert shown(42) == 42


def test_charts_show_hostile_labels_as_text() -> None:
    import datetime as dt

    from api.web.charts import Series, bar_chart, line_chart

    # given charts whose title, description, series names, threshold label and bar labels are payloads
    points = [(dt.date(2025, month, 1), 0.1 * month) for month in range(1, 7)]
    charts = [
        line_chart(
            HTML_PAYLOADS[1],
            HTML_PAYLOADS[0],
            [Series(HTML_PAYLOADS[2], points), Series(HTML_PAYLOADS[4], points)],
            threshold=0.5,
            threshold_label=HTML_PAYLOADS[3],
        ),
        bar_chart(HTML_PAYLOADS[1], HTML_PAYLOADS[0], list(HTML_PAYLOADS[:6]), [1, 2, 3, 4, 5, 6]),
        line_chart(HTML_PAYLOADS[8], HTML_PAYLOADS[9], []),
    ]
    # then the charts carry them as text only
    for chart in charts:
        assert not injected_markup(str(chart)), injected_markup(str(chart))
