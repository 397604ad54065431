"""Swedish formatting for the planners' pages: decimal comma, space as thousands separator, ISO dates.

The thousands separator is a no-break space (U+00A0) so a number never wraps across lines; screen readers
read it as one number.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

THOUSANDS = "\u00a0"
MINUS = "\u2212"
OWNERSHIP_SV = {"public": "offentlig", "private": "privat"}
UNIT_TYPE_SV = {"vardcentral": "vårdcentral"}
FINDING_SV = {"none": "inga brister", "deficiency": "brister", "serious": "allvarliga brister (föreläggande)"}
SELECTION_SV = {
    "random": "slumpvis",
    "risk_based": "riskbaserad",
    "complaint_triggered": "efter klagomål",
    "other": "annan",
}
PLAN_REASON_SV = {
    "risk_rank": "riskrankad",
    "random": "slumpvis (utforskning)",
    "pps": "riskproportionellt urval",
}
SKIP_REASON_SV = {
    "cooldown": "nyligen inspekterad (karenstid)",
    "provider_cap": "vårdgivaren har redan max antal enheter",
    "region_cap": "regionen har redan max antal enheter",
}


def number_sv(value: Any, decimals: int = 0) -> str:
    """``12345.678`` → ``"12 345,68"`` (decimals=2); None or NaN → ``"–"``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    text = f"{abs(float(value)):,.{decimals}f}".replace(",", THOUSANDS).replace(".", ",")
    return (MINUS if float(value) < 0 and text.strip("0,\u00a0") else "") + text


def percent_sv(value: Any, decimals: int = 0) -> str:
    """A share as a percentage: ``0.1234`` → ``"12 %"`` (decimals=0) or ``"12,3 %"``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{number_sv(float(value) * 100, decimals)}\u00a0%"


def date_sv(value: Any) -> str:
    """ISO date (``2026-01-01``); datetimes are shown to the minute in UTC."""
    if value is None:
        return "–"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M") + " UTC"
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    return text[:10] if len(text) >= 10 else text


def odds_in_words(p: float) -> str:
    """A probability as a planner reads it: ``0.62`` → ``"ungefär 6 av 10"``."""
    if p >= 0.095:
        return f"ungefär {round(p * 10)} av 10"
    if p >= 0.0095:
        return f"ungefär {round(p * 100)} av 100"
    return "färre än 1 av 100"


FILTERS = {
    "number": number_sv,
    "percent": percent_sv,
    "isodate": date_sv,
    "odds": odds_in_words,
    "ownership": lambda value: OWNERSHIP_SV.get(value, value),
    "unit_type": lambda value: UNIT_TYPE_SV.get(value, value),
    "finding": lambda value: FINDING_SV.get(value, value),
    "selection": lambda value: SELECTION_SV.get(value, value),
    "plan_reason": lambda value: PLAN_REASON_SV.get(value, value),
    "skip_reason": lambda value: SKIP_REASON_SV.get(value, value),
}
