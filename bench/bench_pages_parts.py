"""In-process timings of two parts of the planners' pages (no server; light enough to run without the lock).

- ``csv``: the filtered candidate export of one region of a 20,000-unit scoring (``/kandidater.csv``).
- ``history HOME``: the index of every unit's history of HOME's current ingest snapshot against one unit's
  history (what a unit page computes while the index is not built), checked equal for the units timed.

    PYTHONPATH=. .venv/bin/python bench/bench_pages_parts.py csv
    PYTHONPATH=. .venv/bin/python bench/bench_pages_parts.py history /tmp/pages-small/home
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import sys
import time
from types import SimpleNamespace

import polars as pl
from polars.testing import assert_frame_equal


def time_csv_export(units: int = 20_000) -> None:
    from api.web.data import RecentInspections, scores_view
    from api.web.exports import candidates_csv_text
    from tests.scores_factory import make_scores

    snapshot = SimpleNamespace(
        id="bench", frame=make_scores(units=units), metadata=SimpleNamespace(as_of=dt.date(2025, 6, 1))
    )
    area = scores_view(snapshot, 90).areas["tillganglighet"]  # type: ignore[arg-type]
    ids = area["unit_id"].to_list()
    inspected = RecentInspections("s", {u: dt.date(2024, 1, 1) for u in ids[::3]}, frozenset(ids[::7]))
    for region in ("01", "12", "01", "12"):
        started = time.perf_counter()
        rows = area.filter(
            pl.col("region_code") == region, ~pl.col("unit_id").is_in(list(inspected.in_cooldown))
        )
        text = candidates_csv_text(rows, "Tillgänglighet", inspected, 0.1)
        milliseconds = 1000 * (time.perf_counter() - started)
        print(f"region {region}: {rows.height:,} rows, {len(text):,} characters, {milliseconds:.1f} ms")


def time_unit_history(home: str, count: int = 10) -> None:
    os.environ["TILLSYNSRISK_HOME"] = home
    from api.web.data import snapshot_history
    from engine.settings import Settings
    from engine.snapshots import SnapshotStore

    settings = Settings()
    config = settings.load_config()
    snapshot = SnapshotStore(settings.snapshots_dir).open()
    tables = snapshot.tables()
    as_of = dt.date(2026, 1, 1)
    started = time.perf_counter()
    every = snapshot_history(tables, snapshot.id, config, as_of)
    print(f"index of every unit: {time.perf_counter() - started:.2f} s")
    units = tables["units"].select("unit_id").collect()["unit_id"].to_list()
    seconds = []
    for unit_id in units[:: max(1, len(units) // count)]:
        started = time.perf_counter()
        one = snapshot_history(tables, snapshot.id, config, as_of, unit_id=unit_id)
        seconds.append(time.perf_counter() - started)
        for part in ("indicators", "events", "inspections"):
            expected, got = getattr(every, part).get(unit_id), getattr(one, part).get(unit_id)
            assert (expected is None) == (got is None), (unit_id, part)
            if expected is not None:
                assert_frame_equal(expected, got)
        assert every.last_inspected.get(unit_id) == one.last_inspected.get(unit_id)
        assert (unit_id in every.in_cooldown) == (unit_id in one.in_cooldown)
    median, worst = 1000 * statistics.median(seconds), 1000 * max(seconds)
    print(f"one unit ({len(seconds)} units, equal to the index): median {median:.0f} ms, max {worst:.0f} ms")


if __name__ == "__main__":
    if sys.argv[1:2] == ["csv"]:
        time_csv_export()
    elif sys.argv[1:2] == ["history"] and len(sys.argv) == 3:
        time_unit_history(sys.argv[2])
    else:
        raise SystemExit(__doc__)
