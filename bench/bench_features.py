"""Benchmark the feature build: national world, quarterly grid of 40 planning dates, and visit continuity.

Method (not a timed test):

1. A fresh subprocess generates the national synthetic world (``generate_world``: 20,000 units ×
   10 years by default) and writes its normalised tables as Parquet to a temporary directory.
2. Each measured run is a fresh subprocess (imports excluded; peak RSS is the child's own, read with
   ``os.wait4``) that scans those Parquet files lazily and times, in this order:
   a plain Polars ``group_by(unit_id).len()`` over the complaints table (the baseline), the full
   ``build_features(...).collect()`` for the quarterly grid (and the peak RSS so far: the build's
   own), then every family alone (active units, each event source, the indicator sources together
   (one pass), each attribute source, history; the provider rollup is part of the full build only)
   and the floor of the indicator pass: the indicator tables merely read, and read and sorted by
   (unit, measure, month).
3. Continuity: 40 million visit records synthesised with numpy directly in the child (the generator's
   ``--visits`` produces a far smaller table at national scale), 20,000 units, one year of visits,
   ~4 million patients; ``visit_continuity_features`` for five quarterly planning dates covering
   that year, timed against a plain ``group_by(unit_id).len()`` over the visits.

4. ``--training-set``: the features of the national training set as ``models.jobs.build_training_data``
   builds them (the labelled inspections decided before 2026-01-01, their (unit, as-of) pairs, every
   unit at the scoring date), in a fresh subprocess per run with the same baseline;
   ``--training-full`` also times the full build for every unit at the training set's dates.

Reported: medians of ``--repeats`` runs (≥ 3), rows/s, peak RSS and the ratio to the baseline.
``--world DIR`` keeps the generated world there and reuses it on the next run (the world is
deterministic given ``--units``, ``--years`` and ``--seed``; delete the directory when they change).

    .venv/bin/python bench/bench_features.py                   # national features + continuity
    .venv/bin/python bench/bench_features.py --units 2000 --repeats 3 --skip-visits
    .venv/bin/python bench/bench_features.py --skip-visits --world /tmp/national --training-set
    .venv/bin/python bench/bench_features.py --skip-visits --skip-features --training-set  # it alone
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

_GENERATE = """
import sys
from pathlib import Path
from engine.config import load_config
from synthetic import WorldParams, generate_world
units, years, seed, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
world = generate_world(WorldParams(seed=seed, n_units=units, years=years, end="2025-12"), load_config())
for name, frame in world.tables.items():
    frame.write_parquet(out / f"{name}.parquet")
"""

_FEATURES = """
import datetime as dt, json, resource, sys, time
from pathlib import Path
import polars as pl
from engine.config import load_config
from features.asof import as_of_grid
from features.attributes import attribute_features
from features.catalog import source_areas
from features.context import active_units, unit_keys
from features.events import event_features
from features.history import history_features
from features.indicators import indicator_sources_features
from features.pipeline import build_features
world, ENGINE = Path(sys.argv[1]), sys.argv[2]
config = load_config()
tables = {path.stem: pl.scan_parquet(path) for path in sorted(world.glob("*.parquet"))}
dates = as_of_grid(dt.date(2016, 1, 1), dt.date(2025, 12, 31), "quarter")
def timed(frame):
    started = time.perf_counter()
    result = frame.collect(engine=ENGINE)
    return time.perf_counter() - started, result
result = {"as_of_dates": len(dates)}
result["baseline_s"], _ = timed(tables["complaints"].group_by("unit_id").len())
result["features_s"], table = timed(build_features(tables, dates, config))
result["features_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
result["rows"], result["columns"] = table.height, table.width
result["event_rows"] = sum(
    tables[s.file].select(pl.len()).collect().item() for s in config.event_sources.values()
)
del table
units_at = active_units(tables["units"], tables["providers"], dates)
keys = unit_keys(tables["units"])
families = {"active units": units_at}
for name, source in config.event_sources.items():
    families[f"events: {name}"] = event_features(
        tables[source.file], units_at, keys, name=name, source=source, areas=source_areas(config, source)
    )
families["indicators (every source, one pass)"] = indicator_sources_features(
    {name: tables[source.file] for name, source in config.indicator_sources.items()},
    units_at, tables["units"], keys, sources=config.indicator_sources,
    stop_reporting_months=config.quality.stop_reporting_months,
)
for name, source in config.attribute_sources.items():
    families[f"attributes: {name}"] = attribute_features(
        tables[source.file], units_at, keys, name=name, source=source
    )
families["history"] = history_features(tables["inspections"], units_at, keys, config.risk_area_ids)
indicator_rows = pl.concat(
    [tables[source.file].select("unit_id", "period", "measure", pl.col("^(numerator|denominator|value)$"))
     for source in config.indicator_sources.values()],
    how="diagonal_relaxed",
)
families["floor: indicator rows read"] = indicator_rows
families["floor: indicator rows read and sorted"] = indicator_rows.sort("unit_id", "measure", "period")
result["families_s"], result["families_mb"] = {}, {}
for label, frame in families.items():
    result["families_s"][label], part = timed(frame)
    result["families_mb"][label] = part.estimated_size("mb")
    del part
print(json.dumps(result))
"""

_TRAINING_SET = """
import datetime as dt, inspect, json, sys, time
from pathlib import Path
import polars as pl
from engine.config import load_config
from features.pipeline import build_features
from models.dataset import training_inspections, training_as_of_dates
world, ENGINE, FULL = Path(sys.argv[1]), sys.argv[2], sys.argv[3] == "True"
config = load_config()
tables = {path.stem: pl.scan_parquet(path) for path in sorted(world.glob("*.parquet"))}
as_of = dt.date(2026, 1, 1)  # the world ends 2025-12; the planning date as synthetic_training_data
settings = config.model
labelled = training_inspections(tables["inspections"], settings, decided_before=as_of).collect()
dates = training_as_of_dates(labelled)
scoring = as_of.replace(day=1)
pairs = labelled.select("unit_id", "as_of").unique()
def timed(frame):
    started = time.perf_counter()
    result = frame.collect(engine=ENGINE)
    return time.perf_counter() - started, result
result = {"as_of_dates": len(dates) + 1, "labelled_rows": labelled.height, "pairs": pairs.height}
result["baseline_s"], _ = timed(tables["complaints"].group_by("unit_id").len())
if "pairs" in inspect.signature(build_features).parameters:  # absent before the pairs build existed
    result["pairs_s"], table = timed(build_features(tables, [scoring], config, pairs=pairs))
    result["rows"], result["columns"] = table.height, table.width
    del table
if FULL or "pairs_s" not in result:
    result["full_s"], table = timed(build_features(tables, sorted({*dates, scoring}), config))
    result["full_rows"] = table.height
print(json.dumps(result))
"""

_VISITS = """
import datetime as dt, json, sys, time
import numpy as np
import polars as pl
from features.continuity import visit_continuity_features
from features.context import active_units, unit_keys
n_visits, n_units, seed = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(seed)
unit_ids = [f"SE5560000000-V{i:05d}" for i in range(n_units)]
patients_per_unit = 200
unit = rng.integers(0, n_units, n_visits)
patient = unit * patients_per_unit + rng.integers(0, patients_per_unit, n_visits)
regular = rng.random(n_visits) < 0.6
doctor = np.where(regular, patient % 8, rng.integers(0, 12, n_visits))
visits = pl.DataFrame({
    "patient": patient, "unit": unit, "doctor": doctor,
    "is_doctor": rng.random(n_visits) < 0.7,
    "day": rng.integers(0, 365, n_visits),
}).select(
    pl.format("P{}", pl.col("patient")).alias("patient_pseudonym"),
    pl.col("unit").replace_strict(list(range(n_units)), unit_ids, return_dtype=pl.String).alias("unit_id"),
    pl.format("D{}-{}", pl.col("unit"), pl.col("doctor")).alias("clinician_pseudonym"),
    pl.when(pl.col("is_doctor")).then(pl.lit("lakare")).otherwise(pl.lit("sjukskoterska")).alias("profession"),
    (pl.lit(dt.date(2025, 1, 1)) + pl.duration(days=pl.col("day"))).alias("visit_date"),
)
units = pl.DataFrame({
    "unit_id": unit_ids, "provider_id": ["5560000000"] * n_units, "name": unit_ids,
    "region_code": ["01"] * n_units, "municipality_code": ["0180"] * n_units,
    "unit_type": ["vardcentral"] * n_units, "listed_patients": [10_000] * n_units,
    "active_from": [dt.date(2015, 1, 1)] * n_units, "active_to": [None] * n_units,
}, schema_overrides={"active_to": pl.Date})
providers = pl.DataFrame({"provider_id": ["5560000000"], "name": ["P"], "ownership": ["public"]})
dates = [dt.date(2025, 4, 1), dt.date(2025, 7, 1), dt.date(2025, 10, 1), dt.date(2026, 1, 1),
         dt.date(2026, 4, 1)]
lazy_visits = visits.lazy()
started = time.perf_counter()
lazy_visits.group_by("unit_id").len().collect()
baseline = time.perf_counter() - started
units_at = active_units(units.lazy(), providers.lazy(), dates)
started = time.perf_counter()
frame = visit_continuity_features(lazy_visits, units_at, unit_keys(units.lazy()), dates)
table = frame.collect(engine=sys.argv[4])
elapsed = time.perf_counter() - started
print(json.dumps({"visits": n_visits, "baseline_s": baseline, "continuity_s": elapsed, "rows": table.height,
                  "as_of_dates": len(dates),
                  "mean_upc": table["visits_upc_12m"].mean()}))
"""


def run_child(code: str, *args: str) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter; returns its JSON line plus its peak RSS (MB)."""
    process = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"benchmark child failed with status {status}")
    lines = output.strip().splitlines()
    result: dict[str, Any] = json.loads(lines[-1]) if lines else {}
    result["peak_rss_mb"] = usage.ru_maxrss / 1024  # Linux reports kilobytes
    return result


def median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(float(run[key]) for run in runs)


def report_features(runs: list[dict[str, Any]], units: int, years: int) -> dict[str, Any]:
    features, baseline = median(runs, "features_s"), median(runs, "baseline_s")
    families = {
        label: statistics.median(run["families_s"][label] for run in runs) for label in runs[0]["families_s"]
    }
    summary = {
        "units": units,
        "years": years,
        "as_of_dates": runs[0]["as_of_dates"],
        "rows": runs[0]["rows"],
        "columns": runs[0]["columns"],
        "event_rows": runs[0]["event_rows"],
        "features_s": features,
        "baseline_s": baseline,
        "ratio_to_baseline": features / baseline,
        "rows_per_s": runs[0]["rows"] / features,
        "peak_rss_mb": max(run["peak_rss_mb"] for run in runs),
        "features_peak_rss_mb": max(run["features_peak_rss_mb"] for run in runs),
        "families_s": families,
        "runs": [run["features_s"] for run in runs],
    }
    print(f"## features — {units:,} units × {years} y, {summary['as_of_dates']} quarterly planning dates")
    print(
        "| rows × columns | event rows | build s (median) | baseline group-by s | ratio | rows/s "
        "| peak RSS MB, build | peak RSS MB, child |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {summary['rows']:,} × {summary['columns']} | {summary['event_rows']:,} | {features:.1f} "
        f"| {baseline:.3f} | {summary['ratio_to_baseline']:.0f} | {summary['rows_per_s']:,.0f} "
        f"| {summary['features_peak_rss_mb']:,.0f} | {summary['peak_rss_mb']:,.0f} |"
    )
    sizes = runs[0].get("families_mb", {})
    summary["families_mb"] = sizes
    print("\n| family (timed alone) | median s | its output MB |\n|---|---|---|")
    for label, seconds in sorted(families.items(), key=lambda item: -item[1]):
        print(f"| {label} | {seconds:.2f} | {sizes.get(label, float('nan')):,.0f} |")
    return summary


def report_training_set(runs: list[dict[str, Any]]) -> dict[str, Any]:
    baseline = median(runs, "baseline_s")
    pairs = median(runs, "pairs_s") if "pairs_s" in runs[0] else median(runs, "full_s")
    summary: dict[str, Any] = {
        "as_of_dates": runs[0]["as_of_dates"],
        "labelled_rows": runs[0]["labelled_rows"],
        "pairs": runs[0]["pairs"],
        "rows": runs[0].get("rows", runs[0].get("full_rows")),
        "columns": runs[0].get("columns"),
        "pairs_s": pairs,
        "baseline_s": baseline,
        "ratio_to_baseline": pairs / baseline,
        "peak_rss_mb": max(run["peak_rss_mb"] for run in runs),
        "runs": [run.get("pairs_s", run.get("full_s")) for run in runs],
    }
    if "full_s" in runs[0]:
        summary["full_s"] = median(runs, "full_s")
        summary["full_rows"] = runs[0]["full_rows"]
        summary["full_runs"] = [run["full_s"] for run in runs]
    print(
        f"\n## training set — {summary['pairs']:,} (unit, as-of) pairs of {summary['labelled_rows']:,} "
        f"labelled rows, {summary['as_of_dates']} as-of dates"
    )
    print(
        "| build s (median; pairs, else full) | rows | baseline group-by s | ratio "
        "| full build s (rows) | peak RSS MB |"
    )
    print("|---|---|---|---|---|---|")
    full = f"{summary['full_s']:.1f} ({summary['full_rows']:,})" if "full_s" in summary else "—"
    print(
        f"| {pairs:.1f} | {summary['rows']:,} | {baseline:.3f} | {summary['ratio_to_baseline']:.0f} "
        f"| {full} | {summary['peak_rss_mb']:,.0f} |"
    )
    return summary


def report_visits(runs: list[dict[str, Any]]) -> dict[str, Any]:
    continuity, baseline = median(runs, "continuity_s"), median(runs, "baseline_s")
    summary = {
        "visits": runs[0]["visits"],
        "as_of_dates": runs[0]["as_of_dates"],
        "continuity_s": continuity,
        "baseline_s": baseline,
        "ratio_to_baseline": continuity / baseline,
        "visits_per_s": runs[0]["visits"] / continuity,
        "peak_rss_mb": max(run["peak_rss_mb"] for run in runs),
        "runs": [run["continuity_s"] for run in runs],
    }
    print(f"\n## continuity — {summary['visits']:,} visits, {summary['as_of_dates']} planning dates")
    print(
        "| continuity s (median) | baseline group-by s | ratio | visits/s | peak RSS MB (incl. synthesis) |"
    )
    print("|---|---|---|---|---|")
    print(
        f"| {continuity:.1f} | {baseline:.2f} | {summary['ratio_to_baseline']:.0f} "
        f"| {summary['visits_per_s']:,.0f} | {summary['peak_rss_mb']:,.0f} |"
    )
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--units", type=int, default=20_000)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--visits", type=int, default=40_000_000)
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement (median; at least 3)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--engine", default="in-memory", choices=["in-memory", "streaming", "auto"], help="Polars engine"
    )
    parser.add_argument("--skip-features", action="store_true")
    parser.add_argument("--skip-visits", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the summary as JSON here")
    parser.add_argument(
        "--world", type=Path, help="keep the generated world's Parquet here and reuse it when present"
    )
    parser.add_argument(
        "--training-set",
        action="store_true",
        help="also time the features of the training set (alone with --skip-features)",
    )
    parser.add_argument(
        "--training-full",
        action="store_true",
        help="with --training-set, also time the full build for the training set's dates",
    )
    args = parser.parse_args()
    if args.repeats < 3:
        parser.error(f"--repeats must be at least 3, got {args.repeats}")
    print(
        f"# bench_features — {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}, polars engine {args.engine}, "
        f"load average {os.getloadavg()[0]:.1f} at start\n"
    )
    summary: dict[str, Any] = {}
    if not args.skip_features or args.training_set:
        world = args.world or Path(tempfile.mkdtemp(prefix="bench-features-world-"))
        try:
            if not any(world.glob("*.parquet")):
                world.mkdir(parents=True, exist_ok=True)
                run_child(_GENERATE, str(args.units), str(args.years), str(args.seed), str(world))
            if not args.skip_features:
                runs = [run_child(_FEATURES, str(world), args.engine) for _ in range(args.repeats)]
                summary["features"] = report_features(runs, args.units, args.years)
            if args.training_set:
                runs = [
                    run_child(_TRAINING_SET, str(world), args.engine, str(args.training_full))
                    for _ in range(args.repeats)
                ]
                summary["training_set"] = report_training_set(runs)
        finally:
            if args.world is None:
                shutil.rmtree(world, ignore_errors=True)
    if not args.skip_visits:
        runs = [
            run_child(_VISITS, str(args.visits), str(args.units), str(args.seed), args.engine)
            for _ in range(args.repeats)
        ]
        summary["continuity"] = report_visits(runs)
    print(f"\nload average {os.getloadavg()[0]:.1f} at end")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
