"""Every ingest rule rejects (or flags) a failing example, reported at the right file, row and column."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from engine.config import load_config
from engine.ingest import RULES, ingest_directory
from tests.ingest_factory import (
    PROVIDER_B,
    REFERENCE_DATE,
    UNIT_1,
    UNIT_3,
    Rows,
    personnummer,
    samordningsnummer,
    with_version_2,
    world,
    world_v2,
    write_world,
)

Tables = dict[str, Rows]
# A mutation breaks a valid world and returns where the failure must be reported: (table, row, column).
Mutation = Callable[[Tables], tuple[str, int | None, str | None]]


def _set(table: str, index: int, **values: str) -> Mutation:
    def mutate(tables: Tables) -> tuple[str, int | None, str | None]:
        tables[table][index].update(values)
        return table, index + 2, next(iter(values))

    return mutate


def _drop_file(tables: Tables) -> tuple[str, int | None, str | None]:
    del tables["lex_maria"]
    return "lex_maria", None, None


def _drop_column(tables: Tables) -> tuple[str, int | None, str | None]:
    for row in tables["complaints"]:
        del row["category"]
    return "complaints", None, "category"


def _extra_column(tables: Tables) -> tuple[str, int | None, str | None]:
    for row in tables["providers"]:
        row["kommentar"] = "x"
    return "providers", None, "kommentar"


def _duplicate_event(tables: Tables) -> tuple[str, int | None, str | None]:
    tables["complaints"][1]["event_id"] = tables["complaints"][0]["event_id"]
    return "complaints", 3, "event_id"


def _unknown_provider(tables: Tables) -> tuple[str, int | None, str | None]:
    tables["providers"] = [row for row in tables["providers"] if row["provider_id"] != PROVIDER_B]
    return "units", 4, "provider_id"


def _row_of(tables: Tables, table: str, **match: str) -> int:
    for index, row in enumerate(tables[table]):
        if all(row[key] == value for key, value in match.items()):
            return index
    raise AssertionError(f"no row {match} in {table}")


def _indicator_set(table: str, match: dict[str, str], column: str, **values: str) -> Mutation:
    def mutate(tables: Tables) -> tuple[str, int | None, str | None]:
        index = _row_of(tables, table, **match)
        tables[table][index].update(values)
        return table, index + 2, column

    return mutate


def _stopped(tables: Tables) -> tuple[str, int | None, str | None]:
    late = {"2024-04", "2024-05", "2024-06"}
    tables["continuity"] = [
        row for row in tables["continuity"] if not (row["unit_id"] == UNIT_3 and row["period"] in late)
    ]
    return "continuity", None, "period"


def _v2_set(table: str, index: int, column: str | None = None, **values: str) -> Mutation:
    """Like :func:`_set` on the version-2 world (the failure is looked for in ``column``)."""

    def mutate(tables: Tables) -> tuple[str, int | None, str | None]:
        with_version_2(tables)
        tables[table][index].update(values)
        return table, index + 2, column or next(iter(values))

    return mutate


_UNIT_1_JUNE = {"unit_id": UNIT_1, "period": "2024-06", "measure": "phone_same_day_share"}

CASES: list[tuple[str, Mutation]] = [
    ("missing_file", _drop_file),
    ("missing_column", _drop_column),
    ("unknown_column", _extra_column),
    ("unparseable_value", _set("complaints", 2, event_date="2024-13-45")),
    ("unparseable_value", _set("availability", 5, numerator="12,5")),
    ("missing_value", _set("units", 1, name="")),
    ("duplicate_key", _duplicate_event),
    (
        "duplicate_key",
        _indicator_set("availability", _UNIT_1_JUNE, "unit_id,period,measure", measure="assessment_3d_share"),
    ),
    ("invalid_format", _set("units", 0, municipality_code="380")),
    ("invalid_value", _set("complaints", 1, category="okand_kategori")),
    (
        "invalid_check_digit",
        _set("providers", 1, provider_id=PROVIDER_B[:9] + str((int(PROVIDER_B[9]) + 1) % 10)),
    ),
    ("out_of_range", _set("units", 2, listed_patients="-5")),
    ("out_of_range", _set("units", 1, listed_patients="1212121212")),
    (
        "out_of_range",
        _indicator_set(
            "continuity", {"unit_id": UNIT_3, "period": "2024-02"}, "denominator", denominator="99000000"
        ),
    ),
    ("control_character", _set("units", 1, name="Vårdcentralen\x00Väster")),
    ("control_character", _set("complaints", 2, summary="text\x1b[31m")),
    ("inverted_active_period", _set("units", 1, active_to="2014-12-31")),
    ("municipality_not_in_region", _set("units", 2, municipality_code="0180")),
    ("received_before_event", _set("complaints", 0, received_date="2024-01-01")),
    ("numerator_above_denominator", _set("availability", 3, numerator="5000")),
    ("decision_before_start", _set("inspections", 0, decision_date="2024-01-01")),
    ("missing_inclusion_probability", _set("inspections", 1, inclusion_probability="")),
    ("unknown_provider", _unknown_provider),
    ("unknown_unit", _set("lex_maria", 0, unit_id=f"SE{PROVIDER_B}-okand")),
    ("future_date", _set("complaints", 3, received_date="2025-02-01")),
    ("outside_active_period", _set("complaints", 1, event_date="2014-06-01")),
    ("placeholder_value", _indicator_set("availability", _UNIT_1_JUNE, "denominator", denominator="999 999")),
    ("placeholder_value", _set("units", 2, listed_patients="999999")),
    (
        "magnitude_outlier",
        _indicator_set("availability", _UNIT_1_JUNE, "denominator", numerator="3", denominator="3"),
    ),
    ("listed_patients_magnitude", _set("units", 0, listed_patients="12")),
    ("share_in_percent", _indicator_set("availability", _UNIT_1_JUNE, "share", share="88,0")),
    (
        "share_mismatch",
        _indicator_set("availability", _UNIT_1_JUNE, "numerator", numerator="88", share="0,88"),
    ),
    ("stopped_reporting", _stopped),
    ("personal_data", _set("complaints", 2, summary=f"Patient {personnummer()} ringde")),
    ("personal_data", _v2_set("attributes", 0, value=f"Ny ägare {personnummer()}")),
    ("invalid_value", _v2_set("inspections", 0, team="avdelning_x")),
    ("invalid_value", _v2_set("inspections", 1, method="telefon")),
    ("invalid_value", _v2_set("attributes", 3, attribute="okand_uppgift")),
    ("out_of_range", _v2_set("inspections", 0, deficiency_count="-1")),
    ("counts_inconsistent_with_finding", _v2_set("inspections", 1, deficiency_count="1")),
    ("counts_inconsistent_with_finding", _v2_set("inspections", 0, serious_count="1")),
    ("indicator_figures_missing", _v2_set("patient_survey", 4, "value", value="")),
    ("indicator_figures_missing", _v2_set("patient_survey", 0, "numerator", numerator="3", denominator="4")),
    ("value_out_of_range", _v2_set("patient_survey", 6, value="130")),
    ("value_out_of_range", _v2_set("attributes", 2, value="1,5")),
    ("invalid_attribute_value", _v2_set("attributes", 1, value="hög")),
    ("outside_active_period", _v2_set("attributes", 1, "valid_from", valid_from="2014-01-01")),
    ("future_date", _v2_set("attributes", 2, valid_from="2025-03-01")),
    ("unknown_unit", _v2_set("attributes", 2, unit_id=f"SE{PROVIDER_B}-okand")),
    ("personal_data", _set("complaints", 0, summary=f"Anhörig {samordningsnummer()}")),
    ("personal_data", _set("complaints", 1, summary=f"pnr 19{personnummer(separator='')} i journalen")),
]


def _case_id(case: tuple[str, Mutation]) -> str:
    return case[0]


@pytest.mark.parametrize(("rule", "mutation"), CASES, ids=[_case_id(case) for case in CASES])
def test_rule_reports_failing_example_at_its_row(tmp_path: Path, rule: str, mutation: Mutation) -> None:
    # given a valid world with one defect
    tables = world()
    table, row, column = mutation(tables)
    write_world(tmp_path, tables)
    # when it is ingested
    result = ingest_directory(tmp_path, load_config(), reference_date=REFERENCE_DATE)
    # then the defect is reported under its rule, at its table, row and column, with the rule's severity
    found = result.failures.filter(
        (pl.col("rule") == rule)
        & (pl.col("table") == table)
        & (pl.col("row").eq_missing(row))
        & (pl.col("column").str.contains(column, literal=True) if column else pl.lit(True))
    )
    assert found.height >= 1, f"{rule} not reported at {table} row {row} {column}; got:\n{result.failures}"
    assert found["severity"].to_list()[0] == RULES[rule].severity
    assert result.ok is (RULES[rule].severity == "warning"), "only warnings may leave the ingest ok"


def test_valid_world_has_no_failures(tmp_path: Path) -> None:
    result = ingest_directory(write_world(tmp_path), load_config(), reference_date=REFERENCE_DATE)
    assert result.failures.is_empty(), f"a valid world must pass cleanly, got:\n{result.failures}"
    assert set(result.tables) == {
        "providers",
        "units",
        "complaints",
        "lex_maria",
        "availability",
        "continuity",
        "inspections",
    }


def test_valid_version_2_world_has_no_failures_and_keeps_the_new_columns(tmp_path: Path) -> None:
    # given a valid export with every column and source contract version 2 added
    result = ingest_directory(write_world(tmp_path, world_v2()), load_config(), reference_date=REFERENCE_DATE)
    # then it passes cleanly, with the new tables and columns typed and numbers canonical
    assert result.failures.is_empty(), f"a valid world must pass cleanly, got:\n{result.failures}"
    inspections = result.tables["inspections"]
    assert inspections["team"].to_list() == ["mitt", "mitt"]
    assert inspections.schema["deficiency_count"] == pl.Int64
    assert result.tables["patient_survey"]["value"].head(1).to_list() == [72.5]
    shares = result.tables["attributes"].filter(pl.col("attribute") == "temporary_doctor_share")
    assert shares["value"].to_list() == ["0.15", "0.3"]


def test_version_1_export_is_read_as_version_2_with_the_new_columns_empty(tmp_path: Path) -> None:
    # given an export written the version-1 way (no team/method/counts, no value or attribute source)
    result = ingest_directory(write_world(tmp_path, world()), load_config(), reference_date=REFERENCE_DATE)
    # then it ingests, and the inspections carry the version-2 columns, empty
    assert result.ok
    inspections = result.tables["inspections"]
    for column in ("team", "method", "deficiency_count", "serious_count"):
        assert inspections[column].null_count() == inspections.height


def test_every_error_rule_in_the_catalogue_has_a_failing_example() -> None:
    covered = {rule for rule, _ in CASES}
    unreachable = {"unreadable_file", "schema_check"}  # tested in test_ingest_files.py / a catch-all
    # need a file this factory cannot write, or a pseudonym key: tested in test_attacks.py
    unreachable |= {
        "mixed_encoding",
        "link_outside_source",
        "empty_table",
        "pseudonymised_identifier",
        "pseudonym_collision",
    }
    # hostile files and the [ingest] limits: tested in test_attacks_files.py
    unreachable |= {
        "unsupported_encoding",
        "compressed_file",
        "truncated_file",
        "unsupported_column_type",
        "duplicate_column",
        "file_too_large",
        "too_many_rows",
        "too_many_columns",
        "table_too_large",
    }
    assert set(RULES) - covered - unreachable == set(), "every rule needs a failing example"


def test_all_failures_are_collected_across_files(tmp_path: Path) -> None:
    # given two bad values in each of two files
    tables = world()
    tables["complaints"][0]["category"] = "okand"
    tables["complaints"][3]["event_date"] = "not-a-date"
    tables["units"][1]["region_code"] = "99"
    tables["units"][2]["listed_patients"] = "många"
    write_world(tmp_path, tables)
    # when ingested
    result = ingest_directory(tmp_path, load_config(), reference_date=REFERENCE_DATE)
    # then all four are reported, not just the first
    reported = set(result.errors.select("file", "row", "rule").iter_rows())
    expected = {
        ("complaints.csv", 2, "invalid_value"),
        ("complaints.csv", 5, "unparseable_value"),
        ("units.csv", 3, "invalid_value"),
        ("units.csv", 4, "unparseable_value"),
    }
    assert expected <= reported, f"missing {expected - reported}"


def test_unparseable_value_is_not_also_reported_as_missing(tmp_path: Path) -> None:
    tables = world()
    tables["units"][2]["listed_patients"] = "tolv tusen"
    write_world(tmp_path, tables)
    result = ingest_directory(tmp_path, load_config(), reference_date=REFERENCE_DATE)
    at_cell = result.failures.filter((pl.col("table") == "units") & (pl.col("row") == 4))
    assert at_cell["rule"].to_list() == ["unparseable_value"], f"one failure per bad cell, got {at_cell}"


def test_share_in_percent_is_stored_as_a_fraction(tmp_path: Path) -> None:
    tables = world()
    index = _row_of(tables, "availability", **_UNIT_1_JUNE)
    tables["availability"][index]["share"] = "88,0"
    write_world(tmp_path, tables)
    result = ingest_directory(tmp_path, load_config(), reference_date=REFERENCE_DATE)
    shares = result.tables["availability"].filter(pl.col("share") > 1)
    assert shares.is_empty(), f"shares in percent must be normalised, got {shares}"


def test_placeholder_is_not_flagged_where_it_fits_the_units_level(tmp_path: Path) -> None:
    # given a large unit with about 9 999 calls a month, and one month of exactly 9 999
    tables = world()
    for row in tables["availability"]:
        if row["unit_id"] == UNIT_1 and row["measure"] == "phone_same_day_share":
            row.update(numerator="8800", denominator="10000", share="0,88")
    index = _row_of(tables, "availability", **_UNIT_1_JUNE)
    tables["availability"][index].update(numerator="8799", denominator="9999", share="0,88")
    write_world(tmp_path, tables)
    # then it is a count, not a placeholder
    result = ingest_directory(tmp_path, load_config(), reference_date=REFERENCE_DATE)
    assert result.failures.filter(pl.col("rule") == "placeholder_value").is_empty()


def test_magnitude_outlier_names_the_units_own_median(tmp_path: Path) -> None:
    # regression: the median was computed after filtering, so it showed the outlier itself
    tables = world()
    index = _row_of(tables, "availability", **_UNIT_1_JUNE)
    tables["availability"][index].update(numerator="3", denominator="3")
    write_world(tmp_path, tables)
    result = ingest_directory(tmp_path, load_config(), reference_date=REFERENCE_DATE)
    values = result.failures.filter(
        (pl.col("rule") == "magnitude_outlier") & (pl.col("column") == "denominator")
    )["value"].to_list()
    assert values == ["3 (unit median 3000.0)"], values


def test_placeholder_is_reported_once_not_as_its_consequences(tmp_path: Path) -> None:
    # given a placeholder numerator that is also above the denominator and off the reported share
    tables = world()
    index = _row_of(tables, "availability", **_UNIT_1_JUNE)
    tables["availability"][index]["numerator"] = "999999"
    write_world(tmp_path, tables)
    result = ingest_directory(tmp_path, load_config(), reference_date=REFERENCE_DATE)
    at_row = result.failures.filter((pl.col("table") == "availability") & (pl.col("row") == index + 2))
    assert at_row["rule"].to_list() == ["placeholder_value"], f"one cause, one failure; got {at_row}"
