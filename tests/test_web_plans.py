"""Planera without a browser: a named plan limited to an area, its random-plan warning, its page and files."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterator

import polars as pl
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from engine.contract import REGIONS
from engine.places import municipality_name
from engine.scores import OVERALL, ScoreStore
from tests.web_support import WebHome, csrf_of, signed_in

PLAN_FORM = {
    "risk_area": "overall",
    "capacity": "6",
    "per_region": "",
    "max_per_provider": "",
    "exploration": "15",
    "design": "top",
    "floor": "0",
    "cooldown_months": "0",
    "seed": "7",
}


@pytest.fixture
def client(web_home: WebHome) -> Iterator[TestClient]:
    with TestClient(create_app(web_home.settings), raise_server_exceptions=False) as test_client:
        signed_in(test_client, web_home.keys["planner"])
        yield test_client


def _units(web_home: WebHome) -> pl.DataFrame:
    frame = ScoreStore(web_home.settings.scores_dir).open().frame
    return frame.filter(pl.col("risk_area") == OVERALL)


def _busiest_region(web_home: WebHome) -> str:
    counts = _units(web_home).group_by("region_code").len().sort("len", "region_code", descending=True)
    return str(counts["region_code"][0])


def _fields(page: str) -> list[tuple[str, str]]:
    """The hidden fields of the preview's save form, in order."""
    form = page[page.index('action="/planera/spara"') :]
    form = form[: form.index("</form>")]
    found = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form)
    return [(name, html.unescape(value)) for name, value in found]


def test_the_plan_form_offers_a_name_a_purpose_and_regions_and_kommuner_by_name(client: TestClient) -> None:
    # When the planner opens Planera
    page = client.get("/planera").text
    # Then the form has a one-line name, a purpose text, the 21 regions as checkboxes and kommuner by name
    assert '<input id="name" name="name" type="text" maxlength="120"' in page
    assert '<textarea id="purpose" name="purpose"' in page
    assert page.count('type="checkbox" id="regions-') == len(REGIONS), "not every region is offered"
    assert '<option value="0380">Uppsala</option>' in page, "kommuner are not offered by name"
    assert '<optgroup label="Stockholm">' in page


def test_a_named_plan_limited_to_a_region_is_previewed_saved_listed_and_downloaded_with_names(
    client: TestClient, web_home: WebHome
) -> None:
    # Given a region with units and a name and purpose for the plan
    region = _busiest_region(web_home)
    labels = {"name": "Vårens plan <b>", "purpose": "Uppföljning av\nklagomål i regionen."}
    values = PLAN_FORM | labels | {"regions": region, "csrf_token": csrf_of(client)}
    # When the plan is previewed
    preview = client.post("/planera/forhandsgranska", data=values)
    # Then the preview shows the name, the purpose and the area, and chooses only units in the region
    assert preview.status_code == 200, preview.text[:500]
    assert "Vårens plan &lt;b&gt;" in preview.text and "<b>" not in preview.text.split("<main")[1]
    assert f"Region {REGIONS[region]}" in preview.text
    hidden = _fields(preview.text)
    assert ("regions", region) in hidden and ("name", labels["name"]) in hidden, hidden
    # When it is saved (from the preview's own fields)
    form: dict[str, list[str]] = {}
    for name, value in hidden:
        form.setdefault(name, []).append(value)
    saved = client.post("/planera/spara", data=form)
    assert saved.status_code == 200 and "/planer/plan-" in str(saved.url), saved.text[:300]
    plan_id = str(saved.url).split("/planer/")[1].split("?")[0]
    # Then the saved plan page and the list show the name, the purpose and the area
    assert "Vårens plan &lt;b&gt;" in saved.text and "Uppföljning av\nklagomål" in saved.text
    listed = client.get("/planera").text
    assert f'href="/planer/{plan_id}"><bdi>Vårens plan &lt;b&gt;</bdi>' in listed, "the list lacks the name"
    assert f"Region {REGIONS[region]}" in listed
    # And the plan's CSV carries region and kommun names and the units' reasons
    text = client.get(f"/planer/{plan_id}/plan.csv").text
    header, *rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert header[-1] == "Främsta skäl", header
    assert rows and all(row[5] == f"{region} {REGIONS[region]}" for row in rows), [row[5] for row in rows]
    kommun = rows[0][6].split(" ", 1)
    assert kommun[1] == municipality_name(kommun[0]) != kommun[0], "the kommun cell lacks the name"
    assert all(row[-1] for row in rows), "a chosen unit has no reasons cell"


def test_an_unknown_region_in_the_form_is_an_error_on_that_field(client: TestClient) -> None:
    values = PLAN_FORM | {"regions": "99", "csrf_token": csrf_of(client)}
    page = client.post("/planera/forhandsgranska", data=values)
    assert page.status_code == 422
    assert '<a href="#regions">Välj regioner i listan.</a>' in page.text, (
        "the error is not on the regions field"
    )


def test_a_personnummer_in_the_plan_name_is_refused_without_echoing_it(client: TestClient) -> None:
    values = PLAN_FORM | {"name": "Enhet 19121212-1212", "csrf_token": csrf_of(client)}
    page = client.post("/planera/forhandsgranska", data=values)
    assert page.status_code == 422
    assert '<a href="#name">' in page.text and "19121212" not in page.text, "the number was echoed"


def test_a_floor_at_capacity_over_eligible_is_named_a_random_plan_with_the_largest_useful_floor(
    client: TestClient,
) -> None:
    # When a pps plan is previewed with a floor of 100 % (far above K/N)
    values = PLAN_FORM | {"design": "pps", "floor": "100", "csrf_token": csrf_of(client)}
    page = client.post("/planera/forhandsgranska", data=values)
    # Then the preview says it is a random plan and which floor would still follow risk
    assert page.status_code == 200, page.text[:300]
    assert "planen är ett slumpvis urval som inte tar hänsyn till risken" in page.text
    assert "Det högsta golv som fortfarande följer risken är" in page.text


def test_a_plan_saved_before_plans_had_areas_and_reasons_still_opens_and_downloads(
    client: TestClient, web_home: WebHome
) -> None:
    import json

    # Given a plan document as stored before plans kept an area, reasons and the eligible count
    values = PLAN_FORM | {"csrf_token": csrf_of(client), "seed": "11"}
    saved = client.post("/planera/spara", data=values)
    plan_id = str(saved.url).split("/planer/")[1].split("?")[0]
    document = json.loads((web_home.settings.plans_dir / f"{plan_id}.json").read_text(encoding="utf-8"))
    for unit in document["chosen"]:
        del unit["reasons_sv"]
    for key in ("eligible_units", "largest_useful_floor", "name", "purpose"):
        document.pop(key, None)
    old_id = "plan-00000000000000ab"
    document["plan_id"] = old_id
    (web_home.settings.plans_dir / f"{old_id}.json").write_text(json.dumps(document), encoding="utf-8")
    # When its page and its CSV are opened
    page = client.get(f"/planer/{old_id}")
    text = client.get(f"/planer/{old_id}/plan.csv").text
    # Then both work: the whole country, a dash for reasons on the page and an empty reasons cell in the file
    assert page.status_code == 200 and "Hela landet" in page.text, page.text[:300]
    _, *rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert rows and all(row[-1] == "" for row in rows), [row[-1] for row in rows]
