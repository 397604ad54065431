"""Swedish identifiers: Luhn check digits, organisationsnummer and HSA-id.

Personnummer detection lives in :mod:`engine.personal_data`; it builds on the Luhn helpers here.
"""

from __future__ import annotations

import re

import polars as pl

ORGANISATION_NUMBER_PATTERN = r"^\d{10}$"
HSA_ID_PATTERN = r"^SE\d{10}-[A-Za-z0-9]+$"
# The organisationsnummer inside an HSA-id (a sole trader's is the owner's personnummer).
HSA_ORGANISATION_PATTERN = r"^SE(\d{10})-"


def luhn_check_digit(first_nine: str) -> int:
    """The Luhn check digit that completes nine digits to a valid 10-digit Swedish number.

    >>> luhn_check_digit("232100001")
    6
    """
    if len(first_nine) != 9 or not first_nine.isdigit():
        raise ValueError(f"expected nine digits, got {first_nine!r}")
    total = 0
    for position, char in enumerate(first_nine):
        product = int(char) * (2 if position % 2 == 0 else 1)
        total += product - 9 if product > 9 else product
    return (10 - total % 10) % 10


def is_luhn_valid(ten_digits: str) -> bool:
    """Whether a 10-digit string ends in its Luhn check digit."""
    if len(ten_digits) != 10 or not ten_digits.isdigit():
        return False
    return luhn_check_digit(ten_digits[:9]) == int(ten_digits[9])


def luhn_valid_expr(ten_digits: pl.Expr) -> pl.Expr:
    """Vectorised :func:`is_luhn_valid` for a string expression of ten digits (null if malformed)."""
    total: pl.Expr = pl.lit(0, dtype=pl.Int32)
    for position in range(10):
        digit = ten_digits.str.slice(position, 1).cast(pl.Int32, strict=False)
        product = digit * (2 if position % 2 == 0 else 1)
        total = total + pl.when(product > 9).then(product - 9).otherwise(product)
    well_formed = ten_digits.str.contains(ORGANISATION_NUMBER_PATTERN)
    return pl.when(well_formed).then(total % 10 == 0).otherwise(pl.lit(False))


def organisation_number(first_nine: str) -> str:
    """A valid organisationsnummer from its first nine digits."""
    return f"{first_nine}{luhn_check_digit(first_nine)}"


def hsa_id(organisation: str, local_part: str) -> str:
    """An HSA-id in the form ``SE<organisationsnummer>-<local part>``."""
    return f"SE{organisation}-{local_part}"


def hsa_organisation_number(unit_id: str) -> str | None:
    """The organisationsnummer an HSA-id starts with (``SE<organisationsnummer>-``), or None.

    >>> hsa_organisation_number("SE2321000016-vc1")
    '2321000016'
    """
    match = re.match(HSA_ORGANISATION_PATTERN, unit_id)
    return match.group(1) if match else None
