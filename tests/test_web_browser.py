"""The planners' pages in a real browser: headless Chromium driven by Playwright.

One server and one browser per session. The tests sign in, filter candidates, open a unit and its
provider, build, preview, save and download a plan, read the model page and sign out; a key without
``write:plans`` cannot save and a form without its CSRF token is refused. Every page is checked with
axe-core (no serious or critical violation), must declare ``lang="sv"`` and is screenshotted at
1366×768 into ``var/screenshots/`` for a reviewer (and the whole page, scrolled, next to it).

The browser is not optional: without a Chromium these tests fail (``make test`` provides one).
"""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.contract import REGIONS
from tests.web_support import LiveServer, WebHome

SCREENSHOTS = Path(__file__).resolve().parents[1] / "var" / "screenshots"
VIEWPORT = {"width": 1366, "height": 768}
BLOCKING_IMPACTS = ("serious", "critical")


@pytest.fixture(scope="session")
def server(web_home: WebHome) -> Iterator[LiveServer]:
    with LiveServer(web_home.settings) as live:
        yield live


@pytest.fixture
def page(browser: Any, server: LiveServer) -> Iterator[Any]:
    context = browser.new_context(
        viewport=VIEWPORT, base_url=server.url, accept_downloads=True, locale="sv-SE"
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def sign_in(page: Any, key: str, next_path: str = "/") -> None:
    page.goto(f"/logga-in?next={next_path}")
    page.get_by_label("API-nyckel").fill(key)
    # Wait for the form's own navigation: load_state alone can return on the sign-in page before the
    # POST answers, and the next goto then races the session cookie.
    with page.expect_navigation():
        page.get_by_role("button", name="Logga in").click()
    page.wait_for_load_state()


def checked(page: Any, name: str) -> None:
    """Screenshot ``page`` as ``name`` and assert it is Swedish and has no serious axe violation."""
    from axe_playwright_python.sync_playwright import Axe

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-hela-sidan.png"), full_page=True)
    assert page.locator("html").get_attribute("lang") == "sv", f"{name}: the page language must be sv"
    violations = Axe().run(page).response["violations"]
    blocking = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in violations
        if v["impact"] in BLOCKING_IMPACTS
    ]
    assert not blocking, f"{name}: axe found serious/critical violations: {blocking}"


def test_planner_signs_in_filters_opens_a_unit_plans_downloads_and_signs_out(
    page: Any, web_home: WebHome
) -> None:
    # Given the sign-in page
    page.goto("/")
    assert page.url.endswith("/logga-in"), "an anonymous visitor is sent to the sign-in page"
    checked(page, "01-logga-in")

    # When the planner signs in with the key
    sign_in(page, web_home.keys["planner"])

    # Then the overview shows the scoring snapshot in force
    assert page.get_by_role("heading", name="Översikt").is_visible()
    assert web_home.score_id in page.content()
    assert web_home.keys["planner"] not in page.url
    checked(page, "02-oversikt")

    # When they open the candidates and filter on a region
    page.get_by_role("navigation", name="Huvudmeny").get_by_role("link", name="Kandidater").click()
    region = page.get_by_label("Region").locator("option").nth(1)
    region_name, region_code = region.inner_text(), region.get_attribute("value")
    page.get_by_label("Region").select_option(region_code)
    page.get_by_label("Visa enheter i karenstid").check()  # a small region's units may all be in karenstid
    page.get_by_role("button", name="Visa").click()
    page.wait_for_load_state()

    # Then the URL carries the filter (shareable) and every row is in that region
    assert f"region={region_code}" in page.url
    cells = page.locator("table.candidates tbody tr td:nth-child(3)").all_inner_texts()
    assert cells and set(cells) == {region_name}, f"rows outside {region_name}: {set(cells)}"
    assert re.search(r"\d+\u00a0%", page.locator("table.candidates tbody").inner_text()), "percentages shown"
    checked(page, "03-kandidater")

    # When they sort by unit name, the order follows the names
    page.get_by_role("link", name=re.compile("^Enhet")).click()
    page.wait_for_load_state()
    assert "sort=enhet" in page.url and f"region={region_code}" in page.url
    names = page.locator("table.candidates tbody tr td:nth-child(2) a").all_inner_texts()
    assert names == sorted(names)

    # When they open a unit
    page.locator("table.candidates tbody tr td:nth-child(2) a").first.click()
    page.wait_for_load_state()
    assert "/enheter/" in page.url
    assert page.get_by_role("heading", name="Risk per område").is_visible()
    assert page.locator("svg.chart").count() >= 2, "indicator and event charts are drawn"
    assert page.locator("details summary", has_text="tabell").count() >= 2, "each chart has a table"
    checked(page, "04-enhet")

    # And its provider
    page.locator("dl.facts a[href^='/vardgivare/']").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Per riskområde").is_visible()
    checked(page, "05-vardgivare")

    # When they build a plan and preview it
    page.get_by_role("navigation", name="Huvudmeny").get_by_role("link", name="Planera").click()
    checked(page, "06-planera")
    page.get_by_label("Planens namn (valfritt)").fill("Vårens tillsyn")
    page.get_by_label("Syfte (valfritt)").fill("Uppföljning av tillgänglighet.\nAndra raden.")
    page.get_by_label("Antal inspektioner").fill("8")
    page.get_by_label("Högst per region").fill("2")
    page.get_by_label("Karenstid (månader)").fill("0")
    stored_before = set(web_home.settings.plans_dir.glob("*.json"))
    page.get_by_role("button", name="Förhandsgranska").click()
    page.wait_for_load_state()

    # Then the preview lists chosen units with reasons and says nothing is saved yet
    assert page.get_by_role("heading", name="Förhandsgranskning av planen").is_visible()
    assert page.locator("h2:has-text('Valda enheter') + div tbody tr").count() == 8
    assert "inte sparad" in page.content()
    assert set(web_home.settings.plans_dir.glob("*.json")) == stored_before, "a preview stores nothing"
    checked(page, "07-forhandsgranskning")

    # When they save it
    page.get_by_role("button", name="Spara planen").click()
    page.wait_for_load_state()
    assert re.search(r"/planer/plan-[0-9a-f]{16}", page.url)
    plan_id = re.search(r"plan-[0-9a-f]{16}", page.url).group(0)  # type: ignore[union-attr]
    assert (web_home.settings.plans_dir / f"{plan_id}.json").exists()
    assert page.get_by_role("heading", name=re.compile("^Vårens tillsyn")).is_visible(), "the plan's name"
    assert "Andra raden." in page.locator("dl.facts").inner_text() and "Hela landet" in page.content()
    assert page.locator("td.plan-reasons").count() == 8, "every chosen unit has its reasons"
    # No table is cut either: each fits its wrapper (widths of those that do not, to say which column).
    overflowing = (
        "() => [...document.querySelectorAll('.table-wrap')].filter(e => e.scrollWidth > e.clientWidth)"
        ".map(e => [e.scrollWidth, e.clientWidth,"
        " [...e.querySelectorAll('thead th')].map(t => t.offsetWidth)])"
    )
    assert not scrolls_sideways(page) and not page.evaluate(overflowing), page.evaluate(overflowing)
    checked(page, "08-plan")

    # Then both downloads open as Swedish Excel / inspections.csv
    with page.expect_download() as download:
        page.get_by_role("link", name="Ladda ner planen (CSV för Excel)").click()
    raw = Path(download.value.path()).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM"
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:3] == ["Nr", "HSA-id", "Enhet"] and len(rows) == 9
    assert re.fullmatch(r"0,\d{4}", rows[1][10]), f"decimal comma: {rows[1][10]!r}"
    assert rows[0][-1] == "Främsta skäl" and all(row[-1] for row in rows[1:]), "a reasons column, filled"
    assert all(re.fullmatch(r"\d{2} \S.*", row[5]) for row in rows[1:]), "region as code and name"
    with page.expect_download() as download:
        page.get_by_role("link", name="Ladda ner inspections.csv-rader").click()
    text = Path(download.value.path()).read_bytes().decode("utf-8-sig")
    assert text.splitlines()[0].startswith("inspection_id;unit_id;start_date")

    # And the model page explains the evaluation in words
    page.get_by_role("navigation", name="Huvudmeny").get_by_role("link", name="Modell").click()
    assert page.get_by_role("heading", name="Hur träffsäker är modellen?").is_visible()
    assert "Troligen mellan" in page.content()
    checked(page, "09-modell")

    # And the saved plan is listed by its name
    page.get_by_role("navigation", name="Huvudmeny").get_by_role("link", name="Planera").click()
    assert (
        page.locator("#sparade-rubrik + p + div table").get_by_role("link", name="Vårens tillsyn").count()
        == 1
    )

    # When they sign out, the pages need a sign-in again
    page.get_by_role("button", name="Logga ut").click()
    page.wait_for_load_state()
    assert "/logga-in" in page.url
    page.goto("/kandidater")
    assert "/logga-in" in page.url


def test_a_key_without_write_plans_sees_no_plan_form_and_cannot_save(page: Any, web_home: WebHome) -> None:
    # Given a reader (no write:plans) signed in
    sign_in(page, web_home.keys["reader"], "/planera")
    before = set(web_home.settings.plans_dir.glob("*.json"))

    # Then the plan page has no form to save with
    assert page.get_by_role("button", name="Förhandsgranska").count() == 0
    assert "write:plans" in page.content()

    # When the reader posts a plan anyway, with the session's own CSRF token
    token = page.locator("form.signout input[name=csrf_token]").get_attribute("value")
    response = page.request.post(
        "/planera/spara", form={"csrf_token": token, "capacity": "5", "seed": "1", "risk_area": "overall",
                                "exploration": "0", "cooldown_months": "0"},
    )  # fmt: skip

    # Then it is refused and nothing is stored
    assert response.status == 403
    assert "write:plans" in response.text()
    assert set(web_home.settings.plans_dir.glob("*.json")) == before


def test_a_form_without_its_csrf_token_is_refused(page: Any, web_home: WebHome) -> None:
    # Given a planner signed in
    sign_in(page, web_home.keys["planner"], "/planera")
    before = set(web_home.settings.plans_dir.glob("*.json"))

    # When a plan is posted without the CSRF token (as a forged cross-site form would)
    form = {"capacity": "3", "seed": "99", "risk_area": "overall", "exploration": "0", "cooldown_months": "0"}
    response = page.request.post("/planera/spara", form=form)

    # Then it is refused and no plan is stored; with a wrong token too
    assert response.status == 403
    assert "CSRF" in response.text()
    wrong = page.request.post("/planera/spara", form=form | {"csrf_token": "x" * 43})
    assert wrong.status == 403
    assert set(web_home.settings.plans_dir.glob("*.json")) == before


def test_every_main_control_is_reachable_by_keyboard(page: Any, web_home: WebHome) -> None:
    # Given the candidates page
    sign_in(page, web_home.keys["planner"], "/kandidater")

    # When the planner tabs through it
    reached = []
    for _ in range(40):
        page.keyboard.press("Tab")
        reached.append(
            page.evaluate(
                "() => { const e = document.activeElement;"
                " return (e.id || e.getAttribute('name') || e.textContent || '').trim().slice(0, 40); }"
            )
        )

    # Then the skip link comes first and the navigation, filters and submit button are all reached in order
    assert reached[0] == "Hoppa till innehållet"
    expected = ["Översikt", "Kandidater", "Planera", "Modell", "Logga ut", "risk_area", "region",
                "municipality", "ownership", "unit_type", "provider", "per_page", "Visa"]  # fmt: skip
    positions = [reached.index(name) for name in expected if name in reached]
    assert len(positions) == len(expected), f"not reached by Tab: {set(expected) - set(reached)}"
    assert positions == sorted(positions), f"tab order differs: {reached}"

    # And the skip link moves focus to the content
    page.keyboard.press("Shift+Tab")
    page.goto("/kandidater")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "innehall"


def scrolls_sideways(page: Any) -> bool:
    return bool(
        page.evaluate("() => document.documentElement.scrollWidth > document.documentElement.clientWidth")
    )


def test_overview_shows_change_regions_and_freshness_and_passes_axe(page: Any, web_home: WebHome) -> None:
    # Given a planner signed in, when the overview opens
    sign_in(page, web_home.keys["planner"])
    # Then it compares with the previous scoring, draws the regions with a table, and dates every source
    assert page.get_by_role("heading", name="Förändring sedan förra riskbedömningen").is_visible()
    assert page.get_by_role("table", name=re.compile("nya och borta")).is_visible()
    assert page.locator("svg.chart").count() == 1, "the regions' chart is drawn"
    assert page.get_by_role("heading", name="Datans färskhet").is_visible()
    assert not scrolls_sideways(page), "the overview scrolls sideways at 1366 px"
    checked(page, "10-oversikt-forandring")


def test_candidates_hide_karenstid_show_names_and_export_what_is_filtered(
    page: Any, web_home: WebHome
) -> None:
    # Given the candidate list, every unit on one page
    sign_in(page, web_home.keys["planner"], "/kandidater?per_page=100")
    hidden = page.locator("#dolda")
    assert hidden.is_visible() and "i karenstid visas inte" in hidden.inner_text()
    assert page.locator("table.candidates .tag", has_text="Karenstid").count() == 0
    kommuner = page.locator("table.candidates tbody td:nth-child(4)").all_inner_texts()
    assert kommuner and not any(re.fullmatch(r"\d{4}", k) for k in kommuner), "kommun names, not codes"
    assert not scrolls_sideways(page), "the candidate list scrolls sideways at 1366 px"
    checked(page, "11-kandidater-karenstid")

    # When the list is downloaded, it has every row the page counts
    total = int(page.locator("#antal strong").inner_text().replace("\u00a0", ""))
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("Ladda ned listan som CSV")).click()
    raw = Path(download.value.path()).read_bytes()
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert raw.startswith(b"\xef\xbb\xbf") and len(rows) == total + 1, f"{len(rows) - 1} rows, {total} listed"

    # When they choose to see units in karenstid, with the checkbox, they are listed and tagged
    page.get_by_label("Visa enheter i karenstid").check()
    page.get_by_role("button", name="Visa").click()
    page.wait_for_load_state()
    assert "cooldown=show" in page.url
    assert page.locator("table.candidates .tag", has_text="Karenstid").count() > 0
    assert not scrolls_sideways(page), "the list with karenstid tags scrolls sideways at 1366 px"


def test_the_candidate_list_is_usable_on_a_phone(browser: Any, server: Any, web_home: WebHome) -> None:
    # Given a 390 px wide phone
    context = browser.new_context(viewport={"width": 390, "height": 844}, base_url=server.url, locale="sv-SE")
    context.set_default_timeout(10_000)
    phone = context.new_page()
    try:
        sign_in(phone, web_home.keys["planner"], "/kandidater?cooldown=show")
        # Then the page is no wider than the screen and a unit reads as a card with labels
        width = phone.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390, f"the page is {width} px wide on a 390 px screen"
        first = phone.locator("table.candidates tbody tr").first
        assert first.is_visible() and first.bounding_box()["width"] <= 390  # type: ignore[index]
        label = first.locator("td").nth(2).evaluate("e => getComputedStyle(e, '::before').content")
        assert "Region" in label, f"a card's cells carry their column's name (got {label!r})"
        checked(phone, "12-kandidater-390px")
        # And the filter works with touch-size controls
        phone.get_by_label("Region").select_option(index=1)
        phone.get_by_role("button", name="Visa").click()
        phone.wait_for_load_state()
        assert "region=" in phone.url
        assert phone.evaluate("() => document.documentElement.scrollWidth") <= 390
    finally:
        context.close()


def busiest_region(web_home: WebHome) -> str:
    """The region with the most scored units (a plan limited to it has units to choose)."""
    import polars as pl

    from engine.scores import ScoreStore

    frame = ScoreStore(web_home.settings.scores_dir).open().frame.filter(pl.col("risk_area") == "overall")
    counts = frame.group_by("region_code").len().sort("len", "region_code", descending=True)
    return str(counts["region_code"][0])


def test_a_plan_limited_to_a_region_is_made_on_a_phone_and_a_random_floor_is_named(
    browser: Any, server: Any, web_home: WebHome
) -> None:
    # Given a 390 px wide phone on the plan form
    context = browser.new_context(viewport={"width": 390, "height": 844}, base_url=server.url, locale="sv-SE")
    context.set_default_timeout(10_000)
    phone = context.new_page()
    try:
        sign_in(phone, web_home.keys["planner"], "/planera")
        assert phone.evaluate("() => document.documentElement.scrollWidth") <= 390, "the form is too wide"
        checked(phone, "20-planera-390px")
        # When the planner limits the plan to the region with most units and names it
        region = busiest_region(web_home)
        phone.locator(f"#regions-{region}").check()
        phone.get_by_label("Planens namn (valfritt)").fill("Regionens plan")
        phone.get_by_label("Antal inspektioner").fill("4")
        phone.get_by_label("Högst per region").fill("")
        phone.get_by_label("Karenstid (månader)").fill("0")
        phone.get_by_role("button", name="Förhandsgranska").click()
        phone.wait_for_load_state()
        # Then every chosen unit is in that region, and the preview names the area
        assert phone.get_by_role("heading", name="Förhandsgranskning av planen").is_visible()
        regions = phone.locator(
            "h2:has-text('Valda enheter') + div tbody tr td:nth-child(3)"
        ).all_inner_texts()
        assert regions and all(text.startswith(REGIONS[region]) for text in regions), regions
        assert f"Region {REGIONS[region]}" in phone.locator("dl.facts").inner_text()
        assert phone.evaluate("() => document.documentElement.scrollWidth") <= 390, "the preview is too wide"
        card = phone.locator("h2:has-text('Valda enheter') + div tbody tr").first.bounding_box()
        assert card is not None and card["width"] <= 390, f"a chosen unit is not a card on the phone: {card}"
        checked(phone, "21-forhandsgranskning-region-390px")
        # When they go back and ask for a pps floor of 100 %
        phone.get_by_role("link", name="Ändra").click()
        phone.wait_for_load_state()
        assert phone.locator(f"#regions-{region}").is_checked(), "the area is kept when changing the plan"
        phone.get_by_label("Urvalsmetod").select_option("pps")
        phone.get_by_label("Golv: lägsta urvalssannolikhet (%)").fill("100")
        phone.get_by_role("button", name="Förhandsgranska").click()
        phone.wait_for_load_state()
        # Then the preview says the plan is random and which floor still follows risk
        notice = phone.locator("p.notice", has_text="slumpvis urval").inner_text()
        assert "Det högsta golv som fortfarande följer risken är" in notice, notice
        checked(phone, "22-slumpvis-golv-390px")
    finally:
        context.close()


def test_glossary_and_error_pages_are_swedish_navigable_and_pass_axe(page: Any, web_home: WebHome) -> None:
    # Given a visitor who is not signed in, a mistyped address is a Swedish page with a way on
    response = page.goto("/oversikt")
    assert response.status == 404
    assert page.get_by_role("heading", name="Sidan finns inte").is_visible()
    assert page.get_by_role("link", name="Logga in").is_visible()
    checked(page, "13-404-utloggad")

    # The glossary is open to anyone
    page.goto("/ordlista")
    assert page.get_by_role("heading", name="Ordlista").is_visible()
    assert page.locator("#karenstid").is_visible()
    checked(page, "14-ordlista")

    # Signed in, the 404 page keeps the menu and does not offer to sign in
    sign_in(page, web_home.keys["planner"])
    response = page.goto("/enhet/SE2321000016-XYZ")
    assert response.status == 404
    assert page.get_by_role("navigation", name="Huvudmeny").is_visible()
    assert page.get_by_role("link", name="Logga in").count() == 0
    assert not scrolls_sideways(page)
    checked(page, "15-404-inloggad")


def test_a_page_outside_the_keys_scopes_is_a_swedish_403_page(page: Any, web_home: WebHome) -> None:
    from api.security import ApiKeyStore

    # Given a key that may read candidates but not the model
    store = ApiKeyStore(web_home.settings.api_keys_db)
    key = store.create("bara-kandidater-i-webblasaren", frozenset({"read:candidates"}))[1]
    store.close()
    # The server sees a key created by another process within its store's refresh interval (1 s).
    time.sleep(store.refresh_seconds + 0.2)
    sign_in(page, key)
    # When it opens the Modell page, then the answer is a Swedish 403 page with the menu it may use
    response = page.goto("/modell")
    assert response.status == 403
    assert page.get_by_role("heading", name="Behörighet saknas").is_visible()
    assert page.get_by_role("navigation", name="Huvudmeny").get_by_role("link", name="Modell").count() == 0
    checked(page, "16-403")


def test_no_page_scrolls_sideways_at_1366_px(page: Any, web_home: WebHome) -> None:
    sign_in(page, web_home.keys["planner"])
    unit = web_home.unit_ids[0]
    for path in ("/", "/kandidater", "/kandidater?cooldown=show&per_page=100", "/kandidater?risk_area="
                 + web_home.settings.load_config().risk_area_ids[0], f"/enheter/{unit}", "/planera",
                 "/modell", "/ordlista", "/finns-inte"):  # fmt: skip
        page.goto(path)
        assert not scrolls_sideways(page), f"{path} scrolls sideways at 1366 px"


def unit_reporting_every_source(web_home: WebHome) -> tuple[str, set[str]]:
    """A unit of the snapshot with rows in every indicator source, and the measures it reports."""
    from engine.snapshots import SnapshotStore

    config = web_home.settings.load_config()
    tables = SnapshotStore(web_home.settings.snapshots_dir).open().tables()
    rows = [
        tables[source.file].select("unit_id", "measure").unique().collect()
        for source in config.indicator_sources.values()
    ]
    reporting = set(web_home.unit_ids)
    for frame in rows:
        reporting &= set(frame["unit_id"].to_list())
    assert reporting, "no unit reports to every indicator source"
    unit_id = sorted(reporting)[0]
    return unit_id, {m for frame in rows for m in frame.filter(unit_id=unit_id)["measure"].to_list()}


def test_unit_model_and_report_pages_draw_every_chart_they_promise(page: Any, web_home: WebHome) -> None:
    # Given a planner and a unit that reports monthly shares, a quarterly survey, the biennial national
    # survey and the yearly core indicators
    from api.web.indicator_charts import is_share

    unit_id, reported = unit_reporting_every_source(web_home)
    sign_in(page, web_home.keys["planner"], f"/enheter/{unit_id}")
    measures = {
        key: measure
        for source in web_home.settings.load_config().indicator_sources.values()
        for key, measure in source.measures.items()
    }

    # When the unit page is shown, every measure it reports has a drawn series, a filled table and its scale
    blocks = page.locator("section.chart-block")
    assert blocks.count() == len(reported), f"{blocks.count()} indicator charts for {len(reported)} measures"
    for key in reported:
        block = page.locator("section.chart-block", has=page.locator(f"h3#ind-{key}"))
        title = block.locator("h3").inner_text()
        assert block.locator("svg.chart polyline, svg.chart circle").count() > 0, f"{title}: an empty chart"
        block.locator("summary").click()
        cells = block.locator("tbody td").all_inner_texts()
        assert any(cell != "–" for cell in cells), f"{title}: a table of dashes"
        scale = "procent" if is_share(measures[key]) else measures[key].unit_sv
        assert block.locator("p.help").inner_text() == f"Skala: {scale}.", f"{title}: on the wrong scale"
    assert "0 av de senaste 1" not in page.content()
    assert not scrolls_sideways(page), "the unit page scrolls sideways at 1366 px"
    checked(page, "17-enhet-alla-indikatorer")

    # When the Modell page is shown, each evaluated area has its chart
    page.goto("/modell")
    charts = page.locator("section.eval svg.chart").count()
    assert charts == page.locator("section.eval").count() > 0, "one chart per evaluated area"
    assert not scrolls_sideways(page), "the Modell page scrolls sideways at 1366 px"
    checked(page, "18-modell-diagram")

    # And the HTML report opens from it, in Swedish, without serious violations
    page.get_by_role("link", name=re.compile("utvärderingsrapporten")).click()
    page.wait_for_load_state()
    assert page.locator("h2", has_text="Vad som väger tyngst").count() == 1
    assert not scrolls_sideways(page), "the report scrolls sideways at 1366 px"
    checked(page, "19-modellrapport")
