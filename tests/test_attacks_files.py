"""Attacks on ingest with hostile files: sizes past the limits, files cut off, encodings, archives and
Parquet types the contract has no use for. Each ends in a failure row naming the file and the rule,
never in a traceback. Limits are tested on small files with small configured limits.
"""

from __future__ import annotations

import datetime as dt
import decimal
import gzip
import io
import time
import tomllib
import zipfile
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from cli import app as cli_app
from engine.config import Config, config_from_mapping, default_config_text, load_config
from engine.ingest import IngestResult, ingest_directory
from engine.ingest import readers as readers_module
from tests.ingest_factory import REFERENCE_DATE, personnummer, world, write_csv, write_world


def _config(**ingest: float) -> Config:
    """The default configuration with ``[ingest]`` limits replaced."""
    data = tomllib.loads(default_config_text())
    data["ingest"] |= ingest
    return config_from_mapping(data)


def _ingest(src: Path, config: Config | None = None) -> IngestResult:
    return ingest_directory(src, config or load_config(), reference_date=REFERENCE_DATE)


def _file_errors(result: IngestResult, file: str) -> list[tuple[str, str | None]]:
    """(rule, value) of every error about ``file``."""
    errors = result.errors.filter(pl.col("file") == file)
    return list(zip(errors["rule"].to_list(), errors["value"].to_list(), strict=True))


def _parquet_in_place_of(src: Path, table: str, frame: pa.Table) -> Path:
    (src / f"{table}.csv").unlink()
    path = src / f"{table}.parquet"
    pq.write_table(frame, path, compression="zstd")
    return path


# --- Limits ---------------------------------------------------------------------------------------


def test_file_over_the_size_limit_is_an_error_naming_file_and_limit(tmp_path: Path) -> None:
    # given a complaints file of 500 bytes and a limit of 400 bytes
    src = write_world(tmp_path)
    assert (src / "complaints.csv").stat().st_size == 500
    # when ingested
    result = _ingest(src, _config(max_file_mib=400 / 2**20))
    # then that file fails with file_too_large (and units, 372 bytes, does not)
    errors = result.errors.filter(pl.col("rule") == "file_too_large")
    assert "complaints.csv" in errors["file"].to_list(), result.failures
    assert "units.csv" not in errors["file"].to_list(), result.failures
    assert all("max_file_mib" in hint for hint in errors["hint"]), errors["hint"].to_list()
    assert not result.ok


def test_rows_over_the_limit_are_an_error(tmp_path: Path) -> None:
    # given availability with 108 rows and a limit of 50 rows per table
    src = write_world(tmp_path)
    # when ingested
    result = _ingest(src, _config(max_rows=50))
    # then availability and continuity (54 rows) fail with too_many_rows; smaller tables pass the limit
    failing = set(result.errors.filter(pl.col("rule") == "too_many_rows")["file"].to_list())
    assert failing == {"availability.csv", "continuity.csv"}, result.failures


def test_columns_over_the_limit_are_an_error(tmp_path: Path) -> None:
    # given a units file with 40 extra columns and a limit of 30 columns
    tables = world()
    for row in tables["units"]:
        row.update({f"extra_{index}": "x" for index in range(40)})
    src = write_world(tmp_path, tables)
    # when ingested
    result = _ingest(src, _config(max_columns=30))
    # then units (9 + 40 columns) fails with too_many_columns, naming the count
    assert _file_errors(result, "units.csv") == [("too_many_columns", "49 columns")], result.failures


def test_table_over_the_memory_budget_stops_the_read(tmp_path: Path) -> None:
    # given a memory budget of 2 KB per table
    src = write_world(tmp_path)
    # when ingested
    result = _ingest(src, _config(max_table_mib=2048 / 2**20))
    # then the large tables fail with table_too_large and the small ones are read
    failing = set(result.errors.filter(pl.col("rule") == "table_too_large")["file"].to_list())
    assert {"availability.csv", "continuity.csv"} <= failing, result.failures
    assert "providers.csv" not in failing


def test_parquet_row_count_is_checked_from_metadata_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a 200,000-row Parquet file of one repeated row (a few KB compressed), a limit of 100,000
    src = write_world(tmp_path)
    row = world()["complaints"][0]
    _parquet_in_place_of(src, "complaints", pa.table({key: [value] * 200_000 for key, value in row.items()}))

    def refuse_to_scan(*args: object, **kwargs: object) -> None:
        raise AssertionError("the Parquet data was read although its metadata is over the limit")

    monkeypatch.setattr(readers_module.pl, "scan_parquet", refuse_to_scan)
    # when ingested
    result = _ingest(src, _config(max_rows=100_000))
    # then it fails from the metadata alone, naming the row count
    assert _file_errors(result, "complaints.parquet") == [("too_many_rows", "200,000 rows")], result.failures


def test_parquet_decompressed_size_is_checked_before_reading(tmp_path: Path) -> None:
    # given a Parquet file of about 0.1 MB that decompresses to about 6 MB, and a limit of 1 MiB
    src = write_world(tmp_path)
    summaries = [f"{index:08d} " + "vänta " * 100 for index in range(10_000)]
    rows = world()["complaints"][0]
    table = {key: [value] * len(summaries) for key, value in rows.items()} | {"summary": summaries}
    path = _parquet_in_place_of(src, "complaints", pa.table(table))
    assert path.stat().st_size < 2**20, "the test file must be small on disk"
    # when ingested
    result = _ingest(src, _config(max_file_mib=1.0))
    # then the decompressed size is the file's size for the limit
    errors = _file_errors(result, "complaints.parquet")
    assert [rule for rule, _ in errors] == ["file_too_large"], result.failures
    assert "decompressed" in str(errors[0][1]), errors


def test_failures_past_the_listed_limit_are_counted_in_one_row(tmp_path: Path) -> None:
    # given complaints with an unparseable (required) received_date on all rows, 3 failures listed per kind
    tables = world()
    for row in tables["complaints"]:
        row["received_date"] = "många"
    src = write_world(tmp_path, tables)
    # when ingested
    result = _ingest(src, _config(max_failures_listed=3))
    # then the first three are listed with their rows, and one row without a row counts the rest
    unparseable = result.errors.filter(pl.col("rule") == "unparseable_value")
    assert unparseable["row"].to_list() == [2, 3, 4, None], unparseable
    assert unparseable["value"][-1] == "1 more not listed", unparseable
    restated = result.errors.filter(pl.col("rule") == "missing_value")
    assert restated.is_empty(), f"the nulls the bad values became are reported again:\n{restated}"


def test_manifest_counts_the_warnings_that_are_not_listed(tmp_path: Path) -> None:
    # given availability with every share in percent (a warning per row, 108 rows), 3 listed per kind
    tables = world()
    for row in tables["availability"]:
        row["share"] = str(round(100 * int(row["numerator"]) / int(row["denominator"]), 2)).replace(".", ",")
    src = write_world(tmp_path, tables)
    # when ingested
    result = _ingest(src, _config(max_failures_listed=3))
    # then the manifest's count is every warning, not the listed ones
    assert result.ok, result.errors
    summaries = [item for item in result.manifest_warnings() if item["rule"] == "share_in_percent"]
    assert [item["count"] for item in summaries] == [108], summaries


@pytest.mark.slow
def test_time_grows_linearly_with_extra_columns(tmp_path: Path) -> None:
    # given availability (108 rows) with 2,000 extra columns (a query per column over the whole
    # frame made this about a minute; linear, it is a few seconds)
    tables = world()
    for row in tables["availability"]:
        row.update({f"extra_{index}": "x" for index in range(2_000)})
    src = write_world(tmp_path, tables)
    # when ingested with room for the columns
    started = time.perf_counter()
    result = _ingest(src, _config(max_columns=3_000))
    elapsed = time.perf_counter() - started
    # then it is accepted with one warning per extra column, well within the time the square took
    assert result.ok, result.errors
    assert result.warnings.filter(pl.col("rule") == "unknown_column").height == 2_000
    assert elapsed < 30, f"2,000 extra columns took {elapsed:.1f} s"


# --- Files cut off --------------------------------------------------------------------------------


def test_csv_without_its_final_line_break_is_truncated(tmp_path: Path) -> None:
    # given a complaints file cut in the middle of its last summary
    src = write_world(tmp_path)
    path = src / "complaints.csv"
    path.write_bytes(path.read_bytes()[:-20])
    # when ingested
    result = _ingest(src)
    # then it is an error naming the file, not a shorter table
    assert _file_errors(result, "complaints.csv") == [("truncated_file", "no final line break")], (
        result.failures
    )


def test_csv_whose_last_row_is_short_is_truncated(tmp_path: Path) -> None:
    # given a units file whose last row stops after three of its nine fields (line break kept)
    src = write_world(tmp_path)
    path = src / "units.csv"
    lines = path.read_bytes().decode("utf-8-sig").split("\r\n")[:-1]
    lines[-1] = ";".join(lines[-1].split(";")[:3])
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    # when ingested
    result = _ingest(src)
    # then it is truncated_file, naming how many fields the last row has
    assert _file_errors(result, "units.csv") == [("truncated_file", "3 of 9 fields in the last row")], (
        result.failures
    )


def test_quoted_line_breaks_in_the_last_row_are_not_truncation(tmp_path: Path) -> None:
    # given a complaints file whose last summary spans two lines inside quotes
    tables = world()
    src = write_world(tmp_path, tables)
    path = src / "complaints.csv"
    text = path.read_bytes().decode("utf-8-sig")
    last_summary = tables["complaints"][-1]["summary"]
    path.write_bytes(text.replace(last_summary, f'"{last_summary}\r\nandra raden"').encode())
    # when ingested, then it is accepted
    result = _ingest(src)
    assert result.ok, result.failures
    assert result.tables["complaints"]["summary"].str.contains("andra raden").sum() == 1


# --- Encodings and archives -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "named"),
    [
        ("utf-16", "UTF-16 LE"),
        ("utf-16-le", "UTF-16 LE"),
        ("utf-16-be", "UTF-16 BE"),
        ("utf-32", "UTF-32 LE"),
    ],
    ids=["utf16-bom", "utf16le-no-bom", "utf16be-no-bom", "utf32-bom"],
)
def test_wide_unicode_file_is_named_by_its_encoding(tmp_path: Path, encoding: str, named: str) -> None:
    # given units saved as UTF-16/32 (with or without byte-order mark)
    src = write_world(tmp_path)
    write_csv(src / "units.csv", world()["units"], encoding=encoding)
    # when ingested
    result = _ingest(src)
    # then one error names the encoding, instead of a control_character error per NUL
    assert _file_errors(result, "units.csv") == [("unsupported_encoding", named)], result.failures
    assert "control_character" not in result.failures["rule"].to_list()


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data)


def _zip(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("units.csv", data)
    return buffer.getvalue()


def _zstd(data: bytes) -> bytes:
    return bytes(pa.Codec("zstd").compress(data, asbytes=True))


@pytest.mark.parametrize(
    ("compress", "named"), [(_gzip, "gzip"), (_zip, "zip"), (_zstd, "zstd")], ids=["gzip", "zip", "zstd"]
)
def test_compressed_file_named_csv_is_called_compressed(tmp_path: Path, compress: object, named: str) -> None:
    # given units.csv that is really a compressed copy of the file
    src = write_world(tmp_path)
    path = src / "units.csv"
    assert callable(compress)
    path.write_bytes(compress(path.read_bytes()))
    # when ingested
    result = _ingest(src)
    # then it is called compressed, naming the format (not mixed_encoding)
    assert _file_errors(result, "units.csv") == [("compressed_file", named)], result.failures


# --- Parquet types and names ----------------------------------------------------------------------


def _units_parquet_with(tmp_path: Path, name: str, column: pa.Array) -> Path:
    src = write_world(tmp_path)
    units = pa.Table.from_pylist(world()["units"]).append_column(name, column)
    _parquet_in_place_of(src, "units", units)
    return src


@pytest.mark.parametrize(
    ("column", "shown"),
    [
        (pa.array([[1, 2], [3], []], type=pa.list_(pa.int64())), "list<element: int64>"),
        (pa.array([dt.timedelta(days=1)] * 3, type=pa.duration("s")), "duration[s]"),
        (pa.array([dt.time(8, 30)] * 3, type=pa.time64("us")), "time64[us]"),
        (pa.array([{"a": 1}] * 3), "struct<a: int64>"),
    ],
    ids=["list", "duration", "time", "struct"],
)
def test_parquet_column_of_an_unusable_type_is_a_failure_not_a_traceback(
    tmp_path: Path, column: pa.Array, shown: str
) -> None:
    # given units.parquet with an extra column of a type that has no text form for the contract
    src = _units_parquet_with(tmp_path, "extra", column)
    # when ingested
    result = _ingest(src)
    # then one failure names the column and its type
    assert _file_errors(result, "units.parquet") == [("unsupported_column_type", f"extra ({shown})")], (
        result.failures
    )


def test_parquet_columns_differing_only_in_case_are_a_failure(tmp_path: Path) -> None:
    # given units.parquet with both `name` and `NAME`
    src = _units_parquet_with(tmp_path, "NAME", pa.array(["a", "b", "c"]))
    # when ingested
    result = _ingest(src)
    # then a duplicate_column failure names both
    assert _file_errors(result, "units.parquet") == [("duplicate_column", "'name' and 'NAME'")], (
        result.failures
    )


def test_csv_columns_differing_only_in_case_or_spaces_are_a_failure(tmp_path: Path) -> None:
    # given units.csv with `name` and ` Name ` in its header
    tables = world()
    for row in tables["units"]:
        row[" Name "] = "x"
    src = write_world(tmp_path, tables)
    # when ingested
    result = _ingest(src)
    # then a duplicate_column failure names both
    assert _file_errors(result, "units.csv") == [("duplicate_column", "'name' and ' Name '")], result.failures


def test_parquet_counts_as_whole_floats_and_decimals_are_accepted(tmp_path: Path) -> None:
    # given availability.parquet whose counts are floats (85.0) and decimals (85.00)
    src = write_world(tmp_path)
    rows = pa.Table.from_pylist(world()["availability"])
    numerators = [float(value) for value in rows["numerator"].to_pylist()]
    denominators = [decimal.Decimal(f"{value}.00") for value in rows["denominator"].to_pylist()]
    table = rows.set_column(rows.schema.get_field_index("numerator"), "numerator", pa.array(numerators))
    table = table.set_column(
        table.schema.get_field_index("denominator"),
        "denominator",
        pa.array(denominators, pa.decimal128(12, 2)),
    )
    _parquet_in_place_of(src, "availability", table)
    # when ingested
    result = _ingest(src)
    # then the counts are read as the same whole numbers as from the CSV
    assert result.ok, result.failures
    expected = sorted(int(row["numerator"]) for row in world()["availability"])
    assert sorted(result.tables["availability"]["numerator"].to_list()) == expected


def test_parquet_count_with_a_fraction_is_still_an_error(tmp_path: Path) -> None:
    # given availability.parquet with one numerator of 85.5
    src = write_world(tmp_path)
    rows = pa.Table.from_pylist(world()["availability"])
    numerators = [float(value) for value in rows["numerator"].to_pylist()]
    numerators[0] = 85.5
    table = rows.set_column(rows.schema.get_field_index("numerator"), "numerator", pa.array(numerators))
    _parquet_in_place_of(src, "availability", table)
    # when ingested
    result = _ingest(src)
    # then that value is unparseable, on row 2
    errors = result.errors.filter(pl.col("rule") == "unparseable_value")
    assert errors.select("row", "column", "value").rows() == [(2, "numerator", "85.5")], result.failures


# --- No traceback ---------------------------------------------------------------------------------


def test_an_unforeseen_reader_fault_is_a_masked_failure_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a reader that fails in a way nobody foresaw, with a personnummer in its message
    src = write_world(tmp_path)
    number = personnummer("811218", "987")

    def broken_scan(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"column '{number}' broke the reader")

    monkeypatch.setattr(readers_module.pl, "scan_csv", broken_scan)
    # when ingested
    result = _ingest(src)
    # then every table is an unreadable_file failure, and the number is masked
    assert set(result.errors["rule"].to_list()) == {"unreadable_file"}, result.failures
    hints = " ".join(result.errors["hint"].to_list())
    assert "broke the reader" in hints and number not in hints, hints


def test_cli_reports_a_hostile_parquet_file_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given units.parquet with a list column
    monkeypatch.setenv("TILLSYNSRISK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "250")
    src = _units_parquet_with(tmp_path / "src", "extra", pa.array([[1], [2], [3]]))
    # when ingested through the CLI
    outcome = CliRunner().invoke(cli_app, ["ingest", str(src), "--reference-date", "2024-12-31"])
    # then it exits 1 with the rule in the output, and no exception escaped
    assert outcome.exit_code == 1, outcome.output
    assert outcome.exception is None or isinstance(outcome.exception, SystemExit), outcome.exception
    assert "unsupported_column_type" in outcome.output and "Traceback" not in outcome.output
