"""Time the training set's features family by family (wall and CPU seconds), on a saved world.

The build ``models.jobs.build_training_data`` asks for (the labelled inspections decided before
2026-01-01, their (unit, as-of) pairs and every unit at that scoring date), then each family alone,
given the active units and the rows already collected, and the history's provider rollup (every
unit-date) apart from the unit's own history (the rows). CPU seconds are the process's own over all
cores: on a shared machine they move less with the other jobs than the wall time does. One run, not
a benchmark (``bench_features.py --training-set`` is); a world from ``bench_features.py --world``.

    .venv/bin/python bench/profile_training_set.py /tmp/national
    .venv/bin/python bench/profile_training_set.py /tmp/national --only   # the whole build alone
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path

import polars as pl

from engine.config import load_config
from features.asof import normalised_as_of_dates
from features.attributes import attribute_features
from features.catalog import source_areas
from features.context import active_units, keyed, unit_keys
from features.events import event_features
from features.history import (
    _by_series,
    _running,
    history_features,
    provider_deficiency_share,
    with_history_columns,
)
from features.indicators import indicator_sources_features
from features.pipeline import _as_version_2, _needed_rows, build_features
from models.dataset import training_inspections

CUTOFF = dt.date(2026, 1, 1)


def timed(label: str, frame: pl.LazyFrame) -> pl.DataFrame:
    """Collect ``frame`` in memory and print its wall and CPU seconds, rows and size."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = frame.collect(engine="in-memory")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    size = result.estimated_size("mb")
    print(f"{label:45s} {wall:7.2f} s {cpu:7.2f} cpu-s {result.height:>10,} rows {size:8.0f} MB", flush=True)
    return result


def main() -> None:
    world = Path(sys.argv[1])
    config = load_config()
    tables = {path.stem: pl.scan_parquet(path) for path in sorted(world.glob("*.parquet"))}
    settings = config.model
    labelled = training_inspections(tables["inspections"], settings, decided_before=CUTOFF).collect()
    pairs = labelled.select("unit_id", "as_of").unique()
    timed("baseline: complaints group_by(unit_id).len()", tables["complaints"].group_by("unit_id").len())
    timed("the whole pairs build", build_features(tables, [CUTOFF], config, pairs=pairs))
    if "--only" in sys.argv:
        return
    upgraded = _as_version_2(tables, config)
    dates = normalised_as_of_dates([CUTOFF, *pairs.get_column("as_of").unique().to_list()])
    units_at = timed(
        "active units (every date)", active_units(upgraded["units"], upgraded["providers"], dates)
    )
    rows = timed("rows (pairs and the scoring date)", _needed_rows(units_at.lazy(), pairs, [CUTOFF])).lazy()
    every_unit, keys = units_at.lazy(), unit_keys(upgraded["units"])
    for name, source in config.event_sources.items():
        areas = source_areas(config, source)
        frame = event_features(
            upgraded[source.file], every_unit, keys, name=name, source=source, areas=areas, rows=rows
        )
        timed(f"events: {name}", frame)
    indicators = {name: upgraded[source.file] for name, source in config.indicator_sources.items()}
    frame = indicator_sources_features(
        indicators,
        rows,
        upgraded["units"],
        keys,
        sources=config.indicator_sources,
        stop_reporting_months=config.quality.stop_reporting_months,
    )
    timed("indicators (one pass)", frame)
    for name, attribute in config.attribute_sources.items():
        timed(
            f"attributes: {name}",
            attribute_features(upgraded[attribute.file], rows, keys, name=name, source=attribute),
        )
    areas = config.risk_area_ids
    timed("history", history_features(upgraded["inspections"], every_unit, keys, areas, rows=rows))
    running = _running(_by_series(keyed(with_history_columns(upgraded["inspections"]), keys), areas))
    timed("  history: provider rollup", provider_deficiency_share(every_unit, running, len(areas) + 1))
    timed(
        "  history: the unit's own (rows)",
        history_features(upgraded["inspections"], rows, keys, areas, rows=rows),
    )


if __name__ == "__main__":
    main()
