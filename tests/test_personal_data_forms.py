"""Every way of writing a personnummer is found and masked; identifiers of this system never are.

Hypothesis writes Luhn-valid personnummer and samordningsnummer with invisible characters between
the digits, every separator, a separator after every digit, the date-part groupings and Unicode digits,
inside arbitrary text; and UUIDs, hex ids, score ids and ``YY-NNNNNNNN`` case numbers, alone and in
text, which must never be flagged.
"""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
import uuid

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.identifiers import luhn_check_digit
from engine.personal_data import (
    PERSONNUMMER_MASK,
    REDACTION_TEXT,
    contains_personal_number,
    is_ignorable,
    masked,
    masked_expr,
    personal_number_matches,
    personal_numbers,
    redacted_text,
)

# Invisible characters of every kind named by the attack run: soft hyphen, zero-width space, ZWNJ, ZWJ,
# LRM, RLM, bidi embeddings/overrides/isolates, word joiner, invisible operators, CGJ, variation
# selectors (also the supplementary ones), combining marks, BOM, a tag character, a Hangul filler.
INVISIBLE = [
    "\u00ad", "\u200b", "\u200c", "\u200d", "\u200e", "\u200f",
    "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069",
    "\u2060", "\u2061", "\u2062", "\u2063", "\u2064", "\u034f", "\ufe00", "\ufe0f", "\U000e0100",
    "\u0301", "\u0308", "\u20dd", "\ufeff", "\U000e0041", "\u3164",
]  # fmt: skip
SEPARATORS = [
    " ", "\u00a0", "\u202f", "\u2009", "-", "\u2010", "\u2011", "\u2013", "\u2014", "\u2212", ".", "/",
    "_", "+", ":", ",", ";", "*", "|", "#", "\t", "\n", " - ", ": ", ", ", "\u3000", "\uff0d",
]  # fmt: skip
# Digit zero of each script; circled digits are handled apart (their zero is not before their one).
DIGIT_ZEROS = {"ascii": 0x30, "fullwidth": 0xFF10, "arabic-indic": 0x660, "devanagari": 0x966,
               "mathematical-bold": 0x1D7CE, "subscript": 0x2080}  # fmt: skip
SCRIPTS = [*DIGIT_ZEROS, "circled", "superscript"]
SUPERSCRIPT = "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079"


def _in_script(char: str, script: str) -> str:
    if not char.isdigit():
        return char
    if script == "circled":
        return "\u24ea" if char == "0" else chr(0x245F + int(char))
    if script == "superscript":
        return SUPERSCRIPT[int(char)]
    return chr(DIGIT_ZEROS[script] + int(char))


def _grouped(ten: str, twelve: str, form: str) -> list[str]:
    """The digit groups of a number written in ``form``."""
    return {
        "YYMMDD-NNNN": [ten[:6], ten[6:]],
        "YYMMDDNNNN": [ten],
        "YY MM DD-NNNN": [ten[:2], ten[2:4], ten[4:6], ten[6:]],
        "YYMMDD NN NN": [ten[:6], ten[6:8], ten[8:]],
        "YY MM DD NN NN": [ten[:2], ten[2:4], ten[4:6], ten[6:8], ten[8:]],
        "YYYYMMDD-NNNN": [twelve[:8], twelve[8:]],
        "YYYY-MM-DD-NNNN": [twelve[:4], twelve[4:6], twelve[6:8], twelve[8:]],
        "YYYY MMDD NNNN": [twelve[:4], twelve[4:8], twelve[8:]],
        "every digit (10)": list(ten),
        "every digit (12)": list(twelve),
        "(YYMMDD)NNNN": ["(" + ten[:6] + ")", ten[6:]],
    }[form]


FORMS = [
    "YYMMDD-NNNN", "YYMMDDNNNN", "YY MM DD-NNNN", "YYMMDD NN NN", "YY MM DD NN NN", "YYYYMMDD-NNNN",
    "YYYY-MM-DD-NNNN", "YYYY MMDD NNNN", "every digit (10)", "every digit (12)", "(YYMMDD)NNNN",
]  # fmt: skip


@st.composite
def written_numbers(
    draw: st.DrawFn, *, encodable: str | None = None, csv_safe: bool = False
) -> tuple[str, str, str]:
    """(the number as written, its ten digits, its kind) in any of :data:`FORMS`, any digit script, one
    separator between its groups and invisible characters anywhere between its digits.

    ``encodable`` keeps to characters of that encoding; ``csv_safe`` leaves out the CSV field and line
    separators (the test writer does not quote).
    """
    born = draw(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2025, 12, 31)))
    samordning = draw(st.booleans())
    day = born.day + (60 if samordning else 0)
    first_nine = f"{born:%y%m}{day:02d}{draw(st.integers(0, 999)):03d}"
    ten = first_nine + str(luhn_check_digit(first_nine))
    twelve = f"{born:%Y}"[:2] + ten
    groups = _grouped(ten, twelve, draw(st.sampled_from(FORMS)))
    separators = [
        sep for sep in SEPARATORS if _encodes(sep, encodable) and not (csv_safe and set(sep) & set(";\n\t\r"))
    ]
    separator = draw(st.sampled_from(separators))
    plain = separator.join(groups) if len(groups) > 1 and groups[0][0] != "(" else "".join(groups)
    script = draw(
        st.sampled_from([script for script in SCRIPTS if _encodes(_in_script("0", script), encodable)])
    )
    invisible = [char for char in INVISIBLE if _encodes(char, encodable)]
    written = []
    for index, char in enumerate(plain):
        written.append(_in_script(char, script))
        if index < len(plain) - 1 and draw(st.integers(0, 3)) == 0:
            written.append(draw(st.sampled_from(invisible)))
    return "".join(written), ten, "samordningsnummer" if samordning else "personnummer"


def _encodes(text: str, encoding: str | None) -> bool:
    try:
        text.encode(encoding or "utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _visible_digits(text: str) -> str:
    """The digits of ``text`` as ASCII with every character that is not a letter or digit dropped: the
    strictest reading of what a person could still see as a number (letters stay as ``|``)."""
    digits = []
    for char in text:
        category = unicodedata.category(char)
        if category.startswith("N") and unicodedata.digit(char, None) is not None:
            digits.append(str(unicodedata.digit(char)))
        elif (category.startswith("L") and not is_ignorable(char)) or char == "<":
            digits.append("|")
    return "".join(digits)


def _quiet_edge(text: str, *, at_end: bool) -> bool:
    """Whether ``text`` has no digit near the edge that touches the number (a digit there would make the
    surrounding text part of the written number)."""
    visible = [char for char in text if unicodedata.category(char)[0] in "LNPS" and not is_ignorable(char)]
    edge = visible[-1:] if at_end else visible[:1]
    return not edge or (unicodedata.category(edge[0])[0] in "L" and unicodedata.digit(edge[0], None) is None)


_ANY_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
text_before = _ANY_TEXT.filter(lambda text: _quiet_edge(text, at_end=True))
text_after = _ANY_TEXT.filter(lambda text: _quiet_edge(text, at_end=False))


@settings(max_examples=400, deadline=None)
@given(number=written_numbers(), before=text_before, after=text_after)
def test_every_written_form_is_found_and_masked(
    number: tuple[str, str, str], before: str, after: str
) -> None:
    # given a number in any written form inside arbitrary text
    written, ten, kind = number
    text = f"{before} {written} {after}"
    # when it is scanned, masked and redacted, one by one and as a column
    found = personal_numbers(text)
    column = pl.DataFrame({"__row__": [2], "text": [text]})
    hidden = column.select(masked_expr(pl.col("text")))["text"][0]
    # then it is found with its kind, and no form of it is left visible anywhere
    assert kind in {item.kind for item in found}, f"not found: {written!r}"
    assert personal_number_matches(column, ["text"])["kind"].to_list() == [found[0].kind], "the column scan"
    for output in (masked(text), redacted_text(text), hidden):
        assert ten not in _visible_digits(output), f"left visible in {output!r}"
        assert not personal_numbers(output), f"still detected in {output!r}"
    assert PERSONNUMMER_MASK in hidden and REDACTION_TEXT in redacted_text(text)


@pytest.mark.parametrize("invisible", INVISIBLE, ids=[f"U+{ord(char):04X}" for char in INVISIBLE])
def test_each_invisible_character_between_the_groups_is_seen_through(invisible: str) -> None:
    first_nine = "850715123"
    ten = first_nine + str(luhn_check_digit(first_nine))
    for written in (f"{ten[:6]}{invisible}{ten[6:]}", invisible.join(ten), f"{ten[:6]}-{invisible}{ten[6:]}"):
        assert masked(f"pnr {written} ok") == f"pnr {PERSONNUMMER_MASK} ok", f"missed {written!r}"


@pytest.mark.parametrize("separator", [*":,;*|#", "(", ")", ") ", " ("], ids=repr)
def test_punctuation_separates_the_serial(separator: str) -> None:
    first_nine = "900228321"
    ten = first_nine + str(luhn_check_digit(first_nine))
    assert contains_personal_number(f"nr {ten[:6]}{separator}{ten[6:]}."), f"missed {separator!r}"
    assert contains_personal_number(f"({ten[:6]}){ten[6:]}")


def _completed(first_nine: str) -> str:
    return first_nine + str(luhn_check_digit(first_nine))


@pytest.mark.parametrize(
    ("alone", "in_context", "first_nine", "tail"),
    [
        # a date range: the second year is not a serial
        ("2019-01-15-{}", "2019-01-15 – {}-01-15", "190115202", 4),
        # a time with seconds is not YY MM DD NN NN
        ("03 01 12 34 {}", "2024-03-01 12:34:{}", "030112345", 2),
        # a list of dates
        ("2024-01-15-{}", "2024-01-15, {}-02-15, 2024-03-15", "240115202", 4),
        # counting: a separator after every digit, and the count goes on
        ("{}", "{} 5", "850715123", 0),
    ],
    ids=["date-range", "time", "date-list", "counting"],
)
def test_a_split_form_that_the_text_continues_is_not_a_number(
    alone: str, in_context: str, first_nine: str, tail: int
) -> None:
    # given digits that are a valid number when written alone in a split form
    ten = _completed(first_nine)
    digits = ten[-tail:] if tail else " ".join(ten)
    assert contains_personal_number(alone.format(digits)), f"{alone.format(digits)!r} must be a number"
    # when the text goes on with the separator the form uses inside, then they are a date, time or list
    assert not contains_personal_number(in_context.format(digits)), in_context.format(digits)


@pytest.mark.parametrize(
    "text",
    [
        "20260101-e4312064977c",  # a score id (masked as a personnummer by `plan list` before)
        "ärende 24-01151234, 24-01151235 och 24-01151236",  # external case numbers YY-NNNNNNNN
        "1b850715-1234-4abc-8abc-abcdefabcdef",  # digits inside a UUID
        "e4312064977c9d1f 8507151234abcdef",  # hex hashes
    ],
    ids=["score-id", "case-numbers", "uuid", "hex"],
)
def test_identifiers_are_not_numbers(text: str) -> None:
    assert not contains_personal_number(text) and masked(text) == text


def test_score_ids_with_an_all_digit_hash_are_not_numbers() -> None:
    # given a score id whose hash prefix happens to be a valid twelve-digit personnummer
    first_nine = "850715123"
    hash_prefix = "19" + first_nine + str(luhn_check_digit(first_nine))
    assert contains_personal_number(hash_prefix), "the digits alone are a number"
    assert not contains_personal_number(f"scores 20260101-{hash_prefix} published")


def test_uuids_of_a_seeded_sample_are_never_flagged() -> None:
    rng = random.Random(29)
    values = pl.Series([str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(20_000)])
    matches = personal_number_matches(pl.DataFrame({"__row__": range(values.len()), "id": values}), ["id"])
    assert matches.is_empty(), f"{matches.height} of 20,000 UUIDs flagged"


_HEX = "0123456789abcdef"
_identifiers = st.one_of(
    st.uuids().map(str),
    st.uuids().map(lambda value: str(value).upper()),
    st.text(_HEX, min_size=8, max_size=64).filter(lambda text: any(char.isalpha() for char in text)),
    st.builds(
        lambda day, digest: f"{day:%Y%m%d}-{digest}",
        st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 31)),
        st.text(_HEX, min_size=12, max_size=12),
    ),
    st.builds(lambda year, serial: f"{year:02d}-{serial:08d}", st.integers(0, 99), st.integers(0, 10**8 - 1)),
)


@settings(max_examples=400, deadline=None)
@given(
    identifier=_identifiers,
    before=text_before,
    after=text_after,
    framing=st.sampled_from(["{}", "id: {},", "({})"]),
)
def test_identifiers_are_never_flagged(identifier: str, before: str, after: str, framing: str) -> None:
    text = f"{before} {framing.format(identifier)} {after}"
    assert not contains_personal_number(identifier), f"flagged alone: {identifier}"
    assert not contains_personal_number(text), f"flagged in text: {identifier}"
    assert masked(text) == text
