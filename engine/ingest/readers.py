"""Reading raw exports as Swedish systems write them: every column as a string, nothing parsed yet.

CSV: ``;`` separated (``,`` when the header clearly uses it), UTF-8 with or without BOM, or
Windows-1252 (tried when strict UTF-8 decoding fails; the encoding used goes to the manifest).
Parquet: ``<table>.parquet`` in place of ``<table>.csv``; its columns are cast to strings so both formats
share one parsing path. Each frame gets ``__row__``: the spreadsheet row number of the record
(header = 1, first record = 2; Parquet records are numbered the same way).

Reading is bounded by ``[ingest]`` (:class:`engine.config.IngestSettings`): the file's size, its
columns and (for Parquet) its row count and decompressed size are checked before any data is held;
the checks that need the content (hash, encoding, a cut-off last row) stream the file in chunks; the
table is then collected in batches and the read stops once the rows or the memory held pass their
limits. A file that cannot be ingested raises :class:`UnreadableFileError` with the failure's rule.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from engine.config import MIB, IngestSettings

ROW_COLUMN = "__row__"
FIRST_DATA_ROW = 2
MIXED_ROWS_SHOWN = 10
# Chunks of the streamed passes, rows per collected batch, and how much of the end is kept to find
# the last record: each a small constant, so memory does not grow with the file before the collect.
CHUNK_BYTES = 1 << 20
BATCH_ROWS = 100_000
TAIL_BYTES = 1 << 16
HEADER_BYTES = 1 << 20
UTF8_BOM = b"\xef\xbb\xbf"

FileFormat = Literal["csv", "parquet"]

# Magic numbers of the archive and compression formats an export may arrive in under a .csv name.
COMPRESSED_SIGNATURES = {
    b"\x1f\x8b": "gzip",
    b"PK\x03\x04": "zip",
    b"\x28\xb5\x2f\xfd": "zstd",
    b"\xfd7zXZ\x00": "xz",
    b"7z\xbc\xaf\x27\x1c": "7z",
    b"BZh": "bzip2",
}
UNICODE_BOMS = {
    b"\xff\xfe\x00\x00": "UTF-32 LE",
    b"\x00\x00\xfe\xff": "UTF-32 BE",
    b"\xff\xfe": "UTF-16 LE",
    b"\xfe\xff": "UTF-16 BE",
}


class UnreadableFileError(ValueError):
    """A file that cannot be ingested as it is; ``rule`` is the failure's rule id and ``value`` what
    was found (the message names why and what to do)."""

    def __init__(self, message: str, *, rule: str = "unreadable_file", value: str | None = None) -> None:
        super().__init__(message)
        self.rule = rule
        self.value = value


class MixedEncodingError(UnreadableFileError):
    """A CSV file whose lines are partly UTF-8 and partly Windows-1252 (``rows``: the first of the
    latter, ``count`` how many there are)."""

    def __init__(self, rows: list[int], count: int) -> None:
        self.rows = rows
        shown = ", ".join(str(row) for row in rows[:MIXED_ROWS_SHOWN]) + (" ..." if count > len(rows) else "")
        super().__init__(
            f"the file mixes UTF-8 and Windows-1252: {count} row(s) are not UTF-8 ({shown}) while "
            "others are; save the whole file in one encoding",
            rule="mixed_encoding",
            value=f"rows {shown}",
        )


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


def detected_separator(header_line: str) -> str:
    """``;`` unless the header clearly uses ``,`` (has commas and no semicolons)."""
    if ";" not in header_line and "," in header_line:
        return ","
    return ";"


def compression_format(head: bytes) -> str | None:
    """The compression or archive format ``head`` (a file's first bytes) starts with, or None."""
    for signature, name in COMPRESSED_SIGNATURES.items():
        if head.startswith(signature) and (name != "bzip2" or head[3:4].isdigit()):
            return name
    return None


def wide_unicode_encoding(head: bytes) -> str | None:
    """``UTF-16 LE``/``BE`` or ``UTF-32 LE``/``BE`` when ``head`` starts with that byte-order mark or,
    without one, is text with a NUL in every other byte (ASCII written as UTF-16); else None."""
    for bom, name in UNICODE_BOMS.items():
        if head.startswith(bom):
            return f"{name} (with byte-order mark)"
    even, odd = head[0:4096:2], head[1:4096:2]
    if len(odd) < 2:
        return None
    even_nul, odd_nul = even.count(0) / len(even), odd.count(0) / len(odd)
    if odd_nul > 0.3 and even_nul < 0.05:
        return "UTF-16 LE (without byte-order mark)"
    if even_nul > 0.3 and odd_nul < 0.05:
        return "UTF-16 BE (without byte-order mark)"
    return None


def read_raw_table(name: str, path: Path, limits: IngestSettings | None = None) -> RawTable:
    """Read ``path`` with every column as a (stripped, empty = null) string plus ``__row__``.

    Parameters
    ----------
    name
        The contract table the file holds.
    path
        ``<table>.csv`` or ``<table>.parquet``.
    limits
        The ``[ingest]`` bounds (defaults when None).

    Raises
    ------
    UnreadableFileError
        When the file cannot be ingested as it is; its ``rule`` names the failure.
    """
    limits = limits or IngestSettings()
    size = path.stat().st_size
    if size > limits.max_file_bytes:
        raise _too_large(f"{size / MIB:,.1f} MiB on disk", limits)
    if path.suffix == ".parquet":
        frame = _parquet_as_strings(path, limits)
        return RawTable(name, path, frame, "parquet", None, None, _sha256(path))
    return _csv_table(name, path, limits)


def _csv_table(name: str, path: Path, limits: IngestSettings) -> RawTable:
    with path.open("rb") as file:
        head = file.read(HEADER_BYTES)
    _refuse_binary(head)
    if not head.strip():
        raise UnreadableFileError("the file is empty (no header line)")
    facts = _csv_facts(path)
    with tempfile.TemporaryDirectory(prefix="tillsynsrisk-ingest-") as scratch:
        if facts.utf8:
            source = path
            encoding = "utf-8-sig" if head.startswith(UTF8_BOM) else "utf-8"
        else:
            source, encoding = Path(scratch) / "utf8.csv", "cp1252"
            _transcode_cp1252(path, source)
        header_line = _first_line(source)
        separator = detected_separator(header_line)
        header = _fields(header_line, separator)
        _check_columns(header, limits)
        _check_last_record(facts.tail, header, separator, encoding)
        lazy = pl.scan_csv(
            source, separator=separator, infer_schema=False, quote_char='"', raise_if_empty=True
        )
        frame = _collected(lazy, limits, "CSV")
    return RawTable(name, path, _normalised_strings(frame), "csv", encoding, separator, facts.sha256)


@dataclass(frozen=True)
class _CsvFacts:
    sha256: str
    utf8: bool
    tail: bytes


def _csv_facts(path: Path) -> _CsvFacts:
    """One streamed pass: the content hash, whether the bytes are UTF-8, and the file's last bytes."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8, tail = True, b""
    with path.open("rb") as file:
        while chunk := file.read(CHUNK_BYTES):
            digest.update(chunk)
            tail = (tail + chunk)[-TAIL_BYTES:]
            if utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
    if utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    return _CsvFacts(digest.hexdigest(), utf8, tail)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _refuse_binary(head: bytes) -> None:
    compressed = compression_format(head)
    if compressed:
        raise UnreadableFileError(
            f"the file is {compressed}-compressed, not a CSV text file; unpack it and ingest the CSV inside",
            rule="compressed_file",
            value=compressed,
        )
    if head.startswith(b"PAR1"):
        raise UnreadableFileError("the file is Parquet, not CSV; name it <table>.parquet")
    wide = wide_unicode_encoding(head)
    if wide:
        raise UnreadableFileError(
            f"the file is {wide}; save it as UTF-8 (or Windows-1252)",
            rule="unsupported_encoding",
            value=wide.split(" (", 1)[0],
        )


def _transcode_cp1252(path: Path, target: Path) -> None:
    """Write ``path`` (not UTF-8) to ``target`` as UTF-8, line by line, read as Windows-1252.

    A file that fails strict UTF-8 is Windows-1252 only if no line is genuine multi-byte UTF-8: a
    file edited in two programs (half ``å`` as two bytes, half as one) would otherwise be read as
    Windows-1252 and garble every UTF-8 line without a word.
    """
    invalid: list[int] = []
    invalid_count = utf8_lines = offset = 0
    undecodable: tuple[int, int] | None = None
    with path.open("rb") as source, target.open("wb") as out:
        for number, line in enumerate(source, start=1):
            body = line.removeprefix(UTF8_BOM) if number == 1 else line
            if not body.isascii():
                try:
                    body.decode("utf-8")
                    utf8_lines += 1
                except UnicodeDecodeError:
                    invalid_count += 1
                    if len(invalid) < MIXED_ROWS_SHOWN:
                        invalid.append(number)
            try:
                out.write(body.decode("cp1252").encode("utf-8"))
            except UnicodeDecodeError as error:
                undecodable = undecodable or (body[error.start], offset + len(line) - len(body) + error.start)
            offset += len(line)
    if utf8_lines and invalid_count:
        raise MixedEncodingError(invalid, invalid_count)
    if undecodable:
        byte, position = undecodable
        raise UnreadableFileError(f"neither UTF-8 nor Windows-1252 (byte 0x{byte:02x} at offset {position})")


def _first_line(path: Path) -> str:
    with path.open("rb") as file:
        line = file.readline(HEADER_BYTES)
    return line.removeprefix(UTF8_BOM).decode("utf-8", errors="replace").rstrip("\r\n")


def _fields(line: str, separator: str) -> list[str]:
    return next(csv.reader([line], delimiter=separator, quotechar='"'), [])


def _check_columns(names: list[str], limits: IngestSettings) -> None:
    """The column-count limit, and no two names that are the same once trimmed and lower-cased."""
    if len(names) > limits.max_columns:
        raise UnreadableFileError(
            f"the file has {len(names):,} columns, more than the limit of {limits.max_columns:,} "
            "([ingest] max_columns)",
            rule="too_many_columns",
            value=f"{len(names):,} columns",
        )
    seen: dict[str, str] = {}
    duplicates = []
    for name in names:
        normal = _normal_name(name)
        if normal in seen:
            duplicates.append(f"{seen[normal]!r} and {name!r}")
        seen.setdefault(normal, name)
    if duplicates:
        raise UnreadableFileError(
            "column names must be unique (compared trimmed and ignoring case): "
            + "; ".join(duplicates[:MIXED_ROWS_SHOWN]),
            rule="duplicate_column",
            value="; ".join(duplicates[:MIXED_ROWS_SHOWN]),
        )


def _check_last_record(tail: bytes, header: list[str], separator: str, encoding: str) -> None:
    """A file cut off mid-row: no final line break, or a last record with fewer fields than the header.

    The field count is checked only when the last line closes its quotes (a quoted field may span
    lines, and then the line alone does not say how many fields its record has).
    """
    if not tail.endswith(b"\n"):
        raise UnreadableFileError(
            "the file does not end with a line break: it looks cut off mid-row (an interrupted export or "
            "copy); export it again, or add the final line break if the file is complete",
            rule="truncated_file",
            value="no final line break",
        )
    last = tail.rstrip(b"\r\n").rsplit(b"\n", 1)[-1]
    if last.count(b'"') % 2 or b"\n" not in tail.rstrip(b"\r\n"):
        return
    fields = _fields(last.decode("utf-8" if encoding != "cp1252" else "cp1252", errors="replace"), separator)
    if len(fields) < len(header):
        raise UnreadableFileError(
            f"the last row has {len(fields)} of the header's {len(header)} fields: the file looks cut "
            "off mid-row; export it again",
            rule="truncated_file",
            value=f"{len(fields)} of {len(header)} fields in the last row",
        )


def _too_large(found: str, limits: IngestSettings) -> UnreadableFileError:
    return UnreadableFileError(
        f"the file is {found}, more than the limit of {limits.max_file_mib:,g} MiB ([ingest] max_file_mib)",
        rule="file_too_large",
        value=found,
    )


def _collected(lazy: pl.LazyFrame, limits: IngestSettings, kind: str) -> pl.DataFrame:
    """``lazy`` collected batch by batch, stopping once the rows or the memory held pass the limits."""
    batches: list[pl.DataFrame] = []
    rows, held = 0, 0.0
    try:
        for batch in lazy.collect_batches(chunk_size=BATCH_ROWS):
            rows += batch.height
            held += batch.estimated_size()
            if rows > limits.max_rows:
                raise _too_many_rows(f"more than {limits.max_rows:,} rows", limits)
            if held > limits.max_table_bytes:
                raise UnreadableFileError(
                    f"the table takes more than {limits.max_table_mib:,g} MiB in memory as text after "
                    f"{rows:,} rows ([ingest] max_table_mib)",
                    rule="table_too_large",
                    value=f"more than {limits.max_table_mib:,g} MiB after {rows:,} rows",
                )
            batches.append(batch)
        if not batches:
            return pl.DataFrame(schema=lazy.collect_schema())
    except (pl.exceptions.PolarsError, OSError, pa.ArrowException) as error:
        raise UnreadableFileError(f"not a readable {kind} file: {_first_error_line(error)}") from error
    return pl.concat(batches, rechunk=False)


def _too_many_rows(found: str, limits: IngestSettings) -> UnreadableFileError:
    return UnreadableFileError(
        f"the table has {found}, more than the limit of {limits.max_rows:,} ([ingest] max_rows)",
        rule="too_many_rows",
        value=found,
    )


def _parquet_as_strings(path: Path, limits: IngestSettings) -> pl.DataFrame:
    """A Parquet file as strings, after its metadata passed the limits (nothing decompressed before)."""
    try:
        metadata = pq.read_metadata(path)
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError) as error:
        raise UnreadableFileError(f"not a readable Parquet file: {_first_error_line(error)}") from error
    _check_columns(schema.names, limits)
    if metadata.num_rows > limits.max_rows:
        raise _too_many_rows(f"{metadata.num_rows:,} rows", limits)
    decompressed = sum(metadata.row_group(index).total_byte_size for index in range(metadata.num_row_groups))
    if decompressed > limits.max_file_bytes:
        raise _too_large(f"{decompressed / MIB:,.1f} MiB decompressed", limits)
    unsupported = [f"{field.name} ({field.type})" for field in schema if not _is_supported(field.type)]
    if unsupported:
        raise UnreadableFileError(
            "columns of a type the contract has no use for (lists, structs, times of day, durations, "
            f"binary): {', '.join(unsupported)}; export them as text, numbers or dates",
            rule="unsupported_column_type",
            value=", ".join(unsupported),
        )
    lazy = pl.scan_parquet(path)
    try:
        types = lazy.collect_schema()
    except pl.exceptions.PolarsError as error:
        raise UnreadableFileError(f"not a readable Parquet file: {_first_error_line(error)}") from error
    as_strings = lazy.select(_string_expr(name, dtype) for name, dtype in types.items())
    return _normalised_strings(_collected(as_strings, limits, "Parquet"))


def _is_supported(data_type: pa.DataType) -> bool:
    """Whether a Parquet column of ``data_type`` has a text form the contract can parse."""
    if pa.types.is_dictionary(data_type):
        return _is_supported(data_type.value_type)
    checks = (
        pa.types.is_string,
        pa.types.is_large_string,
        pa.types.is_string_view,
        pa.types.is_integer,
        pa.types.is_floating,
        pa.types.is_decimal,
        pa.types.is_boolean,
        pa.types.is_date,
        pa.types.is_timestamp,
        pa.types.is_null,
    )
    return any(check(data_type) for check in checks)


def _string_expr(name: str, dtype: pl.DataType) -> pl.Expr:
    if dtype.is_temporal():
        return pl.col(name).dt.strftime("%Y-%m-%d")
    if dtype.is_float() or dtype.is_decimal():
        # 85.0 (a float) and 85.00 (a decimal) are the whole number 85: written so, a count parses.
        return pl.col(name).cast(pl.String).str.replace(r"\.0+$", "")
    return pl.col(name).cast(pl.String)


def _normal_name(column: str) -> str:
    return column.strip().lstrip("\ufeff").strip().lower()


def _normalised_strings(frame: pl.DataFrame) -> pl.DataFrame:
    """Header names trimmed and lower-cased; values trimmed, empty as null; ``__row__`` added."""
    renamed = frame.rename({column: _normal_name(column) for column in frame.columns})
    # Stripping allocates every string again; a cheap scan first finds the columns that need it.
    # One expression over every column (polars expands it), not one per column: linear in columns.
    untidy = renamed.select(_untidy_expr(pl.all())).row(0) if renamed.width else ()
    needs_strip = [column for column, flag in zip(renamed.columns, untidy, strict=True) if flag]
    stripped = pl.col(needs_strip).str.strip_chars()
    return (
        renamed.with_columns(pl.when(stripped == "").then(None).otherwise(stripped).name.keep())
        .with_row_index(ROW_COLUMN, offset=FIRST_DATA_ROW)
        .with_columns(pl.col(ROW_COLUMN).cast(pl.Int64))
    )


def _untidy_expr(column: pl.Expr) -> pl.Expr:
    """Whether any value of a string column has surrounding whitespace or is empty."""
    untidy = column == ""
    for char in (" ", "\t", "\u00a0"):
        untidy = untidy | column.str.starts_with(char) | column.str.ends_with(char)
    return untidy.any().fill_null(False)


def _first_error_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
