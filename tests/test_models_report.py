"""The HTML evaluation report as a person sees it in Chromium: Swedish labels, 1366 px wide, axe-clean."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe

from engine.config import Config, load_config
from models.jobs import TrainingResult
from models.report import METRIC_LABELS, render_report
from models.targets import target_sentence_sv
from models.tracking import Tracking

SCREEN = {"width": 1366, "height": 768}
SCREENSHOTS = Path(__file__).resolve().parents[1] / "var" / "screenshots"


@pytest.fixture(scope="module")
def report_file(
    champion_run: TrainingResult, models_tracking: Tracking, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render_report(models_tracking, champion_run.run_id), encoding="utf-8")
    return path


@pytest.mark.slow
def test_report_labels_metrics_in_swedish(report_file: Path) -> None:
    html = report_file.read_text(encoding="utf-8")
    assert '<html lang="sv">' in html
    for label in METRIC_LABELS.values():
        assert f">{label}</th>" in html, f"no column headed {label!r}"
    assert "precision_at_5pct" not in html and "expected_precision_at_10pct" not in html, (
        "raw metric ids shown"
    )


@pytest.mark.slow
def test_report_has_no_axe_violations_and_no_horizontal_overflow_at_1366_pixels(
    report_file: Path, browser: Any
) -> None:
    # Given the rendered report open in Chromium on a 1366 × 768 screen
    page = browser.new_page(viewport=SCREEN)
    try:
        page.goto(report_file.as_uri())
        # When axe-core checks it and the page's width is measured
        results = Axe().run(page)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / "20-rapport.png")
        page.screenshot(path=SCREENSHOTS / "20-rapport-hela-sidan.png", full_page=True)
    finally:
        page.close()
    # Then there is nothing to report and nothing to scroll sideways
    assert results.violations_count == 0, results.generate_report()
    assert overflow <= 0, f"the page is {overflow} px wider than a 1366-pixel screen"


def table_cells(html: str) -> list[str]:
    return re.findall(r"<td[^>]*>([^<]*)</td>", html)


@pytest.mark.slow
def test_report_names_areas_in_swedish_and_writes_decimal_commas(report_file: Path) -> None:
    # Given the report of a run on the default configuration's areas
    html = report_file.read_text(encoding="utf-8")
    config = load_config()

    # Then every area is headed by its Swedish name, never its code id
    for area in config.risk_areas:
        assert f">{area.name_sv}</h2>" in html, f"no heading {area.name_sv!r}"
        assert not re.search(rf"[>( ]{area.id}[<,) ]", html), f"code id {area.id!r} shown as text"
    # And no table cell writes a decimal point
    pointed = [cell for cell in table_cells(html) if re.search(r"\d\.\d", cell)]
    assert not pointed, f"decimal points in table cells: {pointed[:5]}"


@pytest.mark.slow
def test_report_shows_which_feature_families_weigh_most_per_area(
    report_file: Path, champion_run: TrainingResult, models_tracking: Tracking
) -> None:
    # Given a run on toy rows whose truth is driven by complaints in every area
    families = models_tracking.read_table(champion_run.run_id, "evaluation/importance_families.parquet")

    # Then the complaints family weighs most in every area, measured on the test folds
    top = families.sort("mean_abs_contribution", descending=True).group_by("risk_area").first()
    assert set(top["family"].to_list()) == {"complaints"}, top
    assert (families["mean_abs_contribution"] >= 0).all() and (families["n"] > 0).all()
    # And the report has the section, with the family's Swedish name and figures with a decimal comma
    html = report_file.read_text(encoding="utf-8")
    section = html.split('id="vad-som-vager-tyngst"')[1].split("<h2")[0]
    assert load_config().sources["complaints"].name_sv in section, "families by their Swedish names"
    assert re.search(r"<td>\d+,\d\d</td>", section), "importance figures with a decimal comma"


def test_plots_are_swedish_with_bin_counts_and_never_an_empty_legend(models_config: Config) -> None:
    from models.evaluation import SCORER_LABELS, reliability_tables
    from models.plots import close, precision_curve_figure, reliability_figure
    from tests.web_support import evaluation_predictions

    # Given test-fold predictions without any randomly selected inspection
    predictions = evaluation_predictions(models_config, rows_per_area=60).with_columns(is_random=False)
    area = models_config.risk_areas[0]

    # When the precision curves and the reliability diagram are drawn, no warning may be raised
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        empty = precision_curve_figure(predictions, area.id, "random", area.name_sv)
        drawn = precision_curve_figure(predictions, area.id, "all", area.name_sv)
        reliability = reliability_figure(
            reliability_tables(predictions, 10), "all", {a.id: a.name_sv for a in models_config.risk_areas}
        )

    # Then titles and legends are Swedish and name the area, and the reliability diagram counts its bins
    assert empty.axes[0].get_legend() is None, "no legend without lines"
    assert "Inga slumpvis utvalda tillsyner i teståren" in [t.get_text() for t in empty.axes[0].texts]
    assert area.name_sv in drawn.axes[0].get_title() and "alla tillsyner" in drawn.axes[0].get_title()
    legend = [text.get_text() for text in drawn.axes[0].get_legend().get_texts()]
    assert legend and set(legend) <= set(SCORER_LABELS.values()), legend
    curves, counts = reliability.axes
    assert {t.get_text() for t in curves.get_legend().get_texts()} >= {
        a.name_sv for a in models_config.risk_areas
    }
    counted = sum(int(text.get_text()) for text in counts.texts)
    assert counted == predictions.height, f"bin counts add up to {counted}, not {predictions.height}"
    for figure in (empty, drawn, reliability):
        close(figure)


@pytest.mark.slow
def test_report_states_each_verdicts_minimum_detectable_difference_and_the_weighted_verdict(
    report_file: Path,
) -> None:
    # Given the report of a run whose random selections carry their inclusion probability
    html = report_file.read_text(encoding="utf-8")
    areas = load_config().risk_areas

    # Then every area has a verdict on the weighted inspections saying how many there are and what they
    # are worth, and every comparison with the best baseline its MDD in percentage points
    weighted = re.findall(r"viktade med 1/π \((\d[\d ]*) tillsyner, effektivt (\d[\d ]*)\)", html)
    assert len(weighted) == len(areas), f"{len(weighted)} weighted verdicts for {len(areas)} areas"
    compared = html.count("skillnaden modellen − den är")
    stated = re.findall(
        r"Minsta skillnad som underlaget kunde upptäcka \(80 % styrka, 5 % nivå\) är \d+,\d procent", html
    )
    assert compared > 0 and len(stated) == compared, f"{compared} comparisons, {len(stated)} with their MDD"


@pytest.mark.slow
def test_report_says_which_target_ranks_each_area(report_file: Path, champion_run: TrainingResult) -> None:
    # given the report of a run whose model resolved a ranking target per area
    html = report_file.read_text(encoding="utf-8")
    targets = champion_run.model.metadata["targets"]
    # then every area's target is named in Swedish, with why
    missing = [area for area, entry in targets.items() if target_sentence_sv(entry) not in html]
    assert targets and not missing, f"the report does not name the ranking target of {missing}"
    # and train's summary says which target each area was evaluated against
    assert {entry["target"] for entry in champion_run.summary.values()} <= {
        "deficiency",
        "serious",
        "ordinal",
    }
