"""Reading raw exports as Swedish systems write them: every column as a string, nothing parsed yet.

CSV: ``;`` separated (``,`` when the header clearly uses it), UTF-8 with or without BOM, or
Windows-1252 (tried when strict UTF-8 decoding fails; the encoding used goes to the manifest).
Parquet: ``<table>.parquet`` in place of ``<table>.csv``; its columns are cast to strings so both formats
share one parsing path. Each frame gets ``__row__``: the spreadsheet row number of the record
(header = 1, first record = 2; Parquet records are numbered the same way).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import polars as pl

ROW_COLUMN = "__row__"
FIRST_DATA_ROW = 2

FileFormat = Literal["csv", "parquet"]


class UnreadableFileError(ValueError):
    """A file that cannot be read as CSV or Parquet at all (the message names the file and why)."""


class MixedEncodingError(UnreadableFileError):
    """A CSV file whose lines are partly UTF-8 and partly Windows-1252 (``rows``: the latter)."""

    def __init__(self, rows: list[int]) -> None:
        self.rows = rows
        shown = ", ".join(str(row) for row in rows[:MIXED_ROWS_SHOWN]) + (
            " ..." if len(rows) > MIXED_ROWS_SHOWN else ""
        )
        self.rows_text = f"rows {shown}"
        super().__init__(
            f"the file mixes UTF-8 and Windows-1252: {len(rows)} row(s) are not UTF-8 ({shown}) while "
            "others are; save the whole file in one encoding"
        )


MIXED_ROWS_SHOWN = 10


@dataclass(frozen=True)
class RawTable:
    """One source file read as strings, with where it came from."""

    name: str
    path: Path
    frame: pl.DataFrame
    format: FileFormat
    encoding: str | None
    separator: str | None
    sha256: str

    @property
    def file(self) -> str:
        return self.path.name


def is_inside(path: Path, directory: Path) -> bool:
    """Whether ``path``, with every symbolic link resolved, is inside ``directory`` (also resolved)."""
    return path.resolve().is_relative_to(directory.resolve())


def find_table_file(src_dir: Path, table: str) -> Path | None:
    """``<table>.csv`` or ``<table>.parquet`` in ``src_dir`` (CSV wins if both exist), or None."""
    for suffix in (".csv", ".parquet"):
        candidate = src_dir / f"{table}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def decoded_text(data: bytes) -> tuple[str, str]:
    """The text of ``data`` and the encoding used: strict UTF-8 (BOM allowed), else Windows-1252."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        mixed = mixed_encoding_rows(data)
        if mixed:
            raise MixedEncodingError(mixed) from None
        try:
            return data.decode("cp1252"), "cp1252"
        except UnicodeDecodeError as error:
            raise UnreadableFileError(
                f"neither UTF-8 nor Windows-1252 (byte 0x{data[error.start]:02x} at offset {error.start})"
            ) from error
    return text, "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"


def mixed_encoding_rows(data: bytes) -> list[int]:
    """Line numbers (header = 1) that are not UTF-8, when other lines hold non-ASCII UTF-8; else ``[]``.

    A file that fails strict UTF-8 is Windows-1252 only if no line is genuine multi-byte UTF-8: a
    file edited in two programs (half ``å`` as two bytes, half as one) would otherwise be read as
    Windows-1252 and garble every UTF-8 line without a word.
    """
    invalid, utf8_lines = [], 0
    for number, line in enumerate(data.removeprefix(b"\xef\xbb\xbf").split(b"\n"), start=1):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            invalid.append(number)
        else:
            utf8_lines += 1
    return invalid if utf8_lines and invalid else []


def detected_separator(header_line: str) -> str:
    """``;`` unless the header clearly uses ``,`` (has commas and no semicolons)."""
    if ";" not in header_line and "," in header_line:
        return ","
    return ";"


def read_raw_table(name: str, path: Path) -> RawTable:
    """Read ``path`` with every column as a (stripped, empty = null) string plus ``__row__``."""
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if path.suffix == ".parquet":
        frame = _parquet_as_strings(data)
        return RawTable(name, path, frame, "parquet", None, None, digest)
    text, encoding = decoded_text(data)
    if not text.strip():
        raise UnreadableFileError("the file is empty (no header line)")
    separator = detected_separator(text.split("\n", 1)[0])
    # UTF-8 input goes to the reader as is (without its BOM); only Windows-1252 is re-encoded.
    utf8 = {"utf-8-sig": data[3:], "utf-8": data}.get(encoding) or text.encode("utf-8")
    try:
        frame = pl.read_csv(
            io.BytesIO(utf8),
            separator=separator,
            infer_schema=False,
            quote_char='"',
            raise_if_empty=True,
        )
    except (pl.exceptions.PolarsError, OSError) as error:
        raise UnreadableFileError(f"not a readable CSV file: {_first_line(error)}") from error
    return RawTable(name, path, _normalised_strings(frame), "csv", encoding, separator, digest)


def _parquet_as_strings(data: bytes) -> pl.DataFrame:
    try:
        frame = pl.read_parquet(io.BytesIO(data))
    except (pl.exceptions.PolarsError, OSError) as error:
        raise UnreadableFileError(f"not a readable Parquet file: {_first_line(error)}") from error
    as_strings = frame.select(_string_expr(name, dtype) for name, dtype in frame.schema.items())
    return _normalised_strings(as_strings)


def _string_expr(name: str, dtype: pl.DataType) -> pl.Expr:
    if dtype.is_temporal():
        return pl.col(name).dt.strftime("%Y-%m-%d")
    if dtype.is_nested():
        return pl.col(name).cast(pl.String, strict=False)
    return pl.col(name).cast(pl.String)


def _normalised_strings(frame: pl.DataFrame) -> pl.DataFrame:
    """Header names trimmed and lower-cased; values trimmed, empty as null; ``__row__`` added."""
    renamed = frame.rename(
        {column: column.strip().lstrip("\ufeff").strip().lower() for column in frame.columns}
    )
    # Stripping allocates every string again; a cheap scan first finds the columns that need it.
    untidy = renamed.select(_untidy_expr(pl.col(column)).alias(column) for column in renamed.columns).row(0)
    needs_strip = [column for column, flag in zip(renamed.columns, untidy, strict=True) if flag]
    stripped = pl.col(needs_strip).str.strip_chars()
    return (
        renamed.with_columns(pl.when(stripped == "").then(None).otherwise(stripped).name.keep())
        .with_row_index(ROW_COLUMN, offset=FIRST_DATA_ROW)
        .with_columns(pl.col(ROW_COLUMN).cast(pl.Int64))
    )


def _untidy_expr(column: pl.Expr) -> pl.Expr:
    """Whether any value of a string column has surrounding whitespace or is empty."""
    edges = [column.str.starts_with(char) | column.str.ends_with(char) for char in (" ", "\t", "\u00a0")]
    return pl.any_horizontal(*edges, column == "").any().fill_null(False)


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
