"""The plan form's fields in one place: labels, help, input attributes and parsing into plan parameters.

A new plan parameter is one more :class:`FormField` here (and the field in ``api.schemas.PlanRequest``,
which validates the form exactly as it validates ``POST /v1/plans``): the form, the preview's hidden
fields, the error messages and the saved plan's summary all loop over :data:`PLAN_FIELDS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from api.schemas import PlanRequest
from engine.config import PlanningSettings
from serving.planning import PlanParameters
from serving.planning import plan_parameters as parameters_with_defaults


@dataclass(frozen=True)
class FormField:
    """One plan parameter as a form control."""

    name: str
    label: str
    help: str
    kind: str = "int"  # int, float, optional_int, percent, area, choice
    minimum: float | None = None
    maximum: float | None = None
    default: Any = None
    choices: tuple[tuple[str, str], ...] = ()  # (value, Swedish label) of a ``choice``

    def text(self, value: Any) -> str:
        """The value as it is shown in the form (percentages as whole numbers, decimal comma)."""
        if value is None:
            return ""
        if self.kind == "percent":
            return f"{float(value) * 100:g}".replace(".", ",")
        return str(value)


PLAN_FIELDS: tuple[FormField, ...] = (
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
        "Gäller riskproportionellt urval: varje valbar enhet har minst denna chans att väljas (0–100).",
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
}


def defaults(planning: PlanningSettings) -> dict[str, Any]:
    """The form's pre-filled values: the configured plan defaults, and an example for the others."""
    return {field.name: field.default for field in PLAN_FIELDS} | planning.model_dump()


def _parsed(field: FormField, raw: str) -> Any:
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
        raw = form.get(field.name)
        raw = raw if isinstance(raw, str) else ""
        try:
            values[field.name] = _parsed(field, raw)
        except ValueError:
            errors[field.name] = _range_message(field)
            values[field.name] = raw
        if values.get(field.name) is None and field.kind != "optional_int" and field.name not in errors:
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
    return values, errors


def _range_message(field: FormField) -> str:
    message = MESSAGES_SV[field.kind]
    if field.minimum is not None and field.maximum is not None and field.kind not in {"area", "choice"}:
        message += f" mellan {field.minimum:g} och {field.maximum:g}".replace(".", ",")
    return message + "."


def plan_parameters(values: dict[str, Any], planning: PlanningSettings) -> PlanParameters:
    """The engine's parameters from validated form values (the request model decides what is valid)."""
    request = PlanRequest.model_validate(values)
    # The labels are the plan's, not its parameters (the form has no fields for them yet).
    return parameters_with_defaults(planning, **request.model_dump(exclude={"score_id", "name", "purpose"}))
