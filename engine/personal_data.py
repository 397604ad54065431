"""Swedish personal identity numbers anywhere in text: find them, mask them, redact them.

The one detector of the project: ingest (every string column and column name), the audit log, API
error details and CLI output all use it.

A personnummer is ``YYMMDD-NNNC`` or ``YYYYMMDDNNNC`` whose ten-digit form ends in a Luhn check digit
(:mod:`engine.identifiers`); a samordningsnummer adds 60 to the day; ``+`` replaces the separator for
people over 100. Organisationsnummer of legal persons share the ten-digit Luhn form but have month
digits ≥ 20, so the plausible-date test keeps them out (a sole trader's organisationsnummer *is* the
owner's personnummer and is found).

People write the numbers in many ways, so text is normalised before matching:

- every Unicode decimal digit counts as its ASCII digit (full-width ``１２``, Arabic-Indic, ...);
- digits form *groups*; groups joined by at most :data:`MAX_SEPARATOR_RUN` separator characters
  (space, no-break and narrow spaces, ``-``, en/em dash — also the Windows-1252 bytes 0x96/0x97 read
  as Latin-1 —, non-breaking hyphen, minus sign, soft hyphen, ``.``, ``/``, ``_``, ``+``) form a *run*;
- a candidate is any consecutive groups of a run with 10 or 12 digits in total whose inner boundaries
  fall where people split the number: between the date parts (``12 12 12-1212``) and before the last
  four digits (positions 2, 4, 6 of the ten-digit form; 2 and 8 of the twelve-digit form). A longer
  group is never cut (``konto 1212121212129`` is an account, not a personnummer), and a phone number
  grouped ``070-123 45 67`` is not a candidate.

The numbers never leave this module in a report: matches are (row, column, kind), and every other
output masks them as ``<personnummer>`` (:func:`masked`) or redacts them (:func:`redacted_text`).
False-positive rates on ordinary numbers: ``docs/data-quality.md``.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import polars as pl

from engine.identifiers import is_luhn_valid

PERSONNUMMER_MASK = "<personnummer>"
REDACTION_TEXT = "[personnummer borttaget]"
MAX_SEPARATOR_RUN = 5
_CENTURIES = ("18", "19", "20")
# Where a written number may be split: the ten-digit form between its date parts and before the
# serial; the twelve-digit form after the century and before the serial only (``19850715-1234``):
# grouping its date part too would make every date range ``2019-01-15 – 2020-…`` a candidate.
_ALLOWED_BOUNDARIES = {10: frozenset({2, 4, 6}), 12: frozenset({2, 8})}
# A value needs at least ten digits (any script) to hold a number: a cheap vectorised pre-filter.
_ENOUGH_DIGITS = 10
_DIGIT_REGEX = r"\d"

SEPARATORS = frozenset(
    " \t\n\r\v\f\u00a0\u202f\u200b\u2060\ufeff"
    "\u2007\u2009\u200a\u2002\u2003\u2004\u2005\u2006\u2008\u205f\u3000"
    "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u00ad\ufe58\ufe63\uff0d\u0096\u0097"
    "._/+\uff0e\uff0f\uff3f\uff0b\ufffd"
)
"""Characters that may stand between the digit groups of one written number."""


@dataclass(frozen=True)
class PersonalNumber:
    """One number found in a text: its kind and where it is (``text[start:end]``)."""

    kind: str
    start: int
    end: int


@dataclass(frozen=True)
class _Group:
    digits: str
    start: int
    end: int


def digit_value(char: str) -> str | None:
    """The ASCII digit a character stands for (any Unicode digit), or None."""
    if "0" <= char <= "9":
        return char
    if char.isascii():
        return None
    value = unicodedata.digit(char, None)
    return None if value is None else str(value)


def personal_number_kind(digits: str) -> str | None:
    """``personnummer``, ``samordningsnummer`` or None for 10 or 12 ASCII digits."""
    if len(digits) == 12:
        if digits[:2] not in _CENTURIES:
            return None
        digits = digits[2:]
    if len(digits) != 10 or not digits.isdigit():
        return None
    month, day = int(digits[2:4]), int(digits[4:6])
    if not 1 <= month <= 12 or not is_luhn_valid(digits):
        return None
    if 1 <= day <= 31:
        return "personnummer"
    if 61 <= day <= 91:
        return "samordningsnummer"
    return None


def _runs(text: str) -> list[list[_Group]]:
    """Digit groups of ``text`` joined into runs by short separator sequences."""
    runs: list[list[_Group]] = []
    current: list[_Group] = []
    index, length = 0, len(text)
    gap_start = -1
    while index < length:
        digit = digit_value(text[index])
        if digit is None:
            if current and gap_start < 0:
                gap_start = index
            if text[index] not in SEPARATORS or (gap_start >= 0 and index - gap_start >= MAX_SEPARATOR_RUN):
                if current:
                    runs.append(current)
                current, gap_start = [], -1
            index += 1
            continue
        start, digits = index, [digit]
        index += 1
        while index < length and (next_digit := digit_value(text[index])) is not None:
            digits.append(next_digit)
            index += 1
        current.append(_Group("".join(digits), start, index))
        gap_start = -1
    if current:
        runs.append(current)
    return runs


def _candidates(run: list[_Group]) -> list[PersonalNumber]:
    found = []
    for first in range(len(run)):
        total, boundaries, digits = 0, set(), []
        for group in run[first:]:
            if total:
                boundaries.add(total)
            total += len(group.digits)
            digits.append(group.digits)
            if total > 12:
                break
            if total in _ALLOWED_BOUNDARIES and boundaries <= _ALLOWED_BOUNDARIES[total]:
                kind = personal_number_kind("".join(digits))
                if kind is not None:
                    found.append(PersonalNumber(kind, run[first].start, group.end))
    return found


@lru_cache(maxsize=65_536)
def _personal_numbers_cached(text: str) -> tuple[PersonalNumber, ...]:
    return tuple(number for run in _runs(text) for number in _candidates(run))


def personal_numbers(text: str | None) -> tuple[PersonalNumber, ...]:
    """Every personnummer or samordningsnummer written in ``text``, in order (may overlap)."""
    if not text or sum(digit_value(char) is not None for char in text) < _ENOUGH_DIGITS:
        return ()
    return _personal_numbers_cached(text)


def contains_personal_number(text: str | None) -> bool:
    """Whether ``text`` holds a personnummer or samordningsnummer in any written form."""
    return bool(personal_numbers(text))


def _replaced(text: str, replacement: str) -> str:
    found = personal_numbers(text)
    if not found:
        return text
    spans: list[list[int]] = []
    for number in sorted(found, key=lambda item: item.start):
        if spans and number.start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], number.end)
        else:
            spans.append([number.start, number.end])
    parts, position = [], 0
    for start, end in spans:
        parts += [text[position:start], replacement]
        position = end
    parts.append(text[position:])
    return "".join(parts)


def masked(text: str) -> str:
    """``text`` with every personal identity number replaced by ``<personnummer>``."""
    return _replaced(text, PERSONNUMMER_MASK)


def redacted_text(text: str) -> str:
    """``text`` with every personal identity number replaced by the redaction text."""
    return _replaced(text, REDACTION_TEXT)


class MaskingFilter(logging.Filter):
    """A logging filter that masks personal identity numbers in every record it passes.

    Attached to the CLI's log handlers and to uvicorn's loggers (request lines quote paths and query
    strings as sent), so no log line holds a number, whoever logs it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        hidden = masked(message)
        if hidden != message:
            record.msg, record.args = hidden, None
        return True


def _candidate_values(series: pl.Series) -> pl.Series:
    """Distinct values of a string series with enough digits to hold a number (the pre-filter)."""
    strings = series.cast(pl.String).drop_nulls().unique()
    strings = strings.filter(strings.str.len_chars() >= _ENOUGH_DIGITS)
    return strings.filter(strings.str.count_matches(_DIGIT_REGEX) >= _ENOUGH_DIGITS)


def personal_values(series: pl.Series) -> dict[str, str]:
    """Every distinct value of ``series`` that holds a number, with the kind of its first number."""
    found = {}
    for value in _candidate_values(series).to_list():
        numbers = personal_numbers(value)
        if numbers:
            found[value] = numbers[0].kind
    return found


def _mapped_series(series: pl.Series, replacement: str) -> pl.Series:
    values = personal_values(series)
    if not values:
        return series.cast(pl.String)
    mapping = {value: _replaced(value, replacement) for value in values}
    strings = series.cast(pl.String)
    return strings.replace(mapping)


def masked_expr(text: pl.Expr) -> pl.Expr:
    """``text`` (a string expression) with every personal identity number masked."""
    return text.cast(pl.String).map_batches(
        lambda series: _mapped_series(series, PERSONNUMMER_MASK), return_dtype=pl.String
    )


def redacted_expr(text: pl.Expr) -> pl.Expr:
    """``text`` with every personal identity number replaced by :data:`REDACTION_TEXT`."""
    return text.cast(pl.String).map_batches(
        lambda series: _mapped_series(series, REDACTION_TEXT), return_dtype=pl.String
    )


def personal_number_matches(
    frame: pl.DataFrame, columns: Sequence[str], row_column: str = "__row__"
) -> pl.DataFrame:
    """One row per cell of ``columns`` that holds a personal identity number.

    Returns
    -------
    pl.DataFrame
        ``row`` (from ``row_column``), ``column`` and ``kind`` — never the number itself.
    """
    parts = []
    for column in columns:
        values = personal_values(frame[column])
        if not values:
            continue
        hits = frame.select(pl.col(row_column).alias("row"), pl.col(column).cast(pl.String).alias("value"))
        parts.append(
            hits.filter(pl.col("value").is_in(list(values))).select(
                "row",
                pl.lit(column).alias("column"),
                pl.col("value").replace_strict(values, return_dtype=pl.String).alias("kind"),
            )
        )
    if not parts:
        return pl.DataFrame(schema={"row": pl.Int64, "column": pl.String, "kind": pl.String})
    return pl.concat(parts).with_columns(pl.col("row").cast(pl.Int64))
