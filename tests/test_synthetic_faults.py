"""Injected data-quality faults: every fault id present, recorded where it is, and nothing else changed."""

from __future__ import annotations

import re

import polars as pl
import pytest

from engine.config import Config, load_config
from engine.contract import table_schemas
from engine.identifiers import is_luhn_valid
from synthetic import FAULT_IDS, World, WorldParams, generate_world
from synthetic.faults import COMPANION_COLUMNS, synthetic_personal_number

SMALL = {"n_units": 150, "years": 3, "seed": 21}


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config()


@pytest.fixture(scope="module")
def clean(config: Config) -> World:
    return generate_world(WorldParams(**SMALL), config)


@pytest.fixture(scope="module")
def faulty(config: Config) -> World:
    return generate_world(WorldParams(with_faults=True, **SMALL), config)


def test_every_fault_id_is_injected_at_least_once(faulty: World) -> None:
    injected = {fault.fault for fault in faulty.faults}
    assert injected == set(FAULT_IDS), f"missing faults: {set(FAULT_IDS) - injected}"


def test_recorded_rows_use_spreadsheet_numbering_and_hold_the_fault(faulty: World) -> None:
    for fault in faulty.faults:
        if fault.row is None:
            continue
        record = faulty.tables[fault.table].row(fault.row - 2, named=True)  # header = row 1
        assert record["unit_id"] == fault.unit_id, f"{fault}: row {fault.row} belongs to {record['unit_id']}"


def test_faults_change_exactly_the_recorded_cells(clean: World, faulty: World) -> None:
    # given the same seed with and without faults, when the tables are compared cell by cell
    recorded = {(f.table, f.row, f.column) for f in faulty.faults if f.row is not None}
    companions = {
        (f.table, f.row, column)
        for f in faulty.faults
        if f.row is not None
        for column in COMPANION_COLUMNS.get(f.fault, ())
    }
    changed: set[tuple[str, int | None, str]] = set()
    stopped = next(f for f in faulty.faults if f.fault == "stopped_reporting")
    for name, frame in faulty.tables.items():
        before = clean.tables[name]
        if name == stopped.table:  # the stopped unit's trailing rows are gone; compare the rest
            cutoff = frame.filter(pl.col("unit_id") == stopped.unit_id)["period"].max()
            before = before.filter((pl.col("unit_id") != stopped.unit_id) | (pl.col("period") <= cutoff))
        assert before.height == frame.height, f"{name}: rows added or lost beyond the stopped unit"
        for column in frame.columns:
            differs = (before[column].ne_missing(frame[column])).arg_true().to_list()
            changed.update((name, index + 2, column) for index in differs)
    # then every changed cell is a recorded fault and every recorded fault changed a cell
    unrecorded = changed - recorded - companions
    assert unrecorded == set(), f"cells changed that faults.json does not record: {unrecorded}"
    assert recorded <= changed, f"recorded faults that changed nothing: {recorded - changed}"


def test_stopped_unit_misses_the_trailing_months(config: Config, faulty: World) -> None:
    stopped = next(f for f in faulty.faults if f.fault == "stopped_reporting")
    periods = faulty.tables[stopped.table]["period"]
    unit_last = faulty.tables[stopped.table].filter(pl.col("unit_id") == stopped.unit_id)["period"].max()
    months_missing = (periods.max().year - unit_last.year) * 12 + periods.max().month - unit_last.month  # type: ignore[union-attr]
    assert months_missing >= config.quality.stop_reporting_months, (
        f"only {months_missing} trailing months gone"
    )
    unit = faulty.tables["units"].filter(pl.col("unit_id") == stopped.unit_id)
    assert unit["active_to"].is_null().all(), "a stopped unit must still be active"


def test_faulted_world_still_has_the_contract_shape(faulty: World, config: Config) -> None:
    # the faults are content errors for the data-quality rules, not schema violations
    specs = table_schemas(config)
    for name, frame in faulty.tables.items():
        specs[name].schema.validate(frame)


def test_personal_numbers_are_luhn_valid_and_only_where_recorded(clean: World, faulty: World) -> None:
    pattern = re.compile(r"(\d{2})(\d{6})-?(\d{4})")
    rows = [f.row for f in faulty.faults if f.fault == "personal_data"]
    summaries = faulty.tables["complaints"]["summary"]
    for row in rows:
        assert row is not None
        match = pattern.search(summaries[row - 2])
        assert match, f"no personnummer in complaints row {row}"
        assert is_luhn_valid(match.group(2) + match.group(3)), f"not Luhn-valid: {match.group(0)}"
    digits = clean.tables["complaints"].filter(pl.col("summary").str.contains(r"\d{6}"))
    assert digits.is_empty(), "clean complaint summaries must not contain identifier-like digit runs"


@pytest.mark.parametrize("samordning", [False, True], ids=["personnummer", "samordningsnummer"])
def test_synthetic_personal_number_is_well_formed(samordning: bool) -> None:
    import numpy as np

    number = synthetic_personal_number(np.random.default_rng(0), samordning)
    assert re.fullmatch(r"\d{8}-\d{4}", number), number
    day = int(number[6:8])
    assert (day > 60) is samordning, f"day field {day} for samordning={samordning}"
    assert is_luhn_valid(number[2:8] + number[9:]), number


@pytest.mark.parametrize("years", [1, 2], ids=["one-year", "two-years"])
def test_short_worlds_still_get_every_fault(config: Config, years: int) -> None:
    # regression: the history bounds once required 24 months, so a one-year world could not be faulted
    world = generate_world(WorldParams(seed=5, n_units=60, years=years, with_faults=True), config)
    assert {fault.fault for fault in world.faults} == set(FAULT_IDS)
