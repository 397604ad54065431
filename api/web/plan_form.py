"""The plan form's fields in one place: labels, help, input attributes and parsing into plan parameters.

A new plan parameter is one more :class:`FormField` here (and the field in ``api.schemas.PlanRequest``,
which validates the form exactly as it validates ``POST /v1/plans``): the form, the preview's hidden
fields, the error messages and the saved plan's summary all loop over :data:`PLAN_FIELDS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from pydantic import ValidationError

from api.schemas import PlanRequest
from api.web.format import number_sv
from engine.config import PlanningSettings
from engine.contract import REGIONS
from engine.personal_data import contains_personal_number
from engine.places import municipality_codes_in, municipality_names
from serving.planning import PlanParameters
from serving.planning import plan_parameters as parameters_with_defaults
from serving.plans import MAX_NAME_CHARS, MAX_PURPOSE_CHARS


@dataclass(frozen=True)
class FormField:
    """One plan parameter as a form control."""

    name: str
    label: str
    help: str
    kind: str = "int"  # int, float, optional_int, percent, area, choice, line, text, regions, municipalities
    minimum: float | None = None
    maximum: float | None = None
    default: Any = None
    choices: tuple[tuple[str, str], ...] = ()  # (value, Swedish label) of a ``choice``

    @property
    def multiple(self) -> bool:
        """Whether the field takes several values (a list of codes)."""
        return self.kind in MULTIPLE_KINDS

    def text(self, value: Any) -> str:
        """The value as it is shown in the form (percentages as whole numbers, decimal comma)."""
        if value is None:
            return ""
        if self.kind == "percent":
            return f"{float(value) * 100:g}".replace(".", ",")
        return str(value)

    def texts(self, value: Any) -> list[str]:
        """The value as form values: one per chosen code for a list, else :meth:`text` alone."""
        if self.multiple:
            return [str(code) for code in value or []] if not isinstance(value, str) else [value]
        return [self.text(value)]


MULTIPLE_KINDS = frozenset({"regions", "municipalities"})


PLAN_FIELDS: tuple[FormField, ...] = (
    FormField(
        "name",
        "Planens namn (valfritt)",
        f"Ett kort namn som visas i listan över sparade planer, högst {MAX_NAME_CHARS} tecken på en rad. "
        "Skriv aldrig personnummer.",
        "line",
        maximum=MAX_NAME_CHARS,
    ),
    FormField(
        "purpose",
        "Syfte (valfritt)",
        f"Varför planen görs, högst {number_sv(MAX_PURPOSE_CHARS)} tecken. Skriv aldrig personnummer.",
        "text",
        maximum=MAX_PURPOSE_CHARS,
    ),
    FormField(
        "risk_area", "Riskområde", "Vilket riskområde planen rangordnar efter.", "area", default="overall"
    ),
    FormField(
        "capacity",
        "Antal inspektioner",
        "Hur många enheter planen ska innehålla (1–2 000).",
        "int",
        1,
        2000,
        20,
    ),
    FormField(
        "regions",
        "Begränsa till regioner (valfritt)",
        "Planen väljer bara bland enheterna i de markerade regionerna och kommunerna. Inget markerat: "
        "hela landet.",
        "regions",
    ),
    FormField(
        "municipalities",
        "Begränsa till kommuner (valfritt)",
        "Håll ned Ctrl (Cmd på Mac) för att markera flera. Enheter i en markerad region eller kommun "
        "kan väljas.",
        "municipalities",
    ),
    FormField(
        "per_region",
        "Högst per region",
        "Tomt betyder ingen gräns. Gäller de riskrankade enheterna.",
        "optional_int",
        1,
        2000,
        3,
    ),
    FormField(
        "max_per_provider",
        "Högst per vårdgivare",
        "Tomt betyder ingen gräns. Gäller de riskrankade enheterna.",
        "optional_int",
        1,
        2000,
        2,
    ),
    FormField(
        "exploration",
        "Andel slumpvis urval (%)",
        "Den del av planen som dras slumpvis, så att modellen kan utvärderas utan snedvridning (0–100).",
        "percent",
        0,
        100,
    ),
    FormField(
        "design",
        "Urvalsmetod",
        "Riskrangordnat: de högst rankade plus en slumpvis andel. Riskproportionellt: varje enhet dras med "
        "en sannolikhet som följer risken, aldrig under golvet, så att planen också ger en väntevärdesriktig "
        "skattning av hur vanliga brister är. Stratifierat: ett slumpvis urval per region.",
        "choice",
        choices=(
            ("top", "Riskrangordnat med slumpvis andel"),
            ("pps", "Riskproportionellt med golv"),
            ("stratified", "Stratifierat slumpvis urval"),
        ),
    ),
    FormField(
        "floor",
        "Golv: lägsta urvalssannolikhet (%)",
        "Gäller riskproportionellt urval: varje valbar enhet har minst denna chans att väljas (0–100). "
        "Ett golv på eller över antal inspektioner ÷ valbara enheter ger alla samma chans: ett slumpvis "
        "urval.",
        "percent",
        0,
        100,
    ),
    FormField(
        "cooldown_months",
        "Karenstid (månader)",
        "Enheter som inspekterats så här nyligen hoppas över (0–120).",
        "int",
        0,
        120,
    ),
    FormField(
        "seed",
        "Slumpfrö",
        "Samma frö och samma uppgifter ger alltid samma plan.",
        "int",
        0,
        2**32 - 1,
        42,
    ),
)
MESSAGES_SV = {
    "int": "Ange ett heltal",
    "optional_int": "Ange ett heltal eller lämna tomt",
    "percent": "Ange en procentsats",
    "float": "Ange ett tal",
    "area": "Välj ett riskområde",
    "choice": "Välj ett av alternativen",
    "line": f"Skriv högst {MAX_NAME_CHARS} tecken på en rad, utan personnummer",
    "text": f"Skriv högst {number_sv(MAX_PURPOSE_CHARS)} tecken, utan styrtecken och personnummer",
    "regions": "Välj regioner i listan",
    "municipalities": "Välj kommuner i listan",
}
# Fields that need not be filled in (an empty one is "none"/"no limit").
OPTIONAL_KINDS = frozenset({"optional_int", "line", "text", "regions", "municipalities"})


def defaults(planning: PlanningSettings) -> dict[str, Any]:
    """The form's pre-filled values: the configured plan defaults, and an example for the others."""
    return {field.name: field.default for field in PLAN_FIELDS} | planning.model_dump()


def _parsed(field: FormField, raw: str) -> Any:
    if field.kind in {"line", "text"}:
        return raw.strip() or None
    text = raw.strip().replace("\u00a0", "").replace(" ", "")
    if field.kind in {"area", "choice"}:
        return text
    if text == "":
        return None
    if field.kind == "percent":
        return round(float(text.replace(",", ".")) / 100.0, 6)
    if field.kind == "float":
        return float(text.replace(",", "."))
    return int(text)


def parse_plan_form(form: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """``(values, errors)``: values ready for :class:`PlanRequest`; errors per field name, in Swedish."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field in PLAN_FIELDS:
        if field.multiple:
            values[field.name] = _chosen_codes(form, field.name)
            continue
        raw = form.get(field.name)
        raw = raw if isinstance(raw, str) else ""
        try:
            values[field.name] = _parsed(field, raw)
        except ValueError:
            errors[field.name] = _range_message(field)
            values[field.name] = raw
        if values.get(field.name) is None and field.kind not in OPTIONAL_KINDS and field.name not in errors:
            errors[field.name] = _range_message(field)
    if errors:
        return values, errors
    try:
        PlanRequest.model_validate(values)
    except ValidationError as error:
        for item in error.errors():
            name = str(item["loc"][0]) if item["loc"] else ""
            known = next((f for f in PLAN_FIELDS if f.name == name), None)
            errors[name] = _range_message(known) if known else str(item["msg"])
    # A refused label is never shown again if it holds a personal identity number (the form is re-shown).
    for field in PLAN_FIELDS:
        value = values.get(field.name)
        if field.kind in {"line", "text"} and isinstance(value, str) and contains_personal_number(value):
            values[field.name] = None
    return values, errors


def _chosen_codes(form: Mapping[str, Any], name: str) -> list[str] | None:
    """The codes chosen in a multi-valued field (at most :data:`MAX_CHOSEN`; None when none is)."""
    getlist = getattr(form, "getlist", None)
    raw = getlist(name) if getlist is not None else [form.get(name)]
    codes = [value.strip() for value in raw if isinstance(value, str) and value.strip()]
    return codes[:MAX_CHOSEN] or None


# More than every kommun is never a real choice: the request model refuses unknown and too many codes.
MAX_CHOSEN = 300


def _range_message(field: FormField) -> str:
    message = MESSAGES_SV[field.kind]
    if field.kind in {"line", "text", "regions", "municipalities"}:
        return message + "."
    if field.minimum is not None and field.maximum is not None and field.kind not in {"area", "choice"}:
        message += f" mellan {field.minimum:g} och {field.maximum:g}".replace(".", ",")
    return message + "."


def plan_parameters(values: dict[str, Any], planning: PlanningSettings) -> PlanParameters:
    """The engine's parameters from validated form values (the request model decides what is valid)."""
    request = PlanRequest.model_validate(values)
    # The labels are the plan's, not its parameters (make_plan takes them on their own).
    return parameters_with_defaults(planning, **request.model_dump(exclude={"score_id", "name", "purpose"}))


def plan_labels(values: dict[str, Any]) -> dict[str, str | None]:
    """The plan's name and purpose from validated form values."""
    request = PlanRequest.model_validate(values)
    return {"name": request.name, "purpose": request.purpose}


def form_query(values: dict[str, Any]) -> str:
    """The form's values as a query string (the preview's "Ändra" link back to a filled-in form)."""
    return urlencode(
        [(field.name, text) for field in PLAN_FIELDS for text in field.texts(values.get(field.name))]
    )


def place_choices() -> list[tuple[str, str, list[tuple[str, str]]]]:
    """Per region (by name): its code, name and kommuner (code, name, by name) for the form's lists."""
    names = municipality_names()
    return [
        (
            region,
            REGIONS[region],
            sorted(
                ((code, names[code]) for code in municipality_codes_in(region)), key=lambda place: place[1]
            ),
        )
        for region in sorted(REGIONS, key=REGIONS.__getitem__)
    ]
