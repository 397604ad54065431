"""Luhn check digits for organisationsnummer and the HSA-id form."""

from __future__ import annotations

import polars as pl
import pytest

from engine.identifiers import hsa_id, is_luhn_valid, luhn_check_digit, luhn_valid_expr, organisation_number


@pytest.mark.parametrize(
    ("number", "valid"),
    [("2321000016", True), ("5560360793", True), ("2321000017", False), ("232100001", False), ("abc", False)],
    ids=["region-stockholm", "company", "wrong-check-digit", "nine-digits", "letters"],
)
def test_is_luhn_valid(number: str, valid: bool) -> None:
    assert is_luhn_valid(number) is valid


def test_vectorised_luhn_agrees_with_scalar() -> None:
    numbers = ["2321000016", "2321000017", "5560360793", "12345", "x234567890"]
    vectorised = pl.DataFrame({"n": numbers}).select(luhn_valid_expr(pl.col("n"))).to_series().to_list()
    assert vectorised == [is_luhn_valid(n) for n in numbers]


def test_organisation_number_completes_check_digit() -> None:
    assert organisation_number("232100001") == "2321000016"
    assert hsa_id("2321000016", "1001") == "SE2321000016-1001"


def test_check_digit_rejects_malformed_input() -> None:
    with pytest.raises(ValueError, match="expected nine digits"):
        luhn_check_digit("12")
