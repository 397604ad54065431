"""The planners' reading pages: Översikt, Kandidater, Enhet, Vårdgivare and Modell."""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from typing import Annotated, Any
from urllib.parse import urlencode

import polars as pl
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from api.web.auth import PageError, Viewer, page_viewer, viewer_if_signed_in
from api.web.charts import Series, bar_chart, line_chart, share_bar_chart
from api.web.data import ScoresView, SnapshotHistory
from api.web.exports import candidates_csv_text
from api.web.format import number_sv, percent_sv
from api.web.indicator_charts import indicator_charts
from api.web.model_facts import (
    MLFLOW_LOCK,
    area_evaluation,
    flagged_subgroups,
    model_facts,
    model_facts_if_ready,
    precision_context,
)
from api.web.rendering import SECURITY_HEADERS, render
from api.web.state import app_state, web_state
from api.web.views import (
    area_names,
    current_changes,
    current_freshness,
    current_history,
    current_inspected,
    current_view,
    page_context,
)
from engine.contract import REGIONS
from engine.identifiers import HSA_ID_PATTERN, ORGANISATION_NUMBER_PATTERN
from engine.scores import OVERALL
from serving.scoring import provider_rollup, reasons_that_carry_weight

logger = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

PAGE_SIZES = (25, 50, 100)
SORTS = {
    "rang": ("rank", False),
    "enhet": ("unit_name", False),
    "region": ("region_name", False),
    "kommun": ("municipality_name", False),
    "vardgivare": ("provider_name", False),
}


ViewerCandidates = Annotated[Viewer, Depends(page_viewer("read:candidates"))]
ViewerUnits = Annotated[Viewer, Depends(page_viewer("read:units"))]
ViewerProviders = Annotated[Viewer, Depends(page_viewer("read:providers"))]
ViewerModels = Annotated[Viewer, Depends(page_viewer("read:models"))]


# --- Översikt ---------------------------------------------------------------------------------------


@router.get("/")
def read_overview(*, request: Request, viewer: ViewerCandidates) -> Response:
    view = current_view(request)
    names = area_names(request)
    cells = {(row["region_code"], row["risk_area"]): row for row in view.overview.iter_rows(named=True)}
    totals = {row["risk_area"]: row for row in view.area_totals.iter_rows(named=True)}
    threshold = app_state(request).settings.high_risk_percentile
    return render(
        request,
        "overview.html.j2",
        viewer,
        **page_context(request, view),
        areas=[area for area in names if area in totals],
        totals=totals,
        cells=cells,
        high_risk_percentile=threshold,
        changes=current_changes(request, view),
        freshness=current_freshness(request),
        region_chart=region_chart(view, cells, threshold),
    )


def region_chart(view: ScoresView, cells: dict[tuple[str, str], dict[str, Any]], threshold: float) -> Any:
    """Share of each region's units in the national high-risk group for Samlad risk, highest first."""
    rows = [
        (name, cells[(code, OVERALL)]["high_risk"] / cells[(code, OVERALL)]["units"])
        for code, name in view.regions
        if (code, OVERALL) in cells and cells[(code, OVERALL)]["units"]
    ]
    rows.sort(key=lambda row: -row[1])
    expected = 1 - threshold / 100
    highest = rows[0] if rows else ("", 0.0)
    return share_bar_chart(
        "Andel enheter med hög samlad risk per region",
        f"Andel av regionens enheter som hör till landets {percent_sv(expected)} med högst samlad risk. "
        f"Högst i {highest[0]} ({percent_sv(highest[1])}); en region som landet i stort har "
        f"{percent_sv(expected)}. Samma tal finns i tabellen nedanför.",
        [name for name, _ in rows],
        [share for _, share in rows],
        reference=expected,
        reference_label=f"Landet: {percent_sv(expected)}",
    )


# --- Ordlista --------------------------------------------------------------------------------------


@router.get("/ordlista")
def read_glossary(*, request: Request) -> Response:
    """The planner's words explained; open to anyone (it shows no data)."""
    return render(
        request,
        "glossary.html.j2",
        viewer_if_signed_in(request),
        cooldown_months=app_state(request).config.planning.cooldown_months,
    )


# --- Kandidater -------------------------------------------------------------------------------------


class CandidateFilters(BaseModel):
    """The candidate page's query string: every filter state has its own shareable URL."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    risk_area: str = Field(default=OVERALL, max_length=64)
    region: str | None = Field(default=None, pattern=r"^\d{2}$")
    municipality: str | None = Field(default=None, pattern=r"^\d{4}$")
    ownership: str | None = Field(default=None, pattern=r"^(public|private)$")
    unit_type: str | None = Field(default=None, max_length=64)
    provider: str | None = Field(default=None, max_length=120)
    cooldown: str = Field(default="hide", pattern=r"^(hide|show)$")
    sort: str = "rang"
    order: str = Field(default="asc", pattern=r"^(asc|desc)$")
    page: int = Field(default=1, ge=1, le=100_000)
    per_page: int = 50

    @field_validator("region", "municipality", "ownership", "unit_type", "provider", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    def query(self, **changes: Any) -> str:
        """This filter state (with ``changes``) as a query string, defaults left out."""
        values = self.model_dump() | changes
        defaults = CandidateFilters().model_dump()
        return urlencode({k: v for k, v in values.items() if v is not None and v != defaults[k]})


def candidate_filters(request: Request) -> CandidateFilters:
    raw = dict(request.query_params)
    try:
        filters = CandidateFilters.model_validate(raw)
    except ValidationError as error:
        fields = ", ".join(sorted({str(item["loc"][0]) for item in error.errors()}))
        raise PageError(
            400, "Ogiltigt filter", f"Filtret kunde inte läsas ({fields}). Välj om filtren."
        ) from error
    if filters.sort not in SORTS:
        filters = filters.model_copy(update={"sort": "rang"})
    if filters.per_page not in PAGE_SIZES:
        filters = filters.model_copy(update={"per_page": 50})
    return filters


def filtered_candidates(
    frame: pl.DataFrame, filters: CandidateFilters, in_cooldown: frozenset[str] = frozenset()
) -> pl.DataFrame:
    """The area's rows matching ``filters``, sorted as asked (rank breaks ties).

    Units in ``in_cooldown`` (karenstid) are left out unless the filters ask to show them.
    """
    conditions = [
        pl.col(column) == value
        for column, value in (
            ("region_code", filters.region),
            ("municipality_code", filters.municipality),
            ("ownership", filters.ownership),
            ("unit_type", filters.unit_type),
        )
        if value is not None
    ]
    if filters.provider is not None:
        wanted = filters.provider.strip()
        conditions.append(
            (pl.col("provider_id") == wanted.replace("-", ""))
            | pl.col("provider_name").str.to_lowercase().str.contains(wanted.lower(), literal=True)
        )
    if filters.cooldown == "hide" and in_cooldown:
        conditions.append(~pl.col("unit_id").is_in(list(in_cooldown)))
    selected = frame.filter(*conditions) if conditions else frame
    column, _ = SORTS[filters.sort]
    descending = filters.order == "desc"
    if column == "rank":
        return selected.sort("rank", descending=descending)
    return selected.sort([column, "rank"], descending=[descending, False])


@router.get("/kandidater")
def read_candidates(*, request: Request, viewer: ViewerCandidates) -> Response:
    view = current_view(request)
    filters = candidate_filters(request)
    names = area_names(request)
    area_frame = candidate_area(view, filters)
    inspected = current_inspected(request, view)
    matching = filtered_candidates(area_frame, filters, inspected.in_cooldown)
    shown_all = filters.model_copy(update={"cooldown": "show"})
    hidden = (
        filtered_candidates(area_frame, shown_all).height - matching.height
        if filters.cooldown == "hide"
        else 0
    )
    pages = max(1, math.ceil(matching.height / filters.per_page))
    page = min(filters.page, pages)
    rows = matching.slice((page - 1) * filters.per_page, filters.per_page).to_dicts()
    facts = model_facts_if_ready(request, view)
    municipalities = view.municipalities.get(filters.region or "", view.municipalities[""])
    min_contribution = app_state(request).config.scoring.min_contribution
    for row in rows:
        row["reasons"] = reasons_that_carry_weight(row["explanations"], min_contribution)[:3]
    return render(
        request,
        "candidates.html.j2",
        viewer,
        **page_context(request, view),
        filters=filters,
        rows=rows,
        total=matching.height,
        hidden_in_cooldown=hidden,
        cooldown_months=app_state(request).config.planning.cooldown_months,
        page=page,
        pages=pages,
        page_sizes=PAGE_SIZES,
        sorts=SORTS,
        inspected=inspected,
        municipalities=municipalities,
        context_text=precision_context(facts, filters.risk_area, names),
        risk_area_name=names.get(filters.risk_area, filters.risk_area),
    )


@router.get("/kandidater.csv")
def read_candidates_csv(*, request: Request, viewer: ViewerCandidates) -> Response:
    """The filtered candidate list, every page of it, as a CSV file for Swedish Excel."""
    view = current_view(request)
    filters = candidate_filters(request)
    inspected = current_inspected(request, view)
    matching = filtered_candidates(candidate_area(view, filters), filters, inspected.in_cooldown)
    min_contribution = app_state(request).config.scoring.min_contribution
    area_name = area_names(request).get(filters.risk_area, filters.risk_area)
    text = candidates_csv_text(matching, area_name, inspected, min_contribution)
    del viewer
    filename = f"kandidater-{filters.risk_area}-{view.as_of.isoformat()}.csv"
    return Response(
        text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers=SECURITY_HEADERS | {"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def candidate_area(view: ScoresView, filters: CandidateFilters) -> pl.DataFrame:
    """The asked risk area's rows in rank order (404 page for an area the scoring does not have)."""
    if filters.risk_area not in view.areas:
        raise PageError(
            404, "Okänt riskområde", f"Riskområdet {filters.risk_area!r} finns inte i riskbedömningen."
        )
    return view.areas[filters.risk_area]


# --- Enhet ------------------------------------------------------------------------------------------


@router.get("/enheter/{unit_id}")
def read_unit(*, request: Request, viewer: ViewerUnits, unit_id: str) -> Response:
    view = current_view(request)
    if not re.match(HSA_ID_PATTERN, unit_id):
        raise PageError(404, "Okänd enhet", "Enhetens HSA-id har fel form.")
    rows = view.unit_rows(unit_id)
    if rows.is_empty():
        raise PageError(
            404, "Okänd enhet", f"Enheten {unit_id} finns inte i den publicerade riskbedömningen."
        )
    names = area_names(request)
    order = list(names)
    areas = sorted(
        rows.to_dicts(), key=lambda row: order.index(row["risk_area"]) if row["risk_area"] in order else 99
    )
    min_contribution = app_state(request).config.scoring.min_contribution
    for area in areas:
        area["reasons"] = reasons_that_carry_weight(area["explanations"], min_contribution)
    unit = areas[0]
    history = current_history(request, view, unit_id=unit_id)
    inspections = history.inspections.get(unit_id)
    config = app_state(request).config
    served = app_state(request).holder.served
    score_history = served.history.get(unit_id, []) if served is not None else []
    return render(
        request,
        "unit.html.j2",
        viewer,
        **page_context(request, view),
        unit=unit,
        areas=areas,
        units_in_area={area: frame.height for area, frame in view.areas.items()},
        indicator_charts=indicator_charts(history.indicators.get(unit_id), unit["region_name"], config),
        event_table=event_table(history, unit_id),
        inspections=inspections.to_dicts() if inspections is not None else [],
        last_inspected=history.last_inspected.get(unit_id),
        in_cooldown=unit_id in history.in_cooldown,
        has_snapshot=history.snapshot_id is not None,
        score_history=score_history_table(score_history, names),
    )


def event_table(history: SnapshotHistory, unit_id: str) -> dict[str, Any]:
    """Complaint and lex Maria counts per quarter (counts only), as a table and one bar chart per source."""
    frame = history.events.get(unit_id)
    if frame is None or frame.is_empty():
        return {"quarters": [], "sources": [], "counts": {}, "charts": []}
    quarters = _quarters_between(min(frame["quarter_start"].to_list()), max(frame["quarter_start"].to_list()))
    sources = [source for source in history.sources if source in set(frame["source"].to_list())]
    counts = {(row["source"], row["quarter_start"]): row["events"] for row in frame.iter_rows(named=True)}
    labels = [f"{quarter.year} kv. {(quarter.month - 1) // 3 + 1}" for quarter in quarters]
    charts = []
    for source in sources:
        values = [counts.get((source, quarter), 0) for quarter in quarters]
        name = history.sources[source]
        charts.append(
            (
                name,
                bar_chart(
                    f"{name} per kvartal",
                    f"{name} per kvartal {labels[0]}–{labels[-1]}: totalt {number_sv(sum(values))}, "
                    f"högst {number_sv(max(values))} under ett kvartal.",
                    labels,
                    values,
                ),
            )
        )
    return {
        "quarters": list(zip(quarters, labels, strict=True)),
        "sources": [(source, history.sources[source]) for source in sources],
        "counts": counts,
        "charts": charts,
    }


def _quarters_between(first: dt.date, last: dt.date) -> list[dt.date]:
    """Every quarter start from ``first`` to ``last``, empty quarters included (a continuous axis)."""
    quarters = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        quarters.append(dt.date(year, month, 1))
        year, month = (year + 1, 1) if month == 10 else (year, month + 3)
    return quarters


def score_history_table(points: list[dict[str, Any]], names: dict[str, str]) -> dict[str, Any]:
    """Score history as rows per scoring snapshot and columns per area, plus a chart of the samlad risk."""
    snapshots: dict[str, dict[str, Any]] = {}
    for point in points:
        entry = snapshots.setdefault(
            point["score_id"],
            {
                "score_id": point["score_id"],
                "as_of": point["as_of"],
                "model_version": point["model_version"],
                "is_current": point["is_current"],
                "areas": {},
            },
        )
        entry["areas"][point["risk_area"]] = point
    rows = list(snapshots.values())
    overall = [
        (row["as_of"], row["areas"][OVERALL]["p_deficiency"]) for row in rows if OVERALL in row["areas"]
    ]
    chart = (
        line_chart(
            "Samlad risk över riskbedömningar",
            f"Samlad sannolikhet för brist i {len(overall)} riskbedömningar, "
            f"senast {percent_sv(overall[-1][1])}.",
            [Series("Samlad risk", overall)],
            y_range=(0.0, 1.0),
        )
        if len(overall) >= 2
        else None
    )
    return {
        "rows": rows,
        "areas": [area for area in names if any(area in row["areas"] for row in rows)],
        "chart": chart,
    }


# --- Vårdgivare -------------------------------------------------------------------------------------


@router.get("/vardgivare/{provider_id}")
def read_provider(*, request: Request, viewer: ViewerProviders, provider_id: str) -> Response:
    view = current_view(request)
    if not re.match(ORGANISATION_NUMBER_PATTERN, provider_id):
        raise PageError(404, "Okänd vårdgivare", "Organisationsnumret har fel form.")
    rows = view.provider_rows(provider_id)
    if rows.is_empty():
        raise PageError(404, "Okänd vårdgivare", f"Vårdgivaren {provider_id} finns inte i riskbedömningen.")
    threshold = app_state(request).settings.high_risk_percentile
    rollup = provider_rollup(rows.lazy(), threshold).collect()
    names = area_names(request)
    order = list(names)
    return render(
        request,
        "provider.html.j2",
        viewer,
        **page_context(request, view),
        provider_id=provider_id,
        provider_name=rows["provider_name"][0],
        rollup=sorted(
            rollup.to_dicts(),
            key=lambda row: order.index(row["risk_area"]) if row["risk_area"] in order else 99,
        ),
        units=rows.filter(pl.col("risk_area") == OVERALL).sort("rank").to_dicts(),
        high_risk_percentile=threshold,
        regions=REGIONS,
    )


# --- Modell -----------------------------------------------------------------------------------------


@router.get("/modell")
def read_model(*, request: Request, viewer: ViewerModels) -> Response:
    view = current_view(request)
    facts = model_facts(request, view)
    names = area_names(request)
    return render(
        request,
        "model.html.j2",
        viewer,
        **page_context(request, view),
        facts=facts,
        evaluation=[area_evaluation(facts, area, names[area]) for area in names if area in facts.summary],
        flagged=flagged_subgroups(facts.subgroups),
        subgroup_rows=facts.subgroups.height,
    )


@router.get("/modell/rapport")
def read_model_report(*, request: Request, viewer: ViewerModels) -> Response:
    """The champion run's HTML evaluation report (rendered from MLflow, kept per run)."""
    view = current_view(request)
    facts = model_facts(request, view)
    del viewer
    if facts.run_id is None or facts.problem is not None:
        raise PageError(
            404, "Rapporten saknas", facts.problem or "Riskbedömningen anger ingen MLflow-körning."
        )
    from models.registry import tracking_for
    from models.report import render_report

    settings = app_state(request).settings
    run_id = facts.run_id

    def build() -> str:
        with MLFLOW_LOCK:
            return render_report(tracking_for(settings), run_id)

    html = web_state(request).report.get(run_id, build)
    headers = SECURITY_HEADERS | {
        # The report is self-contained: inline styles and embedded images, no script.
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        "frame-ancestors 'none'",
    }
    return HTMLResponse(html, headers=headers)
