"""Swedish län and kommun names by their SCB codes, from the packaged ``engine/data/kommuner.csv``.

The file holds SCB's regional division in force 2024 (21 län, 290 kommuner), transcribed by hand — see
its header. A kommun code's first two digits are its län code. A code that is not in the file (a
kommun created later, a test world's own code) is shown as the bare code, never as an error.
"""

from __future__ import annotations

import csv
import functools
from importlib import resources

PLACES_FILE = "data/kommuner.csv"


@functools.cache
def place_names() -> dict[str, str]:
    """Every SCB code in the packaged file (two digits: län, four digits: kommun) → its name."""
    text = resources.files("engine").joinpath(PLACES_FILE).read_text(encoding="utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if line and not line.startswith("#"))
    return {row["kod"]: row["namn"] for row in rows}


def municipality_names() -> dict[str, str]:
    """Kommun code (four digits) → kommun name, the 290 kommuner of 2024."""
    return {code: name for code, name in place_names().items() if len(code) == 4}


def county_names() -> dict[str, str]:
    """Län code (two digits) → the län's name (``"03"`` → ``"Uppsala län"``)."""
    return {code: name for code, name in place_names().items() if len(code) == 2}


def municipality_name(code: str) -> str:
    """The kommun's name, or ``code`` itself when the code is not in SCB's list."""
    return place_names().get(code, code) if len(code) == 4 else code


def municipality_codes_in(county: str) -> list[str]:
    """The kommun codes of one län, in code order."""
    return sorted(code for code in municipality_names() if code[:2] == county)
