"""Swedish personal identity numbers anywhere in text: find them, mask them, redact them.

The one detector of the project: ingest (every string column and column name), the audit log, API
error details and CLI output all use it.

A personnummer is ``YYMMDD-NNNC`` or ``YYYYMMDDNNNC`` whose ten-digit form ends in a Luhn check digit
(:mod:`engine.identifiers`); a samordningsnummer adds 60 to the day; ``+`` replaces the separator for
people over 100. Organisationsnummer of legal persons share the ten-digit Luhn form but have month
digits ≥ 20, so the plausible-date test keeps them out (a sole trader's organisationsnummer *is* the
owner's personnummer and is found).

People write the numbers in many ways, so text is normalised before matching:

- every Unicode digit counts as its ASCII digit (full-width ``１２``, Arabic-Indic, circled ``①``,
  sub- and superscript ``₁``, ...); the vectorised pre-filter counts the same characters;
- invisible characters are dropped wherever they are, as if they were not there: format characters
  (Unicode category ``Cf``: soft hyphen, zero-width space, word joiner, ZWNJ/ZWJ, LRM/RLM, the bidi
  controls, invisible operators, ...), combining marks (``Mn``, ``Me``: CGJ, variation selectors, accents
  put on digits) and the rest of Unicode's default-ignorable code points (Hangul fillers, tags);
- digits form *groups*; groups joined by at most :data:`MAX_SEPARATOR_RUN` separator characters
  (spaces of every kind, dashes and hyphens of every kind — also the Windows-1252 bytes 0x96/0x97 read
  as Latin-1 —, control characters, ``.`` ``/`` ``_`` ``+`` ``:`` ``,`` ``;`` ``*`` ``|`` ``#``
  and parentheses) form a *run*;
- a candidate is any consecutive groups of a run with 10 or 12 digits in total whose inner boundaries
  fall where people split the number. *Usual* forms may stand anywhere in a run: unsplit, a separator
  before the serial, the ten-digit date part split into pairs (``85 07 15-1234``), the century split
  off (``19 850715-1234``). *Split* forms — the serial split in pairs (``850715 12 34``,
  ``85 07 15 12 34``), the twelve-digit date split in its parts (``1985-07-15-1234``,
  ``1985 0715 1234``), a separator between every digit — count only where the run does not go on with
  the separator they use inside: ``2019-01-15 – 2020-01-15`` and ``2024-03-01 12:34:56`` are a date
  range and a time, not numbers.

Identifiers are not numbers: a group cut off by letters on both sides (``e4312064977c``), a group in a
hexadecimal token (``1b850715``) and anything inside a UUID or a score id (``20260101-…``) is never
part of a candidate, and the ten-digit split ``YY-NNNNNNNN`` is a case number (``24-01151234``), not a
personnummer. A longer group is never cut (``konto 1212121212129`` is an account), and a phone number
grouped ``070-123 45 67`` is not a candidate.

The numbers never leave this module in a report: matches are (row, column, kind), and every other
output masks them as ``<personnummer>`` (:func:`masked`) or redacts them (:func:`redacted_text`).
False-positive rates on ordinary numbers and identifiers: ``docs/data-quality.md``.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import combinations
from typing import NamedTuple

import polars as pl

from engine.identifiers import is_luhn_valid

PERSONNUMMER_MASK = "<personnummer>"
REDACTION_TEXT = "[personnummer borttaget]"
MAX_SEPARATOR_RUN = 5
_CENTURIES = ("18", "19", "20")
# A value needs at least ten digits (any script) to hold a number: a cheap vectorised pre-filter.
_ENOUGH_DIGITS = 10

SEPARATORS = frozenset(
    " \t\n\r\v\f\u00a0\u202f"
    "\u2007\u2009\u200a\u2002\u2003\u2004\u2005\u2006\u2008\u205f\u3000"
    "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d\u0096\u0097"
    "._/+\uff0e\uff0f\uff3f\uff0b\ufffd"
    ":,;*|#()\uff1a\uff0c\uff1b\uff0a\uff5c\uff03\uff08\uff09"
)
"""Characters that may stand between the digit groups of one written number (besides every space,
dash and control character of Unicode: categories ``Zs``, ``Zl``, ``Zp``, ``Pd`` and ``Cc``)."""

_SEPARATOR_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Pd", "Cc"})
_IGNORABLE_CATEGORIES = frozenset({"Cf", "Mn", "Me"})
# Unicode's Default_Ignorable_Code_Point ranges (DerivedCoreProperties.txt); most are Cf or Mn, the rest
# are the Hangul fillers and unassigned code points kept invisible by every renderer.
_DEFAULT_IGNORABLE_RANGES = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
    (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164),
    (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)  # fmt: skip
# Planes 0 and 1 hold every character with a digit value (Unicode 14: 788 of them, none above).
_LAST_DIGIT_PLANE_END = 0x20000
_HEX_TOKEN = re.compile(r"[0-9A-Fa-f]*[A-Fa-f][0-9A-Fa-f]*")
_DIGIT_GROUP = re.compile(r"[0-9]+")
# Identifiers of this and other systems whose digits are never a number: UUIDs and score ids
# (``20260101-e4312064977c``: a date and a content hash, engine.scores), even when the hex is all digits.
_IDENTIFIERS = re.compile(
    r"(?<![0-9A-Za-z])(?:[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}|[0-9]{8}-[0-9a-f]{12})(?![0-9A-Za-z])"
)


def _subsets(allowed: tuple[int, ...]) -> frozenset[frozenset[int]]:
    return frozenset(
        frozenset(chosen) for size in range(len(allowed) + 1) for chosen in combinations(allowed, size)
    )


# Where a written number may be split (digit positions of the inner group boundaries). Usual forms:
# the ten-digit date part in pairs and the serial apart, but not ``YY-NNNNNNNN`` (a case number); the
# twelve-digit form after the century and before the serial only.
_USUAL_FORMS = {
    10: _subsets((2, 4, 6)) - {frozenset({2})},
    12: _subsets((2, 8)),
}
# Split forms: ``YYMMDD NN NN``, ``YY MM DD NN NN``, ``YYYY-MM-DD-NNNN``, ``YYYY MMDD NNNN`` and a
# separator after every digit.
_SPLIT_FORMS = {
    10: frozenset({frozenset({6, 8}), frozenset({2, 4, 6, 8}), frozenset(range(1, 10))}),
    12: frozenset({frozenset({4, 6, 8}), frozenset({4, 8}), frozenset(range(1, 12))}),
}


@dataclass(frozen=True)
class PersonalNumber:
    """One number found in a text: its kind and where it is (``text[start:end]``)."""

    kind: str
    start: int
    end: int


class _Group(NamedTuple):
    digits: str
    start: int
    end: int
    embedded: bool  # part of an identifier token: never part of a number


class _Run(NamedTuple):
    groups: list[_Group]
    gaps: list[str]  # gaps[i]: the separators between groups[i] and groups[i + 1]
    digits: int


def digit_value(char: str) -> str | None:
    """The ASCII digit a character stands for (any Unicode digit), or None."""
    if "0" <= char <= "9":
        return char
    if char.isascii():
        return None
    value = unicodedata.digit(char, None)
    return None if value is None else str(value)


def is_ignorable(char: str) -> bool:
    """Whether ``char`` is invisible in text: a format character, a combining mark or default-ignorable."""
    if char.isascii():
        return False
    if unicodedata.category(char) in _IGNORABLE_CATEGORIES:
        return True
    code = ord(char)
    return any(first <= code <= last for first, last in _DEFAULT_IGNORABLE_RANGES)


@lru_cache(maxsize=4096)
def is_separator(char: str) -> bool:
    """Whether ``char`` may stand between the digit groups of one written number."""
    return char in SEPARATORS or unicodedata.category(char) in _SEPARATOR_CATEGORIES


class _NormalisingTable(dict[int, int | None]):
    """``str.translate`` table filled as characters are met (a full table takes a second to build):
    every digit to its ASCII digit, every invisible character away, anything else kept."""

    def __missing__(self, code: int) -> int | None:
        char = chr(code)
        digit = digit_value(char)
        value = ord(digit) if digit is not None else None if is_ignorable(char) else code
        if len(self) < _MAX_TABLE_ENTRIES:
            self[code] = value
        return value


_MAX_TABLE_ENTRIES = 65_536
_NORMALISING = _NormalisingTable()


def _character_class(codes: list[int]) -> str:
    """A regex character class (Python and Rust syntax) of sorted code points, as ranges."""
    ranges: list[list[int]] = []
    for code in codes:
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    parts = (rf"\U{first:08x}" + (rf"-\U{last:08x}" if last > first else "") for first, last in ranges)
    return "[" + "".join(parts) + "]"


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


def _is_embedded(text: str, start: int, end: int) -> bool:
    """Whether the digit group ``text[start:end]`` is part of an identifier token: cut off by letters on
    both sides (``e4312064977c``), or in a token of hexadecimal digits (``1b850715``)."""
    letter_before = start > 0 and text[start - 1].isalpha()
    letter_after = end < len(text) and text[end].isalpha()
    if letter_before and letter_after:
        return True
    if not (letter_before or letter_after):
        return False
    left, right = start, end
    while left > 0 and text[left - 1].isascii() and text[left - 1].isalnum():
        left -= 1
    while right < len(text) and text[right].isascii() and text[right].isalnum():
        right += 1
    return _HEX_TOKEN.fullmatch(text, left, right) is not None


def _joins(gap: str) -> bool:
    """Whether ``gap`` joins two digit groups: 1 to :data:`MAX_SEPARATOR_RUN` separator characters."""
    if len(gap) == 1:
        return is_separator(gap)
    return len(gap) <= MAX_SEPARATOR_RUN and all(is_separator(char) for char in gap)


def _runs(text: str) -> list[_Run]:
    """Digit groups of a normalised ``text`` joined into runs by short separator gaps."""
    runs: list[_Run] = []
    groups: list[_Group] = []
    gaps: list[str] = []
    digits = 0
    for match in _DIGIT_GROUP.finditer(text):
        start, end = match.span()
        if groups:
            gap = text[groups[-1].end : start]
            if _joins(gap):
                gaps.append(gap)
            else:
                runs.append(_Run(groups, gaps, digits))
                groups, gaps, digits = [], [], 0
        groups.append(_Group(match.group(), start, end, _is_embedded(text, start, end)))
        digits += end - start
    if groups:
        runs.append(_Run(groups, gaps, digits))
    return runs


def _stands_alone(run: _Run, first: int, last: int) -> bool:
    """Whether groups ``first..last`` of ``run`` are not continued with a separator they use inside."""
    inside = set(run.gaps[first:last])
    before = run.gaps[first - 1] if first > 0 else None
    after = run.gaps[last] if last < len(run.gaps) else None
    return before not in inside and after not in inside


def _candidates(run: _Run) -> list[PersonalNumber]:
    found = []
    groups = run.groups
    for first in range(len(groups)):
        total, boundaries, digits = 0, set(), []
        for last in range(first, len(groups)):
            group = groups[last]
            if group.embedded:
                break
            if total:
                boundaries.add(total)
            total += len(group.digits)
            digits.append(group.digits)
            if total > 12:
                break
            if total not in _USUAL_FORMS:
                continue
            usual = boundaries in _USUAL_FORMS[total]
            if not usual and not (boundaries in _SPLIT_FORMS[total] and _stands_alone(run, first, last)):
                continue
            kind = personal_number_kind("".join(digits))
            if kind is not None:
                found.append(PersonalNumber(kind, groups[first].start, group.end))
    return found


def _outside_identifiers(text: str, found: list[PersonalNumber]) -> list[PersonalNumber]:
    identifiers = [match.span() for match in _IDENTIFIERS.finditer(text)]
    return [
        number
        for number in found
        if not any(start <= number.start and number.end <= end for start, end in identifiers)
    ]


def _in_original(text: str, found: list[PersonalNumber]) -> tuple[PersonalNumber, ...]:
    """``found`` (positions in the normalised text) with the positions of the original ``text``."""
    kept = [index for index, char in enumerate(text) if _NORMALISING[ord(char)] is not None]
    return tuple(
        PersonalNumber(number.kind, kept[number.start], kept[number.end - 1] + 1) for number in found
    )


@lru_cache(maxsize=65_536)
def _personal_numbers_cached(text: str) -> tuple[PersonalNumber, ...]:
    normalised = text.translate(_NORMALISING)
    if sum(map(normalised.count, "0123456789")) < _ENOUGH_DIGITS:
        return ()
    if _IDENTIFIERS.fullmatch(normalised) or _HEX_TOKEN.fullmatch(normalised):
        return ()  # a whole value that is an id (an id column): the common case, decided at once
    found = [
        number for run in _runs(normalised) if run.digits >= _ENOUGH_DIGITS for number in _candidates(run)
    ]
    if found and "-" in normalised:
        found = _outside_identifiers(normalised, found)
    return _in_original(text, found) if found else ()


def personal_numbers(text: str | None) -> tuple[PersonalNumber, ...]:
    """Every personnummer or samordningsnummer written in ``text``, in order (may overlap).

    Invisible characters are dropped and every digit read as its ASCII digit before matching;
    positions are those of ``text`` itself.
    """
    if not text or len(text) < _ENOUGH_DIGITS:
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


@cache
def _digit_class_regex() -> str:
    """A regex character class of every character :func:`digit_value` reads as a digit.

    The vectorised pre-filter counts digits with it: the regex ``\\d`` (decimal digits only) misses
    circled, parenthesised, sub- and superscript digits the detector reads, and a value written in
    them would skip the scan.
    """
    return _character_class(
        [code for code in range(_LAST_DIGIT_PLANE_END) if digit_value(chr(code)) is not None]
    )


def _candidate_values(series: pl.Series) -> pl.Series:
    """Distinct values of a string series with enough digits to hold a number (the pre-filter)."""
    strings = series.cast(pl.String).drop_nulls().unique()
    strings = strings.filter(strings.str.len_chars() >= _ENOUGH_DIGITS)
    return strings.filter(strings.str.count_matches(_digit_class_regex()) >= _ENOUGH_DIGITS)


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
