"""Feature sets on disk and the ``tillsynsrisk features`` command."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from cli import app
from engine.config import load_config
from engine.contract import CONTRACT_SCHEMA_VERSION
from engine.snapshots import SnapshotStore
from features.catalog import FeatureSpec, feature_catalog
from features.pipeline import build_features
from features.store import FeatureSetNotFoundError, FeatureStore, feature_set_id
from tests.test_features_world import small_world

DATES = [dt.date(2019, 1, 1), dt.date(2020, 1, 1)]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TILLSYNSRISK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TILLSYNSRISK_CONFIG", raising=False)
    monkeypatch.setenv("COLUMNS", "250")  # rich wraps to the terminal width
    return tmp_path / "home"


def stored_snapshot(home: Path, *, visits: bool = False) -> str:
    config = load_config()
    tables = {name: frame.collect() for name, frame in small_world(config, visits=visits).items()}
    store = SnapshotStore(home / "snapshots")
    snapshot = store.write(
        tables, schema_version=CONTRACT_SCHEMA_VERSION, config_hash=config.content_hash(), metadata={}
    )
    store.set_current(snapshot.id)
    return snapshot.id


def test_feature_store_round_trips_table_catalog_and_manifest(tmp_path: Path) -> None:
    # given a built feature table
    config = load_config()
    frame = build_features(small_world(config), DATES, config).collect()
    catalog = feature_catalog(config)
    store = FeatureStore(tmp_path / "features")
    # when it is written and opened again by a prefix of its id
    written = store.write(frame, catalog, snapshot_id="snap", as_of_dates=DATES, config_hash="cfg")
    opened = store.open(written.id[:6])
    # then table, catalog and manifest come back unchanged
    assert written.id == feature_set_id("snap", DATES, "cfg")
    assert_frame_equal(opened.read(), frame)
    assert opened.catalog == catalog
    assert opened.as_of_dates == DATES
    assert opened.manifest["rows"] == frame.height
    assert store.latest().id == written.id


def test_feature_set_id_changes_with_every_input() -> None:
    base = feature_set_id("snap", DATES, "cfg")
    assert base == feature_set_id("snap", list(reversed(DATES)), "cfg"), "date order must not matter"
    assert base != feature_set_id("snap2", DATES, "cfg")
    assert base != feature_set_id("snap", DATES[:1], "cfg")
    assert base != feature_set_id("snap", DATES, "cfg2")
    assert base != feature_set_id("snap", DATES, "cfg", code_version="other")


def test_unknown_feature_set_is_a_lookup_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(FeatureSetNotFoundError, match="no feature set 'nope'"):
        FeatureStore(tmp_path).open("nope")
    with pytest.raises(FeatureSetNotFoundError, match="no feature sets"):
        FeatureStore(tmp_path).latest()


def test_catalog_json_entries_round_trip() -> None:
    spec = feature_catalog(load_config())[0]
    assert FeatureSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


@pytest.mark.slow
def test_features_command_builds_validates_and_stores_a_quarterly_grid(home: Path) -> None:
    # given a current snapshot with visits
    snapshot_id = stored_snapshot(home, visits=True)
    # when features are built on a quarterly grid
    result = CliRunner().invoke(
        app, ["features", "--every", "quarter", "--from", "2019-01-01", "--to", "2019-12-31"]
    )
    # then one feature set is stored with the quarter starts, the catalog and a summary is printed
    assert result.exit_code == 0, result.output
    feature_set = FeatureStore(home / "features").latest()
    assert feature_set.snapshot_id == snapshot_id
    assert feature_set.as_of_dates == [dt.date(2019, m, 1) for m in (1, 4, 7, 10)]
    assert "visits_upc_12m" in {spec.name for spec in feature_set.catalog}
    table = feature_set.read()
    assert table.select(pl.col("as_of").n_unique()).item() == 4
    assert "rows" in result.output and "Top" in result.output
    # and building the same inputs again reuses the stored set
    again = CliRunner().invoke(app, ["features", "--as-of", "2019-04-01,2019-01-01,2019-07-01,2019-10-01"])
    assert again.exit_code == 0, again.output
    assert "reusing" in again.output
    assert len(FeatureStore(home / "features").list()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--as-of", "2020-13-01"], "'2020-13-01' is not a date"),
        (["--as-of", "2020-01-01", "--every", "quarter"], "either --as-of or"),
        (["--every", "week", "--from", "2020-01-01", "--to", "2021-01-01"], "allowed: month, quarter, year"),
        (["--every", "quarter", "--from", "2021-01-01"], "all of --every, --from and --to"),
        ([], "give --as-of"),
    ],
    ids=["bad-date", "both", "bad-step", "incomplete-grid", "nothing"],
)
def test_features_command_usage_errors_exit_2(home: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["features", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_features_command_without_snapshot_fails_cleanly(home: Path) -> None:
    result = CliRunner().invoke(app, ["features", "--as-of", "2020-01-01"])
    assert result.exit_code == 1
    assert "no current snapshot" in result.output
