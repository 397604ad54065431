"""Swedish export quirks: separators, BOM, Windows-1252, decimal comma, month periods, Parquet."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from engine.config import load_config
from engine.ingest import ingest_directory
from engine.ingest.readers import detected_separator, read_raw_table
from tests.ingest_factory import REFERENCE_DATE, UNIT_1, world, write_csv, write_world


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [("utf-8-sig", "utf-8-sig"), ("utf-8", "utf-8"), ("cp1252", "cp1252")],
    ids=["utf8-bom", "utf8", "windows-1252"],
)
def test_encodings_are_detected_and_recorded(tmp_path: Path, encoding: str, expected: str) -> None:
    # given every file written in one encoding, with å/ä/ö in names
    write_world(tmp_path, encoding=encoding)
    # when ingested
    result = ingest_directory(tmp_path, load_config(), reference_date=REFERENCE_DATE)
    # then the text is read correctly and the encoding is in the source metadata
    assert result.ok, f"{encoding} file rejected:\n{result.failures}"
    names = result.tables["units"]["name"].to_list()
    assert "Hälsocentralen Åby" in names and "Vårdcentralen Öster" in names, names
    assert result.sources["units"]["encoding"] == expected


def test_comma_separated_file_is_accepted(tmp_path: Path) -> None:
    tables = world()
    write_world(tmp_path, tables)
    write_csv(tmp_path / "providers.csv", tables["providers"], separator=",")
    result = ingest_directory(tmp_path, load_config(), reference_date=REFERENCE_DATE)
    assert result.ok, result.failures
    assert result.sources["providers"]["separator"] == ","
    assert result.tables["providers"].height == 2


@pytest.mark.parametrize(
    ("header", "expected"),
    [("a;b;c", ";"), ("a,b,c", ","), ("name;note,with comma", ";"), ("single", ";")],
    ids=["semicolon", "comma", "semicolon-wins", "one-column"],
)
def test_separator_detection(header: str, expected: str) -> None:
    assert detected_separator(header) == expected


def test_bytes_that_are_neither_utf8_nor_cp1252_are_unreadable(tmp_path: Path) -> None:
    write_world(tmp_path)
    (tmp_path / "lex_maria.csv").write_bytes(b"event_id;unit_id\n\x81\x8d;x\n")
    result = ingest_directory(tmp_path, load_config(), reference_date=REFERENCE_DATE)
    failure = result.failures.filter(pl.col("rule") == "unreadable_file")
    assert failure["file"].to_list() == ["lex_maria.csv"], result.failures


def test_empty_file_is_unreadable(tmp_path: Path) -> None:
    write_world(tmp_path)
    (tmp_path / "complaints.csv").write_bytes(b"")
    result = ingest_directory(tmp_path, load_config(), reference_date=REFERENCE_DATE)
    assert "unreadable_file" in result.errors["rule"].to_list()


def test_byte_order_mark_is_not_part_of_the_first_column_name(tmp_path: Path) -> None:
    (tmp_path / "providers.csv").write_bytes("\ufeffa;b\n1;2\n".encode())
    raw = read_raw_table("providers", tmp_path / "providers.csv")
    assert raw.frame.columns[1:] == ["a", "b"], raw.frame.columns
    assert raw.encoding == "utf-8-sig"


def test_decimal_comma_thousands_space_and_month_periods_are_parsed(tmp_path: Path) -> None:
    tables = world()
    tables["units"][0]["listed_patients"] = "12 000"
    tables["inspections"][0]["inclusion_probability"] = "0,25"
    write_world(tmp_path, tables)
    result = ingest_directory(tmp_path, load_config(), reference_date=REFERENCE_DATE)
    assert result.ok, result.failures
    units = result.tables["units"]
    assert units.filter(pl.col("unit_id") == UNIT_1)["listed_patients"].item() == 12000
    assert result.tables["inspections"]["inclusion_probability"].to_list() == [0.25, 0.25]
    periods = result.tables["availability"]["period"]
    assert periods.dtype == pl.Date and periods.min() == dt.date(2023, 1, 1)


def test_period_given_as_full_date_is_read_as_its_month(tmp_path: Path) -> None:
    tables = world()
    for row in tables["continuity"]:
        row["period"] = row["period"] + "-15"
    write_world(tmp_path, tables)
    result = ingest_directory(tmp_path, load_config(), reference_date=REFERENCE_DATE)
    assert result.ok, result.failures
    assert set(result.tables["continuity"]["period"].dt.day().to_list()) == {1}


def test_rows_are_numbered_like_a_spreadsheet(tmp_path: Path) -> None:
    write_csv(tmp_path / "providers.csv", world()["providers"])
    raw = read_raw_table("providers", tmp_path / "providers.csv")
    assert raw.frame["__row__"].to_list() == [2, 3], "header is row 1, first record row 2"


def test_parquet_is_accepted_in_place_of_csv_with_the_same_content(tmp_path: Path) -> None:
    # given the same world once as CSV and once with typed Parquet files for two tables
    csv_dir = write_world(tmp_path / "csv")
    parquet_dir = write_world(tmp_path / "parquet")
    config = load_config()
    reference = ingest_directory(csv_dir, config, reference_date=REFERENCE_DATE)
    for name in ("units", "availability"):
        (parquet_dir / f"{name}.csv").unlink()
        reference.tables[name].write_parquet(parquet_dir / f"{name}.parquet")
    # when ingested
    result = ingest_directory(parquet_dir, config, reference_date=REFERENCE_DATE)
    # then the tables are equal and the format is recorded
    assert result.ok, result.failures
    assert result.sources["units"]["format"] == "parquet"
    for name in ("units", "availability"):
        assert result.tables[name].equals(reference.tables[name]), f"{name} differs after Parquet round trip"


def test_parquet_rows_are_numbered_from_two(tmp_path: Path) -> None:
    write_world(tmp_path)
    (tmp_path / "providers.csv").unlink()
    pl.DataFrame(
        {"provider_id": ["1234567890", "2321000016"], "name": ["X", "Y"], "ownership": ["public", "x"]}
    ).write_parquet(tmp_path / "providers.parquet")
    result = ingest_directory(tmp_path, load_config(), reference_date=REFERENCE_DATE)
    bad = result.errors.filter(pl.col("rule") == "invalid_value")
    assert bad.select("file", "row").rows() == [("providers.parquet", 3)]


def test_unknown_columns_are_dropped_with_a_warning(tmp_path: Path) -> None:
    tables = world()
    for row in tables["units"]:
        row["Kommentar"] = "intern"
    write_world(tmp_path, tables)
    result = ingest_directory(tmp_path, load_config(), reference_date=REFERENCE_DATE)
    assert result.ok, "an unknown column is a warning, not an error"
    assert "kommentar" not in result.tables["units"].columns
    assert result.warnings.filter(pl.col("rule") == "unknown_column")["column"].to_list() == ["kommentar"]


def test_optional_visits_are_ingested_when_present(tmp_path: Path) -> None:
    write_world(tmp_path)
    visits = [
        {
            "patient_pseudonym": f"p{index}",
            "unit_id": UNIT_1,
            "clinician_pseudonym": "c1",
            "profession": "lakare",
            "visit_date": "2024-02-01",
        }
        for index in range(3)
    ]
    write_csv(tmp_path / "visits.csv", visits)
    result = ingest_directory(tmp_path, load_config(), reference_date=REFERENCE_DATE)
    assert result.ok, result.failures
    assert result.tables["visits"].height == 3


def test_quoted_fields_keep_separators_and_quotes(tmp_path: Path) -> None:
    write_world(tmp_path)
    lines = [
        "event_id;unit_id;event_date;received_date;category;severity;summary",
        f'K1;{UNIT_1};2024-01-10;2024-01-20;vantetid;;"Väntade; ringde ""igen"""',
    ]
    (tmp_path / "complaints.csv").write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8"))
    result = ingest_directory(tmp_path, load_config(), reference_date=REFERENCE_DATE)
    assert result.ok, result.failures
    assert result.tables["complaints"]["summary"].to_list() == ['Väntade; ringde "igen"']


def test_surrounding_whitespace_is_trimmed_and_blank_is_null(tmp_path: Path) -> None:
    tables = world()
    tables["units"][0]["name"] = "  Vårdcentralen Öster "
    tables["units"][0]["active_to"] = "   "
    write_world(tmp_path, tables)
    result = ingest_directory(tmp_path, load_config(), reference_date=REFERENCE_DATE)
    assert result.ok, result.failures
    unit = result.tables["units"].filter(pl.col("unit_id") == UNIT_1).row(0, named=True)
    assert (unit["name"], unit["active_to"]) == ("Vårdcentralen Öster", None)


def test_export_without_free_text_or_unused_severity_is_accepted(tmp_path: Path) -> None:
    # given complaints without the optional summary and severity columns
    tables = world()
    for row in tables["complaints"]:
        del row["summary"], row["severity"]
    write_world(tmp_path, tables)
    # when ingested, the columns are stored as nulls so every snapshot has the same shape
    result = ingest_directory(tmp_path, load_config(), reference_date=REFERENCE_DATE)
    assert result.ok, result.failures
    complaints = result.tables["complaints"]
    assert complaints["summary"].null_count() == complaints.height
    assert complaints.schema["severity"] == pl.String


def test_lex_maria_still_requires_its_severity(tmp_path: Path) -> None:
    tables = world()
    for row in tables["lex_maria"]:
        del row["severity"]
    write_world(tmp_path, tables)
    result = ingest_directory(tmp_path, load_config(), reference_date=REFERENCE_DATE)
    missing = result.errors.filter(pl.col("rule") == "missing_column")
    assert missing.select("table", "column").rows() == [("lex_maria", "severity")]
