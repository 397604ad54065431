"""The planners' lists without a browser: karenstid, names, the export, Översikt, reasons, words, errors."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

import polars as pl
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.main import create_app
from api.web.data import RecentInspections
from api.web.exports import CANDIDATE_CSV_HEADER, candidates_csv_frame, candidates_csv_text
from api.web.format import odds_in_words
from engine.places import municipality_names
from engine.scores import EXPLANATION_DTYPE
from engine.snapshots import SnapshotStore
from serving.planning import cooldown_units
from tests.web_support import AS_OF, WebHome

ROW_UNIT = re.compile(r'<a href="/enheter/([^"]+)"')


@pytest.fixture
def client(web_home: WebHome) -> Iterator[TestClient]:
    with TestClient(create_app(web_home.settings), raise_server_exceptions=False) as test_client:
        yield test_client


def signed_in(client: TestClient, key: str) -> TestClient:
    form = client.get("/logga-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    response = client.post(
        "/logga-in", data={"api_key": key, "next": "/", "csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return client


def units_in_cooldown(web_home: WebHome) -> set[str]:
    inspections = SnapshotStore(web_home.settings.snapshots_dir).open().scan("inspections")
    months = web_home.settings.load_config().planning.cooldown_months
    return set(cooldown_units(inspections, AS_OF, months).collect()["unit_id"].to_list())


def listed_units(html: str) -> set[str]:
    return set(ROW_UNIT.findall(html))


def test_units_in_karenstid_are_hidden_by_default_counted_and_can_be_shown(
    client: TestClient, web_home: WebHome
) -> None:
    # Given units inspected within the cooldown before the planning date
    cooling = units_in_cooldown(web_home)
    assert cooling, "the test world needs units in karenstid"
    signed_in(client, web_home.keys["planner"])

    # When the planner opens the candidates (every unit on one page)
    page = client.get("/kandidater?per_page=100")

    # Then no unit in karenstid is listed, and the page says how many are hidden and links to them
    assert not listed_units(page.text) & cooling, "a unit in karenstid is listed by default"
    hidden = re.search(r"(\d+) enhet(?:er)? i karenstid visas inte", page.text)
    assert hidden and int(hidden.group(1)) == len(cooling), f"hidden count missing or wrong ({len(cooling)})"
    assert "cooldown=show" in page.text, "a link shows the hidden units"

    # When they ask to see them, they are listed with their tag
    shown = client.get("/kandidater?per_page=100&cooldown=show")
    assert cooling <= listed_units(shown.text), "units in karenstid are missing when asked for"
    assert "Karenstid</span>" in shown.text


def test_kommun_names_are_shown_in_the_filter_and_the_table(client: TestClient, web_home: WebHome) -> None:
    signed_in(client, web_home.keys["planner"])
    page = client.get("/kandidater?cooldown=show")
    options = re.findall(r'<option value="(\d{4})"[^>]*>([^<]+)</option>', page.text)
    assert options, "the kommun filter has options"
    names = municipality_names()
    assert all(label == names[code] for code, label in options), f"bare codes in the filter: {options[:5]}"
    cells = re.findall(r'data-label="Kommun">([^<]*)</td>', page.text)
    assert cells and not any(re.fullmatch(r"\d{4}", cell) for cell in cells), (
        "a bare kommun code in the table"
    )


def test_the_filtered_list_downloads_as_swedish_excel_csv(client: TestClient, web_home: WebHome) -> None:
    signed_in(client, web_home.keys["planner"])
    # Given a filter (a region), when the list is downloaded
    page = client.get("/kandidater?region=01")
    total = int(re.search(r"<strong>(\d+)</strong> enhet", page.text).group(1))  # type: ignore[union-attr]
    response = client.get("/kandidater.csv?region=01")

    # Then it is a UTF-8 CSV with a byte-order mark, ;-separated, every matching row, no other
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff"), "Excel needs the byte-order mark to read UTF-8"
    header, *rows = list(csv.reader(io.StringIO(text[1:]), delimiter=";"))
    assert tuple(header) == CANDIDATE_CSV_HEADER
    assert len(rows) == total, f"{len(rows)} rows exported, {total} listed"
    column = {name: index for index, name in enumerate(header)}
    assert all(row[column["Region"]] == "01 Stockholm" for row in rows), "region as code and name (text)"
    assert all(re.fullmatch(r"01\d\d \S.*", row[column["Kommun"]]) for row in rows), "kommun code and name"
    assert all(re.fullmatch(r"0,\d{4}", row[column["Sannolikhet för brist"]]) for row in rows), (
        "decimal comma"
    )
    assert all(row[column["Karenstid"]] == "nej" for row in rows), "units in karenstid hidden, as on the page"


def test_an_exported_cell_that_would_be_a_formula_is_neutralised() -> None:
    # Given a unit whose names begin with formula characters
    row = {
        "rank": 1, "unit_id": "SE2321000016-A1", "unit_name": "=HYPERLINK(\"http://x\")",
        "provider_id": "5560000001", "provider_name": "+Bolaget", "region_code": "03",
        "municipality_code": "0380", "ownership": "private", "unit_type": "-typ", "listed_patients": 9000,
        "p_deficiency": 0.25, "percentile": 95.5,
        "explanations": [{"sentence_sv": "@klagomål", "contribution": 0.9}],
    }  # fmt: skip
    frame = pl.DataFrame([row], schema_overrides={"explanations": pl.List(EXPLANATION_DTYPE)})
    cells = candidates_csv_frame(frame, "Samlad risk", RecentInspections(None), 0.1).row(0, named=True)
    assert tuple(cells) == CANDIDATE_CSV_HEADER
    # Then no cell begins with a formula character, codes keep their zeros as text
    assert cells["Enhet"] == '\'=HYPERLINK("http://x")' and cells["Vårdgivare"] == "'+Bolaget"
    assert cells["Enhetstyp"] == "'-typ" and cells["Främsta skäl"] == "'@klagomål"
    assert cells["Region"] == "03 Uppsala" and cells["Kommun"] == "0380 Uppsala"
    assert cells["Sannolikhet för brist"] == "0,2500" and cells["Percentil"] == "95,5"
    assert not any((value or "").startswith(("=", "+", "-", "@")) for value in cells.values()), cells


def test_overview_shows_change_since_the_previous_scoring_regions_and_freshness(
    client: TestClient, web_home: WebHome
) -> None:
    signed_in(client, web_home.keys["planner"])
    page = client.get("/").text
    # Then the change since the earlier scoring is counted per area
    assert web_home.previous_score_id in page, "the overview names the scoring it compares with"
    counts = re.findall(r'<td class="num">(\d+)</td>\s*<td class="num">(\d+)</td></tr>', page)
    assert counts and any(int(entered) + int(left) > 0 for entered, left in counts), counts
    # And the risk per region is a chart with a table
    assert 'class="chart"' in page and "Andel enheter med hög samlad risk per region" in page
    # And the newest date of every source is given
    config = web_home.settings.load_config()
    for source in (*config.indicator_sources.values(), *config.event_sources.values()):
        assert source.name_sv in page, f"no freshness for {source.name_sv}"
    assert re.search(r"<th scope=\"row\">Inspektioner</th><td>\d{4}-\d\d-\d\d", page), "inspections' date"
    assert "116 av 1" not in page


def test_probabilities_in_words_are_honest() -> None:
    assert odds_in_words(0.97) == "nästan alla", "97 % is not 10 of 10"
    assert odds_in_words(0.62) == "ungefär 6 av 10"
    assert all("10 av 10" not in odds_in_words(p / 1000) for p in range(1001))


def test_samlad_risk_column_says_it_is_a_mean_and_no_reason_is_empty(
    client: TestClient, web_home: WebHome
) -> None:
    signed_in(client, web_home.keys["planner"])
    overall = client.get("/kandidater?cooldown=show&per_page=100").text
    assert "Genomsnittlig sannolikhet över områdena" in overall
    assert "ungefär" not in overall.split("<tbody>")[1], "a mean of probabilities is not put in words"
    # The test world's reasons with a contribution under the threshold give "Inget sticker ut"
    assert "Inget sticker ut" in overall and "uppgift saknas" not in overall


def test_glossary_explains_the_planners_words_to_anyone(client: TestClient) -> None:
    page = client.get("/ordlista")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for anchor in ("slumpfro", "medelfel", "karenstid", "samlad-risk", "percentil", "sannolikhet",
                   "allvarlig-brist", "urvalsdesign"):  # fmt: skip
        assert f'id="{anchor}"' in page.text, f"the glossary lacks {anchor}"
    assert "procentenheter" in page.text and "pps" in page.text and "stratified" in page.text


@pytest.mark.parametrize("path", ["/oversikt", "/enhet/SE123", "/finns-inte", "/kandidater/x/y"])
def test_a_mistyped_address_is_a_swedish_html_page(client: TestClient, web_home: WebHome, path: str) -> None:
    anonymous = client.get(path)
    assert anonymous.status_code == 404 and anonymous.headers["content-type"].startswith("text/html")
    assert "Sidan finns inte" in anonymous.text and 'lang="sv"' in anonymous.text
    assert "Felkod 404." in anonymous.text
    assert "Logga in" in anonymous.text
    signed_in(client, web_home.keys["planner"])
    known = client.get(path)
    assert known.status_code == 404 and "Huvudmeny" in known.text, "a signed-in planner keeps the menu"
    assert 'href="/logga-in"' not in known.text, "a signed-in planner is not asked to sign in"
    assert client.get("/v1/finns-inte").headers["content-type"] == "application/problem+json"


def test_the_unknown_unit_page_does_not_offer_sign_in_to_a_signed_in_planner(
    client: TestClient, web_home: WebHome
) -> None:
    signed_in(client, web_home.keys["planner"])
    page = client.get("/enheter/SE2321000016-ZZZZ")
    assert page.status_code == 404 and "Okänd enhet" in page.text
    assert 'href="/logga-in"' not in page.text and "Huvudmeny" in page.text


def test_a_failing_page_is_a_swedish_500_page_without_a_traceback(web_home: WebHome) -> None:
    app: FastAPI = create_app(web_home.settings)

    def broken() -> None:
        raise RuntimeError("secret detail")

    app.add_api_route("/trasig", broken)
    app.add_api_route("/v1/trasig", broken)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        page = test_client.get("/trasig")
        assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
        assert "Något gick fel" in page.text and "secret detail" not in page.text
        assert "Traceback" not in page.text
        assert test_client.get("/v1/trasig").headers["content-type"] == "application/problem+json"


def test_the_list_right_after_sign_in_never_asks_for_a_reload(web_home: WebHome) -> None:
    with TestClient(create_app(web_home.settings), raise_server_exceptions=False) as fresh:
        signed_in(fresh, web_home.keys["planner"])
        page = fresh.get("/kandidater")
        assert page.status_code == 200
        assert "Ladda om" not in page.text and "läses in" not in page.text


def test_every_configured_kommun_in_the_world_has_a_name(web_home: WebHome) -> None:
    units = SnapshotStore(web_home.settings.snapshots_dir).open().scan("units").collect()
    codes = set(units["municipality_code"].to_list())
    assert codes <= set(municipality_names()), f"codes without a name: {codes - set(municipality_names())}"
    assert units.filter(pl.col("municipality_code").str.slice(0, 2) != pl.col("region_code")).is_empty()


def test_the_unit_page_shows_only_reasons_that_carry_weight(client: TestClient, web_home: WebHome) -> None:
    # Given the lowest-ranked unit, whose stored reasons all push by less than the threshold
    signed_in(client, web_home.keys["planner"])
    page = client.get(f"/enheter/{web_home.unit_ids[-1]}").text
    # Then its areas say that nothing stands out, and Samlad risk is not put in words as one probability
    assert "Inget sticker ut" in page and "uppgift saknas" not in page
    assert "medel över områdena" in page


def test_the_plan_form_links_its_words_to_the_glossary(client: TestClient, web_home: WebHome) -> None:
    signed_in(client, web_home.keys["planner"])
    page = client.get("/planera").text
    for anchor in ("urvalsdesign", "karenstid", "slumpfro", "medelfel"):
        assert f'href="/ordlista#{anchor}"' in page, f"the plan form does not explain {anchor}"
    glossary = client.get("/ordlista").text
    assert all(
        f'id="{anchor}"' in glossary for anchor in ("urvalsdesign", "karenstid", "slumpfro", "medelfel")
    )


def test_exported_cells_with_separators_quotes_and_line_breaks_read_back_as_written() -> None:
    # Given names holding the separator, quotes, a line break and a formula start
    names = ['Vård; "Syd"', "Rad ett\nrad två", "=1+1", "Vanlig"]
    rows = pl.DataFrame(
        {
            "rank": [1, 2, 3, 4], "unit_id": [f"SE2321000016-A{i}" for i in range(4)], "unit_name": names,
            "provider_id": ["5560000001"] * 4, "provider_name": names[::-1], "region_code": ["03"] * 4,
            "municipality_code": ["0380", "9999", "0380", "0380"], "ownership": ["public"] * 4,
            "unit_type": ["vardcentral"] * 4, "listed_patients": [1, 2, 3, 4],
            "p_deficiency": [0.12344, 0.5, 1.0, 0.0], "percentile": [99.95, 50.0, 0.04, 10.0],
            "explanations": [[{"sentence_sv": "Klagomål; 3", "contribution": 0.5}], [], [], []],
        },
        schema_overrides={"explanations": pl.List(EXPLANATION_DTYPE)},
    )  # fmt: skip
    # When they are exported and read back as Excel (and Python's csv module) would
    text = candidates_csv_text(rows, "Samlad risk", RecentInspections(None), 0.1)
    _, *read = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), delimiter=";"))
    # Then every cell is as written, one record per unit, codes with names and unknown codes bare
    assert [row[2] for row in read] == ['Vård; "Syd"', "Rad ett\nrad två", "'=1+1", "Vanlig"]
    assert [row[6] for row in read] == ["0380 Uppsala", "9999", "0380 Uppsala", "0380 Uppsala"]
    assert [row[11] for row in read] == ["0,1234", "0,5000", "1,0000", "0,0000"]
    assert [row[12] for row in read] == ["100,0", "50,0", "0,0", "10,0"]
    assert [row[15] for row in read] == [
        "Klagomål; 3",
        "inget sticker ut",
        "inget sticker ut",
        "inget sticker ut",
    ]
