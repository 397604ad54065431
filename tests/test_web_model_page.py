"""The Modell page: a chart per area of what the evaluation shows, with its table, and groups in words."""

from __future__ import annotations

import re
from collections.abc import Iterator

import polars as pl
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.web.charts import Bar, interval_bar_chart
from api.web.data import ModelFacts
from api.web.model_facts import flagged_subgroups
from models.refusals import reasons_en, reasons_sv
from models.registry import promotion_refusals
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


def _served_with_registry_tags(client: TestClient, web_home: WebHome, tags: dict[str, str]) -> None:
    """The served run's facts as the page reads them, its model version tagged ``tags`` in the registry."""
    facts = ModelFacts(run_id=web_home.run_id, registry_tags=tags)
    client.app.state.tillsynsrisk_web.model.get(web_home.run_id, lambda: facts)  # type: ignore[attr-defined]


def test_model_page_gives_the_gates_a_forced_version_failed_in_swedish(
    client: TestClient, web_home: WebHome
) -> None:
    # Given a served version promoted with --force although its calibration failed the gate, tagged as
    # `promote` tags it (the English reasons for the analysts, the Swedish ones for the planners)
    config = web_home.settings.load_config()
    metrics = pl.DataFrame(
        {
            "population": ["all"], "fold": ["all"], "risk_area": ["samverkan"], "scorer": ["model"],
            "metric": ["ece"], "value": [0.095], "lower": [None], "upper": [None],
        },
        schema_overrides={"lower": pl.Float64, "upper": pl.Float64},
    )  # fmt: skip
    settings = config.model.model_copy(update={"ece_gate_rule": "point"})
    refusals = promotion_refusals(metrics, None, settings, config.risk_area_names_sv)
    _served_with_registry_tags(
        client,
        web_home,
        {
            "forced_despite": "; ".join(reasons_en(refusals)),
            "forced_despite_sv": "; ".join(reasons_sv(refusals)),
        },
    )
    signed_in(client, web_home.keys["planner"])

    # When the Modell page is shown
    page = client.get("/modell").text

    # Then it says so in Swedish, naming the area and the figures, and shows none of the English reasons
    notice = page.split("<dt>Observera</dt>")[1].split("</div>")[0]
    assert "Versionen togs i bruk trots att kvalitetsgrindarna sa nej" in notice, notice
    assert "Samverkan: förväntat kalibreringsfel (ECE) 0,095" in notice, notice
    assert "gränsvärdet 0,030" in notice, notice
    for english in ("exceeds", "expected calibration error", "threshold"):
        assert english not in page, f"English gate text {english!r} on the planners' page"


def test_model_page_of_a_version_forced_before_the_swedish_reasons_shows_no_english(
    client: TestClient, web_home: WebHome
) -> None:
    # Given a served version forced before the Swedish reasons were tagged: it has only the English ones
    _served_with_registry_tags(
        client,
        web_home,
        {"forced_despite": "samverkan: expected calibration error 0.095 (random inspections) exceeds the "
                           "threshold 0.030"},
    )  # fmt: skip
    signed_in(client, web_home.keys["planner"])

    # When the Modell page is shown
    page = client.get("/modell").text

    # Then it says in Swedish that the gates were overridden and where the reasons are, without them
    notice = page.split("<dt>Observera</dt>")[1].split("</div>")[0]
    assert "trots att den inte klarade kvalitetsgrindarna" in notice, notice
    assert "MLflow-taggen forced_despite" in notice, notice
    assert "exceeds" not in page and "expected calibration error" not in page, "the English reasons are shown"


def test_model_page_shows_a_hostile_tag_as_text(client: TestClient, web_home: WebHome) -> None:
    # Given a Swedish reasons tag that holds markup
    _served_with_registry_tags(client, web_home, {"forced_despite_sv": '<script>alert("x")</script>'})
    signed_in(client, web_home.keys["planner"])

    # When the Modell page is shown
    page = client.get("/modell").text

    # Then the tag is shown as text, never as markup
    assert "<script>alert" not in page, "the tag's markup reached the page"
    notice = page.split("<dt>Observera</dt>")[1].split("</div>")[0]
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in notice, notice
