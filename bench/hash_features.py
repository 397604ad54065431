"""Print a fingerprint of the national feature table, to prove a change to ``features/`` left it unchanged.

Generates the national synthetic world once into ``--world`` (reused when its Parquet files are
there), builds ``build_features`` for the bench's 40 quarterly planning dates and prints the SHA-256
of the schema and of the row hashes in table order (``DataFrame.hash_rows``: nulls, values and row
order all count). ``--training-set`` hashes the training set's feature table instead (the
(unit, as-of) pairs of the inspections decided before 2026-01-01 and every unit at that scoring date,
as ``models.jobs.build_training_data`` asks for them). ``--save`` keeps the table as Parquet;
``--compare`` checks it cell for cell against a saved one: the same columns, types, keys and nulls,
every column bit for bit equal or (and then named with its largest difference) within a relative
``--tolerance``. The tolerance exists because
the build is not bit-reproducible from one run to the next today: float sums in multithreaded
group-bys (shrinkage priors, national indicator shares, the provider rollup) differ in the last bits.

    .venv/bin/python bench/hash_features.py --world /tmp/national --save /tmp/before.parquet
    .venv/bin/python bench/hash_features.py --world /tmp/national --compare /tmp/before.parquet
    .venv/bin/python bench/hash_features.py --world /tmp/national --training-set --save /tmp/ts.parquet
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
from pathlib import Path

import polars as pl

from engine.config import Config, load_config
from features.asof import as_of_grid
from features.pipeline import build_features
from models.dataset import training_inspections
from synthetic import WorldParams, generate_world


def table_fingerprint(frame: pl.DataFrame) -> str:
    """SHA-256 over the column names, dtypes and the row hashes in order."""
    digest = hashlib.sha256(repr(list(frame.schema.items())).encode())
    digest.update(frame.hash_rows(seed=0).to_numpy().tobytes())
    return digest.hexdigest()


TRAINING_CUTOFF = dt.date(2026, 1, 1)  # the worlds end 2025-12: the planning date after them


def training_set_features(tables: dict[str, pl.LazyFrame], config: Config) -> pl.LazyFrame:
    """The features ``build_training_data`` asks for at :data:`TRAINING_CUTOFF`: the labelled
    inspections' (unit, as-of) pairs and every unit at the scoring date."""
    settings = config.model
    labelled = training_inspections(tables["inspections"], settings, decided_before=TRAINING_CUTOFF)
    pairs = labelled.select("unit_id", "as_of").collect()
    return build_features(tables, [TRAINING_CUTOFF], config, pairs=pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--world", type=Path, required=True, help="directory of the world's Parquet tables")
    parser.add_argument("--units", type=int, default=20_000)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--training-set", action="store_true", help="hash the training set's features, not the 40 dates"
    )
    parser.add_argument("--save", type=Path, help="write the table here as Parquet")
    parser.add_argument("--compare", type=Path, help="compare the table with this saved Parquet")
    parser.add_argument("--tolerance", type=float, default=1e-9, help="largest relative difference")
    args = parser.parse_args()
    config = load_config()
    if not any(args.world.glob("*.parquet")):
        args.world.mkdir(parents=True, exist_ok=True)
        params = WorldParams(seed=args.seed, n_units=args.units, years=args.years, end="2025-12")
        for name, table in generate_world(params, config).tables.items():
            table.write_parquet(args.world / f"{name}.parquet")
    tables = {path.stem: pl.scan_parquet(path) for path in sorted(args.world.glob("*.parquet"))}
    dates = as_of_grid(dt.date(2016, 1, 1), dt.date(2025, 12, 31), "quarter")
    lazy = (
        training_set_features(tables, config) if args.training_set else build_features(tables, dates, config)
    )
    frame = lazy.collect(engine="in-memory")  # as the CLI and the bench
    print(f"{frame.height} rows × {frame.width} columns sha256 {table_fingerprint(frame)}")
    if args.save:
        frame.write_parquet(args.save)
    if args.compare:
        saved = pl.read_parquet(args.compare)
        if saved.schema != frame.schema or saved.height != frame.height:
            raise SystemExit(f"DIFFERS: schema or height ({saved.shape} saved, {frame.shape} now)")
        differences = column_differences(saved, frame)
        for column, difference in differences.items():
            print(f"{column}: largest relative difference {difference:.2e}")
        worst = max(differences.values(), default=0.0)
        print(f"{frame.width - len(differences)} of {frame.width} columns bit-identical; worst {worst:.2e}")
        if worst > args.tolerance:
            raise SystemExit(f"DIFFERS beyond the tolerance {args.tolerance:.0e}")


def column_differences(saved: pl.DataFrame, frame: pl.DataFrame) -> dict[str, float]:
    """Columns that are not bit-identical → largest relative difference (inf: nulls or text differ)."""
    differences: dict[str, float] = {}
    for column in frame.columns:
        before, after = saved.get_column(column), frame.get_column(column)
        if before.equals(after, null_equal=True):
            continue
        if not before.dtype.is_float() or not before.is_null().equals(after.is_null()):
            differences[column] = float("inf")
            continue
        scale = pl.max_horizontal(before.abs(), after.abs(), pl.lit(1e-300))
        relative = pl.select(((before - after).abs() / scale).max()).item()
        differences[column] = float(relative or 0.0)
    return differences


if __name__ == "__main__":
    main()
