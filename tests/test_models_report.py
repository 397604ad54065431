"""The HTML evaluation report as a person sees it in Chromium: Swedish labels, 1366 px wide, axe-clean."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe

from models.jobs import TrainingResult
from models.report import METRIC_LABELS, render_report
from models.tracking import Tracking

SCREEN = {"width": 1366, "height": 768}


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
        page.screenshot(path=report_file.with_suffix(".png"), full_page=True)
    finally:
        page.close()
    # Then there is nothing to report and nothing to scroll sideways
    assert results.violations_count == 0, results.generate_report()
    assert overflow <= 0, f"the page is {overflow} px wider than a 1366-pixel screen"
