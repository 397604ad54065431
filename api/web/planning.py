"""Planera: the plan form, its preview (nothing saved), saving, saved plans and their downloads."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from api.deps import InspectionsDep
from api.web.auth import PageError, Viewer, csrf_checked, page_viewer
from api.web.format import number_sv, percent_sv
from api.web.plan_form import (
    PLAN_FIELDS,
    defaults,
    form_query,
    parse_plan_form,
    place_choices,
    plan_labels,
    plan_parameters,
)
from api.web.rendering import SECURITY_HEADERS, render, with_security_headers
from api.web.state import app_state
from api.web.views import current_view, page_context
from engine.contract import REGIONS
from serving.plan_export import inspections_csv_text, plan_csv_text
from serving.plans import (
    PLAN_ID_PATTERN,
    CooldownUnavailableError,
    PlanNotFoundError,
    PlanStore,
    make_plan,
)

router = APIRouter(include_in_schema=False)

ViewerPlans = Annotated[Viewer, Depends(page_viewer("read:plans"))]
ViewerWritePlans = Annotated[Viewer, Depends(page_viewer("write:plans"))]
COOLDOWN_DATE = re.compile(r"inspected (\d{4}-\d{2}-\d{2})")
SHORTFALL = re.compile(r"^only (\d+) of capacity (\d+) units could be chosen: (\d+) units are in cooldown")
FLOOR_LOWERED = re.compile(
    r"^the floor ([\d.]+) is more than (\d+) inspections \(or the caps\) allow on (\d+) eligible units; "
    r"used ([\d.]+)$"
)
FEW_ELIGIBLE = re.compile(r"^only (\d+) of capacity (\d+) units are eligible under the caps$")
RANDOM_PLAN = re.compile(
    r"^the floor ([\d.e-]+) is at or above (\d+) inspections / (\d+) eligible units = [\d.]+: .* the largest "
    r"useful floor is ([\d.e-]+)$"
)
PROVIDERS_OVER_CAP = re.compile(r"^providers \[.*\] spanning several regions got more than (\d+) units")
# Saved plans listed per page of the plan form: a few screens, not every plan ever stored.
PLANS_PER_PAGE = 25


def swedish_warning(warning: str) -> str:
    """The planner's warnings (``serving.planning``) in Swedish; an unknown one is shown as it is."""
    found = SHORTFALL.match(warning)
    if found:
        chosen, capacity, cooling = found.groups()
        return (
            f"Bara {chosen} av {capacity} enheter kunde väljas: {cooling} enheter är inom karenstiden "
            "och gränserna per region och vårdgivare utesluter andra."
        )
    if warning.startswith("both the provider and the region cap were binding"):
        return (
            "Både gränsen per vårdgivare och gränsen per region begränsade urvalet. "
            "Då är det inte säkert att planen ger flest möjliga förväntade fynd "
            "(den ger minst hälften av det bästa möjliga)."
        )
    found = RANDOM_PLAN.match(warning)
    if found:
        asked, inspections, eligible, largest = found.groups()
        return (
            f"Golvet {percent_sv(float(asked), 1)} är lika med eller högre än {inspections} inspektioner "
            f"delat med {number_sv(int(eligible))} valbara enheter: alla enheter får samma chans att "
            f"väljas, så planen är ett slumpvis urval som inte tar hänsyn till risken. "
            f"Det högsta golv som fortfarande följer risken är {percent_sv(float(largest), 1)}."
        )
    found = FLOOR_LOWERED.match(warning)
    if found:
        asked, inspections, eligible, used = found.groups()
        return (
            f"Golvet {percent_sv(float(asked), 1)} är högre än {inspections} inspektioner (eller gränserna) "
            f"räcker till bland {number_sv(int(eligible))} valbara enheter; planen använder "
            f"{percent_sv(float(used), 2)}."
        )
    found = FEW_ELIGIBLE.match(warning)
    if found:
        eligible, capacity = found.groups()
        return f"Bara {eligible} av {capacity} enheter kan väljas inom gränserna per region och vårdgivare."
    if warning.startswith("the stratified design does not apply the region and provider caps"):
        return (
            "Stratifierat urval tillämpar inte gränserna per region och vårdgivare "
            "(de skulle ändra urvalssannolikheterna)."
        )
    found = PROVIDERS_OVER_CAP.match(warning)
    if found:
        return (
            f"Några vårdgivare med enheter i flera regioner fick fler än {found.group(1)} enheter: "
            "riskproportionellt urval håller gränsen per vårdgivare i genomsnitt, "
            "och exakt bara inom en region."
        )
    return warning


def newest_plan_ids(store: PlanStore) -> list[str]:
    """Every stored plan id, the newest first.

    Ordered by the plan file's modification time, which is when it was saved (a plan file is written
    once and never rewritten), so the order is known without reading thousands of plan documents.
    """

    def saved_at(plan_id: str) -> int:
        try:
            return (store.root / f"{plan_id}.json").stat().st_mtime_ns
        except FileNotFoundError:  # removed since it was listed
            return 0

    return sorted(store.ids(), key=lambda plan_id: (saved_at(plan_id), plan_id), reverse=True)


def requested_page(raw: str | None) -> int:
    """The page number asked for in ``?sida=``: 1 when missing or not a number from 1 to 100 000."""
    if raw is None or not raw.isascii() or not raw.isdigit() or len(raw) > 6:
        return 1
    return min(max(int(raw), 1), 100_000)


def saved_plans(request: Request, page: int) -> dict[str, Any]:
    """One page of the stored plans' summaries (newest first) and where it lies among all of them.

    Only the plans of the page are read: the list stays as fast and as small with thousands of plans.
    """
    store = app_state(request).plans
    ids = newest_plan_ids(store)
    pages = max(1, math.ceil(len(ids) / PLANS_PER_PAGE))
    page = min(page, pages)
    first = (page - 1) * PLANS_PER_PAGE
    documents = []
    for plan_id in ids[first : first + PLANS_PER_PAGE]:
        try:
            documents.append(store.open(plan_id))
        except (PlanNotFoundError, ValueError):
            continue
    return {
        "rows": documents,
        "page": page,
        "pages": pages,
        "total": len(ids),
        "first": first + 1,
        "last": first + len(documents),
    }


def _form_page(
    request: Request, viewer: Viewer, values: dict[str, Any], errors: dict[str, str], status: int = 200
) -> Response:
    view = current_view(request)
    return render(
        request,
        "plan_form.html.j2",
        viewer,
        status=status,
        **page_context(request, view),
        fields=PLAN_FIELDS,
        values=values,
        errors=errors,
        places=place_choices(),
        plans=saved_plans(request, requested_page(request.query_params.get("sida")))
        if viewer.can("read:plans")
        else None,
    )


@router.get("/planera")
def read_plan_form(*, request: Request, viewer: ViewerPlans) -> Response:
    """The form (pre-filled from the query string when coming back from a preview) and the saved plans."""
    values = defaults(app_state(request).config.planning)
    if request.query_params:
        parsed, errors = parse_plan_form(request.query_params)
        if not errors:
            values = parsed
    return _form_page(request, viewer, values, {})


def swedish_skip_detail(skip: dict[str, Any], parameters: dict[str, Any]) -> str:
    """Why a higher-ranked unit was passed over, in Swedish."""
    reason = skip["reason"]
    if reason == "cooldown":
        found = COOLDOWN_DATE.search(skip.get("detail", ""))
        when = f" {found.group(1)}" if found else ""
        return f"Inspekterad{when}, inom karenstiden på {parameters['cooldown_months']} månader."
    if reason == "provider_cap":
        return (
            f"Vårdgivaren har redan {parameters['max_per_provider']} enheter i planen "
            f"(högst {parameters['max_per_provider']})."
        )
    if reason == "region_cap":
        region = REGIONS.get(skip["region_code"], skip["region_code"])
        cap = parameters["per_region"]
        return f"Region {region} har redan {cap} enheter i planen (högst {cap})."
    return str(skip.get("detail", ""))


def _plan_document(request: Request, values: dict[str, Any], inspections: InspectionsDep) -> dict[str, Any]:
    served = app_state(request).holder.served
    assert served is not None
    config = app_state(request).config
    labels = plan_labels(values)
    try:
        return make_plan(
            served.snapshot,
            plan_parameters(values, config.planning),
            inspections=inspections.frame,
            inspections_snapshot_id=inspections.snapshot_id,
            min_contribution=config.scoring.min_contribution,
            name=labels["name"],
            purpose=labels["purpose"],
        )
    except CooldownUnavailableError as error:
        raise PageError(
            409,
            "Karenstiden kan inte tillämpas",
            "Det finns inga inspektioner inlästa, så karenstid kan inte tillämpas. Sätt karenstiden till 0 "
            "eller läs in en ögonblicksbild med inspektioner.",
        ) from error
    except ValueError as error:
        raise PageError(400, "Planen kunde inte skapas", str(error)) from error


@router.post("/planera/forhandsgranska")
async def preview_plan(
    *, request: Request, viewer: ViewerWritePlans, inspections: InspectionsDep
) -> Response:
    """Compute the plan and show it; nothing is stored until the planner saves it."""
    await csrf_checked(request, viewer)
    form = await request.form()
    values, errors = parse_plan_form(form)
    view = current_view(request)
    if values.get("risk_area") not in view.areas:
        errors["risk_area"] = "Välj ett riskområde."
    if errors:
        return _form_page(request, viewer, values, errors, status=422)
    document = _plan_document(request, values, inspections)
    return render(
        request,
        "plan_preview.html.j2",
        viewer,
        **page_context(request, view),
        plan=document,
        fields=PLAN_FIELDS,
        values=values,
        change_query=form_query(values),
        skipped=[
            skip | {"detail_sv": swedish_skip_detail(skip, document["parameters"])}
            for skip in document["skipped"]
        ],
        warnings=[swedish_warning(warning) for warning in document["warnings"]],
        saved=False,
    )


@router.post("/planera/spara")
async def save_plan(*, request: Request, viewer: ViewerWritePlans, inspections: InspectionsDep) -> Response:
    """Store the previewed plan (same parameters and data give the same plan id) and show it."""
    await csrf_checked(request, viewer)
    form = await request.form()
    values, errors = parse_plan_form(form)
    if values.get("risk_area") not in current_view(request).areas:
        errors["risk_area"] = "Välj ett riskområde."
    if errors:
        return _form_page(request, viewer, values, errors, status=422)
    document = _plan_document(request, values, inspections)
    app_state(request).plans.save(document)
    request.state.audit_resources = {"plan_id": document["plan_id"], "score_id": document["score_id"]}
    return with_security_headers(RedirectResponse(f"/planer/{document['plan_id']}?sparad=1", status_code=303))


def _stored(request: Request, plan_id: str) -> dict[str, Any]:
    if not re.match(PLAN_ID_PATTERN, plan_id):
        raise PageError(404, "Okänd plan", "Planens id har fel form.")
    try:
        return app_state(request).plans.open(plan_id)
    except PlanNotFoundError as error:
        raise PageError(404, "Okänd plan", f"Det finns ingen sparad plan {plan_id}.") from error


@router.get("/planer/{plan_id}")
def read_plan(*, request: Request, viewer: ViewerPlans, plan_id: str) -> Response:
    document = _stored(request, plan_id)
    view = current_view(request)
    return render(
        request,
        "plan_preview.html.j2",
        viewer,
        **page_context(request, view),
        plan=document,
        fields=PLAN_FIELDS,
        values=document["parameters"],
        skipped=[
            skip | {"detail_sv": swedish_skip_detail(skip, document["parameters"])}
            for skip in document["skipped"]
        ],
        warnings=[swedish_warning(warning) for warning in document["warnings"]],
        saved=True,
        just_saved=request.query_params.get("sparad") == "1",
    )


def _download(text: str, filename: str) -> Response:
    headers = SECURITY_HEADERS | {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(text.encode("utf-8"), media_type="text/csv; charset=utf-8", headers=headers)


@router.get("/planer/{plan_id}/plan.csv")
def download_plan_csv(*, request: Request, viewer: ViewerPlans, plan_id: str) -> Response:
    """The chosen units for Swedish Excel (``;``, decimal comma, UTF-8 with BOM, formulas neutralised)."""
    del viewer
    return _download(plan_csv_text(_stored(request, plan_id)), f"{plan_id}.csv")


@router.get("/planer/{plan_id}/inspections.csv")
def download_inspections_csv(*, request: Request, viewer: ViewerPlans, plan_id: str) -> Response:
    """The plan's ``inspections.csv`` rows for the inspectors to fill in (UTF-8 with BOM)."""
    del viewer
    document = _stored(request, plan_id)
    text = inspections_csv_text(document, app_state(request).config.risk_area_ids)
    return _download("\ufeff" + text, f"{plan_id}-inspections.csv")
