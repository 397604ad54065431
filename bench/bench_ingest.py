"""Ingest timing on a synthetic world: medians of several runs and a ratio to a plain CSV read.

Usage::

    .venv/bin/python bench/bench_ingest.py                       # default world (seed 42)
    .venv/bin/python bench/bench_ingest.py --units 20000 --years 10 --runs 3   # national scale
    .venv/bin/python bench/bench_ingest.py --world DIR            # an existing source directory

The baseline, measured in the same run, is reading every table file with ``pl.read_csv`` (all columns
as strings) — the least any ingest has to do. The ratio says what validation and rules cost on top.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl

from engine.config import load_config
from engine.contract import CONTRACT_SCHEMA_VERSION
from engine.ingest import ingest_directory
from engine.snapshots import SnapshotStore


def _median_seconds(action: Callable[[], object], runs: int) -> tuple[float, list[float]]:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings), timings


def _plain_read(world: Path) -> None:
    for path in sorted(world.glob("*.csv")):
        pl.read_csv(path, separator=";", infer_schema=False)
    for path in sorted(world.glob("*.parquet")):
        pl.read_parquet(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=Path, help="existing source directory (default: generate one)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--units", type=int, default=None)
    parser.add_argument("--years", type=int, default=None)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        world = args.world or Path(scratch) / "world"
        if args.world is None:
            cli = str(Path(sys.executable).parent / "tillsynsrisk")
            command = [cli, "generate", "--seed", str(args.seed), "--out", str(world)]
            command += ["--units", str(args.units)] if args.units else []
            command += ["--years", str(args.years)] if args.years else []
            subprocess.run(command, check=True, capture_output=True)
        config = load_config()
        reference = dt.date.today()
        rows = {
            path.stem: pl.scan_csv(path, separator=";").select(pl.len()).collect().item()
            for path in world.glob("*.csv")
        }
        print(f"world {world}: {sum(rows.values()):,} rows in {len(rows)} CSV files {rows}")
        baseline, baseline_runs = _median_seconds(lambda: _plain_read(world), args.runs)
        result = ingest_directory(world, config, reference_date=reference)
        print(f"ingest ok={result.ok} errors={result.errors.height} warnings={result.warnings.height}")
        ingest, ingest_runs = _median_seconds(
            lambda: ingest_directory(world, config, reference_date=reference), args.runs
        )
        store_root = Path(scratch) / "snapshots"

        def write_snapshot() -> None:
            store = SnapshotStore(store_root / str(time.perf_counter_ns()))
            store.write(
                result.tables,
                schema_version=CONTRACT_SCHEMA_VERSION,
                config_hash=config.content_hash(),
                metadata={},
            )

        write, write_runs = _median_seconds(write_snapshot, args.runs)
        print(f"baseline plain read   median {baseline:.2f} s  runs {[round(t, 2) for t in baseline_runs]}")
        print(f"ingest (validate)     median {ingest:.2f} s  runs {[round(t, 2) for t in ingest_runs]}")
        print(f"snapshot write (hash) median {write:.2f} s  runs {[round(t, 2) for t in write_runs]}")
        print(f"ratio ingest / plain read: {ingest / baseline:.1f}x")


if __name__ == "__main__":
    main()
