"""Sole traders' identifiers replaced by keyed pseudonyms before anything else sees them.

A sole trader's organisationsnummer is the owner's personnummer. It appears as ``provider_id`` and inside
the HSA-id of every unit of the provider (``unit_id = SE<organisationsnummer>-<local part>``), in every
table that carries one. Both are identifiers: they cannot be redacted without breaking the joins, and
rejecting them would reject every such provider. So the number is replaced by its keyed pseudonym
(:mod:`engine.pseudonyms`) in every column of every table, before the personal-data guard, parsing and
the contract: ``provider_id`` becomes the pseudonym, ``unit_id`` becomes ``SE<pseudonym>-<local part>``,
and every table still joins.
"""

from __future__ import annotations

from dataclasses import replace

import polars as pl

from engine.identifiers import HSA_ORGANISATION_PATTERN
from engine.ingest.failures import single_failure
from engine.ingest.readers import RawTable
from engine.personal_data import personal_number_kind
from engine.pseudonyms import provider_pseudonym, unit_pseudonym

# Columns holding an organisationsnummer, and columns holding an HSA-id that starts with one.
PSEUDONYMISED_COLUMNS = ("provider_id",)
HSA_ID_COLUMNS = ("unit_id",)
_TEN_DIGITS = r"^\d{10}$"


def pseudonymised_tables(
    raw_tables: dict[str, RawTable], key: bytes | None
) -> tuple[dict[str, RawTable], list[pl.LazyFrame]]:
    """Tables with every sole trader's number replaced by its keyed pseudonym, and the failures.

    Parameters
    ----------
    raw_tables
        The tables as read (every column a string).
    key
        The pseudonym key; without one a sole trader's number is a ``personal_data`` error.

    Returns
    -------
    tuple
        The tables (the same objects where nothing was replaced) and failure frames: a
        ``pseudonymised_identifier`` warning per table and column set that had replacements, a
        ``pseudonym_collision`` error if two numbers (or a number and another provider) share a pseudonym.
    """
    personal, others = _organisation_numbers(raw_tables)
    if not personal:
        return raw_tables, []
    columns = ",".join(PSEUDONYMISED_COLUMNS + HSA_ID_COLUMNS)
    if key is None:
        return raw_tables, [
            single_failure(
                table="providers",
                file="providers",
                rule="personal_data",
                column=columns,
                value=f"{len(personal)} personnummer",
                hint="a sole trader's organisationsnummer is a personnummer and no pseudonym key is "
                "available to replace it",
            )
        ]
    mapping = {number: provider_pseudonym(key, number) for number in sorted(personal)}
    failures: list[pl.LazyFrame] = []
    if len(set(mapping.values())) < len(mapping) or set(mapping.values()) & others:
        failures.append(
            single_failure(table="providers", file="providers", rule="pseudonym_collision", column=columns)
        )
    replaced = {}
    for name, raw in raw_tables.items():
        frame, touched, count = _replaced_identifiers(raw.frame, mapping, key)
        replaced[name] = replace(raw, frame=frame) if count else raw
        if count:
            failures.append(
                single_failure(
                    table=name,
                    file=raw.file,
                    rule="pseudonymised_identifier",
                    column=",".join(touched),
                    value=f"{count} replaced",
                )
            )
    return replaced, failures


def _organisation_numbers(raw_tables: dict[str, RawTable]) -> tuple[set[str], set[str]]:
    """(personnummer, other organisationsnummer) found as ``provider_id`` or inside an HSA-id."""
    personal: set[str] = set()
    others: set[str] = set()
    for raw in raw_tables.values():
        for column in raw.frame.columns:
            if column in PSEUDONYMISED_COLUMNS:
                values = raw.frame.get_column(column).drop_nulls().unique()
                numbers = values.filter(values.str.contains(_TEN_DIGITS))
            elif column in HSA_ID_COLUMNS:
                numbers = (
                    raw.frame.get_column(column)
                    .str.extract(HSA_ORGANISATION_PATTERN, 1)
                    .drop_nulls()
                    .unique()
                )
            else:
                continue
            for number in numbers.to_list():
                (personal if personal_number_kind(number) else others).add(number)
    return personal, others


def _replaced_identifiers(
    frame: pl.DataFrame, mapping: dict[str, str], key: bytes
) -> tuple[pl.DataFrame, list[str], int]:
    """``frame`` with the numbers of ``mapping`` replaced, the columns touched and the cells replaced."""
    replacements: dict[str, dict[str, str]] = {}
    for column in frame.columns:
        if column in PSEUDONYMISED_COLUMNS:
            replacements[column] = mapping
        elif column in HSA_ID_COLUMNS:
            values = frame.get_column(column).drop_nulls().unique()
            inside = values.str.extract(HSA_ORGANISATION_PATTERN, 1).is_in(list(mapping))
            replacements[column] = {
                unit: unit_pseudonym(key, unit) for unit in values.filter(inside).to_list()
            }
    counts = {
        column: int(frame.get_column(column).is_in(list(values)).sum())
        for column, values in replacements.items()
        if values
    }
    touched = [column for column, count in counts.items() if count]
    if not touched:
        return frame, [], 0
    replaced = frame.with_columns(pl.col(column).replace(replacements[column]) for column in touched)
    return replaced, touched, sum(counts.values())
