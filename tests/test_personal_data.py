"""Personnummer and samordningsnummer are found in free text, never echoed, and redacted on request."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.config import load_config
from engine.identifiers import luhn_check_digit, organisation_number
from engine.ingest import ingest_directory
from engine.personal_data import (
    PERSONNUMMER_MASK,
    REDACTION_TEXT,
    masked,
    personal_number_kind,
    personal_number_matches,
)
from tests.ingest_factory import (
    REFERENCE_DATE,
    personnummer,
    samordningsnummer,
    world,
    write_csv,
    write_world,
)

PNR = personnummer("900228", "321")
PNR_DIGITS = PNR.replace("-", "")


def _kinds(texts: list[str]) -> list[str | None]:
    frame = pl.DataFrame({"__row__": list(range(2, 2 + len(texts))), "text": texts})
    found = personal_number_matches(frame, ["text"])
    by_row = dict(zip(found["row"], found["kind"], strict=True))
    return [by_row.get(row) for row in range(2, 2 + len(texts))]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (f"ringde {PNR} igår", "personnummer"),
        (f"ringde {PNR_DIGITS}", "personnummer"),
        (f"född 19{PNR_DIGITS}.", "personnummer"),
        (f"19{PNR}", "personnummer"),
        (f"{PNR[:6]}+{PNR[7:]}", "personnummer"),
        (samordningsnummer("850715", "456"), "samordningsnummer"),
        (f"org {organisation_number('556677889')}", None),
        (f"region {organisation_number('232100001')}", None),
        (f"SE{organisation_number('232100001')}-vc1", None),
        (PNR[:-1] + str((int(PNR[-1]) + 1) % 10), None),
        ("telefon 08-123 456 78", None),
        (f"konto 12{PNR_DIGITS}99", None),
        ("ärende 2024-000123", None),
        ("", None),
    ],
    ids=[
        "10-digit-dash",
        "10-digit-plain",
        "12-digit",
        "12-digit-dash",
        "plus-separator",
        "samordningsnummer",
        "organisationsnummer-company",
        "organisationsnummer-region",
        "hsa-id",
        "wrong-check-digit",
        "phone-number",
        "longer-number",
        "case-number",
        "empty",
    ],
)
def test_personal_numbers_are_detected(text: str, kind: str | None) -> None:
    assert _kinds([text]) == [kind], f"{kind} expected for a {len(text)}-char text"


@pytest.mark.parametrize(
    "month", ["00", "13", "20", "99"], ids=["month-00", "month-13", "org-20", "month-99"]
)
def test_implausible_months_are_not_personal_numbers(month: str) -> None:
    first_nine = f"85{month}15123"
    candidate = first_nine + str(luhn_check_digit(first_nine))
    assert personal_number_kind(candidate) is None


def test_masked_hides_numbers_but_keeps_organisation_numbers() -> None:
    org = organisation_number("556677889")
    assert masked(f"a {PNR} b") == f"a {PERSONNUMMER_MASK} b"
    assert masked(f"provider {org}") == f"provider {org}"


def _world_with_personal_data(tmp_path: Path) -> Path:
    tables = world()
    tables["complaints"][1]["summary"] = f"Patienten ({PNR}) fick fel medicin"
    tables["complaints"][2]["summary"] = f"Anhörig 19{PNR_DIGITS} hörde av sig"
    return write_world(tmp_path, tables)


def test_personal_data_rejects_the_file_with_rows_and_never_echoes_the_number(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    result = ingest_directory(
        _world_with_personal_data(tmp_path), load_config(), reference_date=REFERENCE_DATE
    )
    found = result.errors.filter(pl.col("rule") == "personal_data")
    assert found.select("file", "row", "column").rows() == [
        ("complaints.csv", 3, "summary"),
        ("complaints.csv", 4, "summary"),
    ]
    report = result.failures.write_json()
    assert PNR not in report and PNR_DIGITS not in report, "the number leaked into the failures"
    assert PNR_DIGITS[:6] not in caplog.text and PNR not in caplog.text, "the number leaked into the logs"


def test_redact_replaces_numbers_and_records_only_the_count(tmp_path: Path) -> None:
    result = ingest_directory(
        _world_with_personal_data(tmp_path), load_config(), reference_date=REFERENCE_DATE, redact=True
    )
    assert result.ok, result.failures
    summaries = result.tables["complaints"]["summary"].to_list()
    assert sum(REDACTION_TEXT in text for text in summaries) == 2
    assert not any(PNR in text or PNR_DIGITS in text for text in summaries)
    warning = [item for item in result.manifest_warnings() if item["rule"] == "personal_data"]
    assert warning and warning[0]["count"] == 2
    assert PNR_DIGITS not in str(result.manifest_warnings())


def test_free_text_in_other_failures_is_not_echoed(tmp_path: Path) -> None:
    # given a row that fails a dataframe-level check and carries a number in its free text
    tables = world()
    tables["complaints"][0]["received_date"] = "2024-01-01"
    tables["complaints"][0]["summary"] = f"hemlig text {PNR}"
    write_world(tmp_path, tables)
    result = ingest_directory(tmp_path, load_config(), reference_date=REFERENCE_DATE)
    assert "received_before_event" in result.errors["rule"].to_list()
    dumped = result.failures.write_json()
    assert "hemlig text" not in dumped and PNR not in dumped, "pandera's row echo must not reach the report"


@settings(max_examples=100, deadline=None)
@given(
    born=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2025, 12, 31)),
    serial=st.integers(min_value=0, max_value=999),
    samordning=st.booleans(),
    form=st.sampled_from(["dash", "plain", "twelve"]),
)
def test_every_valid_personal_number_is_detected(
    born: dt.date, serial: int, samordning: bool, form: str
) -> None:
    day = born.day + (60 if samordning else 0)
    first_nine = f"{born:%y%m}{day:02d}{serial:03d}"
    ten = first_nine + str(luhn_check_digit(first_nine))
    text = {"dash": f"{ten[:6]}-{ten[6:]}", "plain": ten, "twelve": f"{born:%Y}"[:2] + ten}[form]
    expected = "samordningsnummer" if samordning else "personnummer"
    assert _kinds([f"text {text} text"]) == [expected]


@settings(max_examples=100, deadline=None)
@given(first_nine=st.from_regex(r"\A[0-9]{2}[2-9][0-9]{6}\Z"))
def test_organisation_numbers_are_never_flagged(first_nine: str) -> None:
    assert _kinds([f"org {organisation_number(first_nine)}"]) == [None]


def test_personal_number_in_a_visit_pseudonym_is_rejected(tmp_path: Path) -> None:
    write_world(tmp_path)
    visits = [
        {
            "patient_pseudonym": pseudonym,
            "unit_id": world()["units"][0]["unit_id"],
            "clinician_pseudonym": "c1",
            "profession": "lakare",
            "visit_date": "2024-02-01",
        }
        for pseudonym in ("p-0001", PNR_DIGITS)
    ]
    write_csv(tmp_path / "visits.csv", visits)
    result = ingest_directory(tmp_path, load_config(), reference_date=REFERENCE_DATE)
    found = result.errors.filter(pl.col("rule") == "personal_data")
    assert found.select("file", "row", "column").rows() == [("visits.csv", 3, "patient_pseudonym")]
    assert PNR_DIGITS not in result.failures.write_json()


# --- Written forms: Unicode digits, separators and grouping (hypothesis) ---------------------------

DATE_PART_SEPARATORS = ["", " ", "\u00a0", "-", "\u2013", "\u2014", "\u2011", ".", "/", "_", "\u202f"]
SERIAL_SEPARATORS = [*DATE_PART_SEPARATORS, "+", "--", " - ", " \u2013 ", "\u0096", "\u0097", "\u2212", "- "]
DIGIT_ZEROS = {
    "ascii": 0x30,
    "fullwidth": 0xFF10,
    "arabic-indic": 0x660,
    "devanagari": 0x966,
    "bengali": 0x9E6,
}


def _in_script(digits: str, script: str) -> str:
    return "".join(chr(DIGIT_ZEROS[script] + int(char)) if char.isdigit() else char for char in digits)


@st.composite
def written_personal_numbers(
    draw: st.DrawFn, *, encodable: str | None = None, controls: bool = True
) -> tuple[str, str, str]:
    """(the number as written, its ten digits, its kind) in a form people write: any century form,
    separators between the date parts and before the serial, any Unicode digit script."""
    born = draw(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2025, 12, 31)))
    samordning = draw(st.booleans())
    day = born.day + (60 if samordning else 0)
    first_nine = f"{born:%y%m}{day:02d}{draw(st.integers(0, 999)):03d}"
    ten = first_nine + str(luhn_check_digit(first_nine))
    twelve = draw(st.booleans())
    scripts = ["ascii"] if encodable else list(DIGIT_ZEROS)
    script = draw(st.sampled_from(scripts))
    usable = [
        sep
        for sep in SERIAL_SEPARATORS
        if (encodable is None or _encodes(sep, encodable))
        and (controls or not any(0x80 <= ord(char) <= 0x9F for char in sep))
    ]
    parts_sep = [sep for sep in DATE_PART_SEPARATORS if sep in usable]
    grouped = draw(st.booleans()) and not twelve  # a twelve-digit form splits before the serial only
    between = [draw(st.sampled_from(parts_sep)) if grouped else "" for _ in range(2 + twelve)]
    before_serial = draw(st.sampled_from(usable))
    if grouped and between[0] and not between[1] and not before_serial:
        before_serial = "-"  # YY-NNNNNNNN is the shape of a case number, not of a personnummer
    date_digits = (f"{born:%Y}"[:2] if twelve else "") + ten[:6]
    pairs = [date_digits[index : index + 2] for index in range(0, len(date_digits), 2)]
    date_part = pairs[0] + "".join(sep + pair for sep, pair in zip(between, pairs[1:], strict=False))
    written = _in_script(date_part, script) + before_serial + _in_script(ten[6:], script)
    return written, ten, "samordningsnummer" if samordning else "personnummer"


def _encodes(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def _no_digit_edge(text: str) -> bool:
    from engine.personal_data import digit_value

    return not text or (digit_value(text[0]) is None and digit_value(text[-1]) is None)


surrounding_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40).filter(
    _no_digit_edge
)


def _digits_only(text: str) -> str:
    from engine.personal_data import SEPARATORS, digit_value

    return "".join(digit_value(char) or ("" if char in SEPARATORS else "|") for char in text)


@settings(max_examples=300, deadline=None)
@given(number=written_personal_numbers(), before=surrounding_text, after=surrounding_text)
def test_written_forms_are_found_and_masked_in_any_text(
    number: tuple[str, str, str], before: str, after: str
) -> None:
    from engine.personal_data import contains_personal_number, personal_numbers

    written, ten, kind = number
    text = f"{before} {written} {after}"
    assert contains_personal_number(text), f"not found: {written!r}"
    assert kind in {found.kind for found in personal_numbers(text)}
    hidden = masked(text)
    assert ten not in _digits_only(hidden) and not personal_numbers(hidden)
    assert _kinds([text]) != [None], "the vectorised scan finds it too"


@settings(max_examples=200, deadline=None)
@given(
    first_nine=st.from_regex(r"\A[0-9]{2}[2-9][0-9]{6}\Z"),
    separator=st.sampled_from(SERIAL_SEPARATORS),
    before=surrounding_text,
)
def test_organisation_numbers_in_written_forms_are_never_flagged(
    first_nine: str, separator: str, before: str
) -> None:
    from engine.personal_data import contains_personal_number

    number = organisation_number(first_nine)
    assert not contains_personal_number(f"{before} {number[:6]}{separator}{number[6:]} .")


def test_log_lines_are_masked_by_the_filter(caplog: pytest.LogCaptureFixture) -> None:
    from engine.personal_data import MaskingFilter

    logger = logging.getLogger("tests.masking")
    logger.addFilter(MaskingFilter())
    with caplog.at_level(logging.INFO, logger="tests.masking"):
        logger.info("GET /v1/units/SE%s-x %s", PNR_DIGITS, "200")
    assert PNR_DIGITS not in caplog.text and PERSONNUMMER_MASK in caplog.text


def test_a_number_broken_over_two_lines_is_found() -> None:
    assert (
        _kinds([f"ring {PNR[:6]}\n{PNR[7:]} idag", f"ring {PNR[:6]}\r\n-{PNR[7:]}"]) == ["personnummer"] * 2
    )
