"""The Modell page: a chart per area of what the evaluation shows, with its table, and groups in words."""

from __future__ import annotations

import re
from collections.abc import Iterator

import polars as pl
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.web.charts import Bar, interval_bar_chart
from api.web.model_facts import flagged_subgroups
from tests.test_web_pages import signed_in
from tests.web_support import WebHome


@pytest.fixture
def client(web_home: WebHome) -> Iterator[TestClient]:
    with TestClient(create_app(web_home.settings), raise_server_exceptions=False) as test_client:
        yield test_client


def test_model_page_draws_each_areas_evaluation_with_a_table_alternative(
    client: TestClient, web_home: WebHome
) -> None:
    # Given a planner on the Modell page of a run evaluated in every configured area
    signed_in(client, web_home.keys["planner"])
    areas = web_home.settings.load_config().risk_areas

    # When the page is shown
    page = client.get("/modell").text

    # Then each area has a chart (with a title and a description) and its figures as a table
    for area in areas:
        section = page.split(f'id="eval-{area.id}"')[1].split("</section>")[0]
        assert 'role="img"' in section and "<desc" in section, f"no chart for {area.name_sv}"
        assert "<details>" in section and "<table" in section, f"no table alternative for {area.name_sv}"
        assert re.search(r"Underlaget är [\d\u00a0]+ slumpvis inspekterade enheter", section), section[:300]
    # And the way of choosing by lot is not called by the same words as the inspected population
    assert "Slumpvis urval" not in page, "the random scorer is named like the randomly inspected units"
    assert "Lottning" in page and "på måfå" in page


def test_model_page_says_how_small_a_difference_each_verdict_could_have_seen_on_both_populations(
    client: TestClient, web_home: WebHome
) -> None:
    # Given a planner on the Modell page of a run evaluated on random selections and on the inspections
    # with known inclusion probability (tests/web_support.py)
    signed_in(client, web_home.keys["planner"])
    areas = web_home.settings.load_config().risk_areas

    # When the page is shown
    page = client.get("/modell").text

    # Then every area states the minimum detectable difference in percentage points with a decimal comma,
    # for the random selections and, in a sentence saying which population it is, for the weighted one
    for area in areas:
        section = page.split(f'id="eval-{area.id}"')[1].split("</section>")[0]
        found = re.findall(r"på minst (\d+,\d) procentenheter \(med 80 % sannolikhet\)", section)
        assert len(found) == 2, f"{area.name_sv}: the MDD of both verdicts, got {found}: {section[:600]}"
        assert "sannolikheten att enheten valdes är känd, viktade" in section, (
            f"{area.name_sv}: no weighted verdict"
        )
        assert "en mindre skillnad hade inte kunnat ses" in section, (
            f"{area.name_sv}: the MDD is not explained"
        )


def test_model_page_names_each_areas_model_family_and_why(client: TestClient, web_home: WebHome) -> None:
    # Given a planner and a served run whose family choice serves areas by the elastic net or the blend
    signed_in(client, web_home.keys["planner"])
    areas = web_home.settings.load_config().risk_areas

    # When the Modell page is shown
    page = client.get("/modell").text

    # Then each area says its model family in Swedish, with the validation figures in decimal commas
    for index, area in enumerate(areas):
        section = page.split(f'id="eval-{area.id}"')[1].split("</section>")[0]
        family = "medelvärde av båda" if index % 2 else "elastiskt nät"
        assert f"Modelltyp: <strong>{family}</strong>" in section, f"{area.name_sv}: no family in {section}"
        assert "valideringsåren 2022–2023" in section and "\N{MINUS SIGN}0,012" in section, section


def test_flagged_subgroups_are_named_in_words_never_by_code() -> None:
    # Given an audit whose flagged rows carry region and ownership codes (one without a group name)
    audit = pl.DataFrame(
        {
            "risk_area": ["tillganglighet", "kontinuitet"],
            "attribute": ["region_code", "ownership"],
            "group": ["12", "private"],
            "n": [40, 80],
            "precision_flagged": [True, False],
            "recall_flagged": [False, False],
            "selection_rate_flagged": [False, True],
        }
    )

    # When the page's rows are made, then the region is named and the ownership in Swedish
    rows = flagged_subgroups(audit)
    assert [(row["attribute_sv"], row["group_sv"]) for row in rows] == [
        ("Region", "Region Skåne"),
        ("Ägarform", "privat regi"),
    ]


def test_interval_chart_carries_labels_as_text_and_says_what_it_shows() -> None:
    # Given bars whose label is markup
    chart = str(
        interval_bar_chart(
            "Titel",
            "Beskrivning",
            [Bar("<script>x</script>", 0.4, 0.3, 0.5, emphasis=True), Bar("Lottning", 0.1)],
            reference=0.12,
            reference_label="Alla: 12 %",
        )
    )
    # Then the label is escaped, the value is written and the reference line has its legend
    assert "<script>" not in chart and "&lt;script&gt;" in chart
    assert "40\u00a0%" in chart and "Alla: 12 %" in chart
    assert chart.count("<rect") == 2, "one bar per row"
