"""The snapshot store: content-addressed, immutable, atomic, with a current pointer."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import polars as pl
import pytest

from engine.snapshots import (
    SnapshotNotFoundError,
    SnapshotStore,
    snapshot_id_for,
    table_content_hash,
)


def _tables(value: int = 1) -> dict[str, pl.DataFrame]:
    return {
        "units": pl.DataFrame({"unit_id": ["a", "b"], "listed_patients": [value, 2]}),
        "availability": pl.DataFrame(
            {"unit_id": ["a"], "period": [dt.date(2024, 1, 1)], "share": [0.5]},
        ),
    }


def _write(store: SnapshotStore, tables: dict[str, pl.DataFrame]) -> str:
    snapshot = store.write(tables, schema_version=1, config_hash="c" * 64, metadata={"warnings": []})
    return snapshot.id


def test_same_content_gives_the_same_id_and_reuses_the_directory(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "snapshots")
    first = _write(store, _tables())
    created = store.open(first).manifest["created_at"]
    second = _write(store, _tables())
    assert first == second
    assert store.open(first).manifest["created_at"] == created, "an existing snapshot must not be rewritten"
    assert [info.id for info in store.list()] == [first]


def test_different_content_or_config_gives_another_id() -> None:
    hashes = {name: table_content_hash(frame) for name, frame in _tables().items()}
    changed = {name: table_content_hash(frame) for name, frame in _tables(value=7).items()}
    assert snapshot_id_for(1, "a", hashes) != snapshot_id_for(1, "a", changed)
    assert snapshot_id_for(1, "a", hashes) != snapshot_id_for(1, "b", hashes)
    assert snapshot_id_for(1, "a", hashes) != snapshot_id_for(2, "a", hashes)


def test_content_hash_does_not_depend_on_the_parquet_writer(tmp_path: Path) -> None:
    frame = _tables()["availability"]
    frame.write_parquet(tmp_path / "a.parquet", compression="snappy")
    frame.write_parquet(tmp_path / "b.parquet", compression="zstd", row_group_size=1)
    assert table_content_hash(pl.read_parquet(tmp_path / "a.parquet")) == table_content_hash(
        pl.read_parquet(tmp_path / "b.parquet")
    )


def test_written_snapshot_has_manifest_and_scannable_tables(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    snapshot = store.open(_write(store, _tables()))
    assert snapshot.table_names() == ["availability", "units"]
    assert snapshot.manifest["tables"]["units"]["rows"] == 2
    assert snapshot.manifest["schema_version"] == 1
    assert snapshot.scan("availability").collect()["period"].dtype == pl.Date
    assert set(snapshot.tables()) == {"availability", "units"}
    with pytest.raises(KeyError, match="no table 'visits'"):
        snapshot.scan("visits")


def test_current_pointer_and_prefix_lookup(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    assert store.current_id() is None
    with pytest.raises(SnapshotNotFoundError, match="no current snapshot"):
        store.open()
    first = _write(store, _tables())
    second = _write(store, _tables(value=9))
    store.set_current(first)
    assert store.open().id == first
    store.set_current(second)
    assert store.current_id() == second
    assert store.open(second[:6]).id == second
    assert [info.is_current for info in store.list() if info.id == second] == [True]
    with pytest.raises(SnapshotNotFoundError, match="no snapshot 'nope'"):
        store.open("nope")


def test_interrupted_write_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # given a store with a current snapshot
    store = SnapshotStore(tmp_path)
    first = _write(store, _tables())
    store.set_current(first)
    before = sorted(os.listdir(tmp_path))

    # when the next write is interrupted just before the rename
    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "rename", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _write(store, _tables(value=5))
    # then no directory or temp file is left and the current snapshot is unchanged
    assert sorted(os.listdir(tmp_path)) == before
    assert store.current_id() == first


def test_abandoned_temp_dirs_of_dead_processes_are_cleaned(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    tmp_path.mkdir(exist_ok=True)
    dead_pid = 2**22 + 12345  # above the default pid_max: never running
    abandoned = tmp_path / f".tmp-abc-{dead_pid}-xyz"
    abandoned.mkdir()
    _write(store, _tables())
    assert not abandoned.exists()
    assert all(info.id != abandoned.name for info in store.list())


def test_manifest_is_valid_json_with_columns(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    snapshot_id = _write(store, _tables())
    manifest = json.loads((tmp_path / snapshot_id / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["snapshot_id"] == snapshot_id
    assert manifest["tables"]["availability"]["columns"] == {
        "unit_id": "String",
        "period": "Date",
        "share": "Float64",
    }


def test_a_version_1_snapshot_is_read_as_version_2_with_the_new_inspection_columns_empty(
    tmp_path: Path,
) -> None:
    # given a snapshot written the version-1 way: inspections without team, method or finding counts
    store = SnapshotStore(tmp_path)
    inspections = pl.DataFrame(
        {
            "inspection_id": ["I1"],
            "unit_id": ["a"],
            "start_date": [dt.date(2024, 1, 8)],
            "decision_date": [dt.date(2024, 3, 1)],
            "risk_area": ["kontinuitet"],
            "finding": ["deficiency"],
            "selection": ["risk_based"],
            "inclusion_probability": [None],
        },
        schema_overrides={"inclusion_probability": pl.Float64},
    )
    snapshot = store.write(
        {**_tables(), "inspections": inspections}, schema_version=1, config_hash="c" * 64, metadata={}
    )
    # when it is opened and its inspections scanned
    opened = store.open(snapshot.id)
    scanned = opened.scan("inspections").collect()
    # then it reads as version 2: the columns version 2 added are there, typed and empty
    assert opened.schema_version == 1
    assert scanned.schema["team"] == pl.String
    assert scanned.schema["deficiency_count"] == pl.Int64
    assert scanned.select("team", "method", "deficiency_count", "serious_count").null_count().row(0) == (
        1,
        1,
        1,
        1,
    )
    assert scanned["finding"].to_list() == ["deficiency"]


def test_a_snapshot_of_an_unknown_contract_version_is_refused_with_the_way_forward(tmp_path: Path) -> None:
    # given a snapshot whose manifest names a contract version this engine does not know (a newer one)
    store = SnapshotStore(tmp_path)
    snapshot = store.write(_tables(), schema_version=2, config_hash="c" * 64, metadata={})
    manifest_path = snapshot.path / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest_path.write_text(json.dumps(manifest | {"schema_version": 99}), encoding="utf-8")
    # when it is opened, then the error names the version, the readable ones and what to do
    with pytest.raises(SnapshotNotFoundError, match=r"contract version 99.*reads versions \[1, 2\].*ingest"):
        store.open(snapshot.id)
