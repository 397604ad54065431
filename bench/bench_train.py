"""Benchmark: training all risk areas (rolling-origin evaluation + final model + MLflow logging).

Usage::

    .venv/bin/python bench/bench_train.py [--units 20000] [--years 10] [--repeats 3] [--baseline-units 1200] \
        [--config PATH] [--skip-national]

Generates the synthetic world in memory (not timed), builds the training set through the feature
builders (timed separately: that is the feature layer's cost), then times ``run_training`` — folds,
baselines, metrics with bootstrap CIs, plots, the final model and MLflow logging into a temporary
SQLite store — ``--repeats`` times. Reports the median and the ratio to the same job on the
default-scale world (``--baseline-units``) measured in the same process. Targets: national scale
(20,000 units × 10 years) under 150 s and the default world under 15 s on 2 cores. ``--config``
times another configuration (e.g. ``[model.lightgbm] num_threads = 2``) instead of the packaged
default. ``--skip-national`` times the default-scale world only (a before/after of a change to
training), ``--skip-baseline`` the national one only. Each run prints its wall seconds, the
process's CPU seconds (all threads) and the 1-minute load average when it ended: on a shared
machine the wall time follows the load, the CPU time much less.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

from engine.config import Config, load_config
from models.jobs import run_training
from models.tracking import Tracking
from simulation.worlds import synthetic_training_data
from synthetic.params import WorldParams
from synthetic.world import generate_world


def _prepare(units: int, years: int, seed: int, config: Config) -> tuple[object, float, dt.date]:
    world = generate_world(WorldParams(seed=seed, n_units=units, years=years), config)
    started = time.perf_counter()
    data, as_of = synthetic_training_data(world, config)
    return data, time.perf_counter() - started, as_of


def _train_seconds(
    data: object, as_of: dt.date, repeats: int, config: Config
) -> list[tuple[float, float, float]]:
    """(wall seconds, CPU seconds, 1-minute load average at the end) of each training run."""
    times = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as directory:
            tracking = Tracking(f"sqlite:///{directory}/mlflow.db", Path(directory) / "artifacts")
            tracking.experiment_id()  # the one-off database migration is not part of training
            started, cpu = time.perf_counter(), time.process_time()
            run_training(data, config, tracking, as_of=as_of, lineage={"snapshot_id": "bench"})  # type: ignore[arg-type]
            times.append((time.perf_counter() - started, time.process_time() - cpu, os.getloadavg()[0]))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=20_000)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline-units", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--config", type=Path, default=None, help="TOML configuration (default: packaged)")
    scale = parser.add_mutually_exclusive_group()
    scale.add_argument("--skip-national", action="store_true", help="time the default-scale world only")
    scale.add_argument("--skip-baseline", action="store_true", help="time the national world only")
    args = parser.parse_args()
    config = load_config(args.config)
    logging.basicConfig(level=logging.ERROR)
    print(f"cpus available: {len(os.sched_getaffinity(0))}")
    results = {}
    worlds = [("baseline", args.baseline_units, 6), ("national", args.units, args.years)]
    chosen = worlds[:1] if args.skip_national else worlds[1:] if args.skip_baseline else worlds
    for label, units, years in chosen:
        data, feature_seconds, as_of = _prepare(units, years, args.seed, config)
        rows = data.rows.height  # type: ignore[attr-defined]
        times = _train_seconds(data, as_of, args.repeats, config)
        results[label] = statistics.median(wall for wall, _, _ in times)
        runs = ", ".join(f"{wall:.1f} s (CPU {cpu:.1f} s, load {load:.1f})" for wall, cpu, load in times)
        print(
            f"{label}: {units} units × {years} years, {rows:,} training rows; "
            f"features {feature_seconds:.1f} s; train runs {runs}; median {results[label]:.1f} s, "
            f"CPU median {statistics.median(cpu for _, cpu, _ in times):.1f} s"
        )
    if "national" in results and "baseline" in results:
        print(f"national / baseline training time: {results['national'] / results['baseline']:.1f}×")
    if "national" in results:
        print(f"target: national median under 150 s -> {'met' if results['national'] < 150 else 'NOT met'}")
    if "baseline" in results:
        print(
            f"target: default world median under 15 s -> {'met' if results['baseline'] < 15 else 'NOT met'}"
        )


if __name__ == "__main__":
    main()
