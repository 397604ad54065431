"""Ingest timing on a synthetic world, and peak memory of hostile and large files.

Usage::

    .venv/bin/python bench/bench_ingest.py                       # default world (seed 42)
    .venv/bin/python bench/bench_ingest.py --units 20000 --years 10 --runs 3   # national scale
    .venv/bin/python bench/bench_ingest.py --world DIR            # an existing source directory
    .venv/bin/python bench/bench_ingest.py --memory               # peak memory per case (below)

Timing: the baseline, measured in the same run, is reading every table file with ``pl.read_csv``
(all columns as strings) — the least any ingest has to do. The ratio says what validation and rules
cost on top.

Memory (``--memory``): the default world with its complaints file replaced by a large one, each case
ingested in its own process (``ingest_directory``, no snapshot write); the peak resident memory is the
child's ``ru_maxrss`` from ``os.wait4``. Cases: a valid and an invalid (every date and category wrong)
complaints CSV of ``--size-mb`` MB, with the default limits and with ``max_file_mib`` raised above the
file; the same two at ``--within-mb`` MB, under the default limits; and the Parquet bomb,
``--bomb-rows`` (20 M) identical rows compressed with zstd (a few hundred KB), with the default limits
and with ``max_rows`` raised. A watchdog kills a case whose memory passes ``--kill-mb``. Every file
is written to a temporary directory that is deleted afterwards.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from engine.config import config_from_mapping, default_config_text, load_config
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


def _generate_world(out: Path, seed: int, units: int | None = None, years: int | None = None) -> None:
    cli = str(Path(sys.executable).parent / "tillsynsrisk")
    command = [cli, "generate", "--seed", str(seed), "--out", str(out)]
    command += ["--units", str(units)] if units else []
    command += ["--years", str(years)] if years else []
    subprocess.run(command, check=True, capture_output=True)
    shutil.rmtree(out / "truth", ignore_errors=True)


def timing(args: argparse.Namespace) -> None:
    """Median ingest and snapshot-write times against a plain read of the same files."""
    with tempfile.TemporaryDirectory() as scratch:
        world = args.world or Path(scratch) / "world"
        if args.world is None:
            _generate_world(world, args.seed, args.units, args.years)
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


# --- Memory cases --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One ingest in its own process: a source directory and ``[ingest]`` overrides."""

    name: str
    world: Path
    limits: dict[str, float]


def _large_complaints(world: Path, target: Path, megabytes: float, *, invalid: bool) -> None:
    """``world`` copied to ``target`` with complaints.csv repeated (new event ids) to ``megabytes``."""
    shutil.copytree(world, target)
    base = pl.read_csv(world / "complaints.csv", separator=";", infer_schema=False)
    if invalid:
        base = base.with_columns(received_date=pl.lit("31/02/2024"), category=pl.lit("okand"))
    path = target / "complaints.csv"
    with path.open("wb") as out:
        out.write((";".join(base.columns) + "\n").encode())
        copy = 0
        while out.tell() < megabytes * 1e6:
            base.with_columns(event_id=pl.col("event_id") + f"-{copy}").write_csv(
                out, separator=";", include_header=False
            )
            copy += 1


def _parquet_bomb(world: Path, target: Path, rows: int) -> None:
    """``world`` copied to ``target`` with complaints.parquet: one valid row repeated ``rows`` times."""
    shutil.copytree(world, target)
    first = pl.read_csv(world / "complaints.csv", separator=";", infer_schema=False, n_rows=1).row(
        0, named=True
    )
    (target / "complaints.csv").unlink()
    schema = pa.schema([(column, pa.string()) for column in first])
    batch_rows = min(rows, 1_000_000)
    batch = pa.table({column: [value] * batch_rows for column, value in first.items()}, schema=schema)
    with pq.ParquetWriter(target / "complaints.parquet", schema, compression="zstd") as writer:
        for _ in range(rows // batch_rows):
            writer.write_table(batch, row_group_size=batch.num_rows)


def _child(world: Path, limits: str) -> None:
    """Ingest ``world`` with ``limits`` (JSON) over ``[ingest]`` and print the outcome as JSON."""
    data = tomllib.loads(default_config_text())
    data["ingest"] |= json.loads(limits)
    started = time.perf_counter()
    result = ingest_directory(world, config_from_mapping(data), reference_date=dt.date.today())
    errors = result.errors.group_by("rule").len().sort("len", descending=True)
    print(
        json.dumps(
            {
                "seconds": round(time.perf_counter() - started, 1),
                "ok": result.ok,
                "errors": dict(errors.iter_rows()),
                "rows": {name: frame.height for name, frame in result.tables.items()},
            }
        )
    )


def _peak_of(case: Case, kill_mb: float, scratch: Path) -> tuple[float, float, str]:
    """Peak RSS (MB), wall seconds and outcome of ingesting ``case`` in a child process.

    The child is reaped with ``os.wait4``, whose rusage is that child's alone (``RUSAGE_CHILDREN``
    would be the running maximum over every case).
    """
    command = [
        sys.executable,
        __file__,
        "--child",
        str(case.world),
        "--child-limits",
        json.dumps(case.limits),
    ]
    errors = scratch / "child-stderr.txt"
    started = time.perf_counter()
    with errors.open("w") as stderr:
        # The child prints one short JSON line: far below a pipe's buffer, so waiting cannot block it.
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True)
        done, killed = threading.Event(), threading.Event()

        def watch() -> None:
            status = Path(f"/proc/{process.pid}/status")
            while not done.is_set():
                try:
                    lines = status.read_text().splitlines()
                    rss_kb = next(int(line.split()[1]) for line in lines if line.startswith("VmRSS"))
                except (OSError, StopIteration):  # exited (a zombie has no VmRSS)
                    return
                if rss_kb / 1e3 > kill_mb:
                    killed.set()
                    os.kill(process.pid, signal.SIGKILL)
                    return
                time.sleep(0.1)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        _, status, usage = os.wait4(process.pid, 0)
        done.set()
        watcher.join()
        process.returncode = os.waitstatus_to_exitcode(status)
        assert process.stdout is not None
        stdout = process.stdout.read()
    wall = time.perf_counter() - started
    peak = usage.ru_maxrss / 1e3  # kilobytes on Linux
    if killed.is_set():
        return peak, wall, f"killed above {kill_mb:,.0f} MB"
    if process.returncode != 0:
        return peak, wall, f"exit {process.returncode}: {errors.read_text().strip().splitlines()[-1:]}"
    outcome = json.loads(stdout.strip().splitlines()[-1])
    if outcome["ok"]:
        return peak, wall, f"ok, {sum(outcome['rows'].values()):,} rows"
    failures = ", ".join(f"{rule} × {count:,}" for rule, count in outcome["errors"].items())
    return peak, wall, f"rejected: {failures}"


def memory(args: argparse.Namespace) -> None:
    """Peak memory of each case, printed as a Markdown table."""
    defaults = load_config().ingest
    raised_file = {"max_file_mib": args.size_mb * 2}
    with tempfile.TemporaryDirectory(prefix="bench-ingest-", dir=args.scratch) as scratch:
        root = Path(scratch)
        _generate_world(root / "world", args.seed)
        _large_complaints(root / "world", root / "valid", args.size_mb, invalid=False)
        _large_complaints(root / "world", root / "invalid", args.size_mb, invalid=True)
        _large_complaints(root / "world", root / "valid-within", args.within_mb, invalid=False)
        _large_complaints(root / "world", root / "invalid-within", args.within_mb, invalid=True)
        _parquet_bomb(root / "world", root / "bomb", args.bomb_rows)
        cases = [
            Case("world, default limits", root / "world", {}),
            Case(f"valid {args.size_mb:,.0f} MB CSV, default limits", root / "valid", {}),
            Case(f"valid {args.size_mb:,.0f} MB CSV, max_file_mib raised", root / "valid", raised_file),
            Case(f"invalid {args.size_mb:,.0f} MB CSV, default limits", root / "invalid", {}),
            Case(f"invalid {args.size_mb:,.0f} MB CSV, max_file_mib raised", root / "invalid", raised_file),
            Case(f"valid {args.within_mb:,.0f} MB CSV, default limits", root / "valid-within", {}),
            Case(f"invalid {args.within_mb:,.0f} MB CSV, default limits", root / "invalid-within", {}),
            Case("Parquet bomb, default limits", root / "bomb", {}),
            Case("Parquet bomb, max_rows raised", root / "bomb", {"max_rows": args.bomb_rows * 2}),
        ]
        bomb = root / "bomb" / "complaints.parquet"
        print(f"defaults: {defaults.model_dump()}")
        print(f"Parquet bomb: {bomb.stat().st_size / 1e3:,.0f} KB on disk, {args.bomb_rows:,} rows")
        print("| case | complaints file MB | peak RSS MB | wall s | outcome |")
        print("|---|---|---|---|---|")
        for case in cases:
            files = [*case.world.glob("complaints.*")]
            size = files[0].stat().st_size / 1e6 if files else float("nan")
            peak, wall, outcome = _peak_of(case, args.kill_mb, root)
            print(f"| {case.name} | {size:,.1f} | {peak:,.0f} | {wall:.1f} | {outcome} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=Path, help="existing source directory (default: generate one)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--units", type=int, default=None)
    parser.add_argument("--years", type=int, default=None)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--memory", action="store_true", help="peak memory of the large and hostile cases")
    parser.add_argument("--size-mb", type=float, default=1000.0, help="size of the large CSV cases")
    parser.add_argument("--within-mb", type=float, default=450.0, help="size of the cases within the limits")
    parser.add_argument("--bomb-rows", type=int, default=20_000_000, help="rows of the Parquet bomb")
    parser.add_argument("--kill-mb", type=float, default=6000.0, help="kill a case above this RSS")
    parser.add_argument("--scratch", type=Path, default=None, help="where the temporary files go")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-limits", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.child_limits)
    elif args.memory:
        memory(args)
    else:
        timing(args)


if __name__ == "__main__":
    main()
