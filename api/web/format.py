"""Swedish formatting for the planners' pages: decimal comma, space as thousands separator, ISO dates.

The thousands separator is a no-break space (U+00A0) so a number never wraps across lines; screen readers
read it as one number.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import sys
import unicodedata
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from markupsafe import Markup

from engine.contract import REGIONS
from engine.places import municipality_name
from models.targets import target_basis_sv, target_sentence_sv

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
    """A probability as a planner reads it: ``0.62`` → ``"ungefär 6 av 10"``, ``0.97`` → ``"nästan alla"``.

    "Ungefär N av 10" only where it is honest: from 95 % up, rounding would say "10 av 10", a certainty
    the model does not claim, so the words are "nästan alla".
    """
    if p >= 0.95:
        return "nästan alla"
    if p >= 0.095:
        return f"ungefär {round(p * 10)} av 10"
    if p >= 0.0095:
        return f"ungefär {round(p * 100)} av 100"
    return "färre än 1 av 100"


@functools.cache
def _format_characters() -> dict[int, None]:
    """Every Unicode format character (category ``Cf``), as a ``str.translate`` table that removes it.

    Built once, on first use (a scan of the code space takes about 0.2 s).
    """
    return {code: None for code in range(sys.maxunicode + 1) if unicodedata.category(chr(code)) == "Cf"}


def without_format_characters(text: str) -> str:
    """``text`` without Unicode format characters: what the data says, shown as it reads.

    Format characters (category ``Cf``) are invisible: bidirectional overrides, embeddings and isolates
    (U+202A–202E, U+2066–2069), marks (LRM, RLM, ALM), zero-width spaces and joiners, the word joiner,
    invisible operators, the soft hyphen, tag characters and the byte order mark. In a name they can
    reverse what a planner reads (a right-to-left override turns the rest of a name around) or
    make two different names look alike, so they are removed before a page shows any text. Markup
    (a chart built from escaped parts) stays markup: a format character is never part of HTML syntax.
    """
    if text.isascii():
        return text
    cleaned = text.translate(_format_characters())
    return Markup(cleaned) if isinstance(text, Markup) else cleaned


def shown(value: Any) -> Any:
    """What a template shows for ``value``: text without format characters, anything else as it is.

    The page templates' ``finalize`` hook: every ``{{ … }}`` passes through here before it is escaped.
    """
    return without_format_characters(value) if isinstance(value, str) else value


def path_segment(value: Any) -> str:
    """``value`` as one segment of a URL path: every reserved character percent-encoded (``/`` too)."""
    return quote(str(value), safe="")


FILTERS: dict[str, Callable[..., Any]] = {
    "segment": path_segment,
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
    "ranking_target": target_sentence_sv,
    "ranking_basis": target_basis_sv,
    "region_name": lambda code: REGIONS.get(code, code),
    "kommun_name": municipality_name,
}
