"""``tillsynsrisk features``: build the point-in-time feature table from a snapshot and store it."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import polars as pl
import typer
from rich.table import Table

from cli.common import console, fail, load_effective_config, load_settings, open_snapshot, shown
from engine.config import Config
from engine.settings import Settings
from engine.snapshots import Snapshot
from features.asof import GridStep, as_of_grid
from features.catalog import FeatureSpec
from features.store import FeatureBuildError, FeatureSet, FeatureStore, stored_feature_set

USAGE_ERROR = 2
GRID_STEPS: tuple[str, ...] = ("month", "quarter", "year")
TOP_VARYING = 10
_NON_NEGATIVE_UNITS = {"count", "per_10k", "share", "days", "months", "patients"}
_VARYING_SCHEMA = {"feature": pl.String, "mean": pl.Float64, "std": pl.Float64, "non_null": pl.Float64}


def build_features_command(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Planning date(s), YYYY-MM-DD, comma-separated.")
    ] = None,
    every: Annotated[
        str | None, typer.Option("--every", help=f"Grid of planning dates: one of {', '.join(GRID_STEPS)}.")
    ] = None,
    start: Annotated[str | None, typer.Option("--from", help="First date of the grid (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last date of the grid (YYYY-MM-DD).")] = None,
    snapshot: Annotated[
        str | None, typer.Option("--snapshot", help="Snapshot id or unique prefix (default: current).")
    ] = None,
) -> None:
    """Build one row per unit active at each planning date and store it with its catalog."""
    dates = _planning_dates(as_of, every, start, end)
    settings = load_settings()
    config = load_effective_config(settings)
    source = open_snapshot(settings, snapshot)
    feature_set, frame, seconds = feature_table(settings, config, source, dates)
    if seconds is None:
        console.print(
            f"Feature set [bold]{feature_set.id}[/] already built from snapshot {source.id}; reusing it."
        )
    _print_summary(feature_set, frame, feature_set.catalog, seconds=seconds)


def feature_table(
    settings: Settings, config: Config, source: Snapshot, dates: list[dt.date]
) -> tuple[FeatureSet, pl.DataFrame, float | None]:
    """:func:`features.store.stored_feature_set` with a progress line; a build error ends the command."""
    with console.status(f"Features for {len(dates)} planning date(s) from snapshot {source.id} ..."):
        try:
            return stored_feature_set(
                FeatureStore(settings.features_dir),
                source.tables(),
                snapshot_id=source.id,
                dates=dates,
                config=config,
            )
        except FeatureBuildError as error:
            fail(str(error))


def _parse_date(value: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        fail(f"{option}: {value!r} is not a date; expected YYYY-MM-DD", USAGE_ERROR)


def _planning_dates(
    as_of: str | None, every: str | None, start: str | None, end: str | None
) -> list[dt.date]:
    grid_given = any(value is not None for value in (every, start, end))
    if as_of is not None and grid_given:
        fail("give either --as-of or --every/--from/--to, not both", USAGE_ERROR)
    if as_of is not None:
        dates = [_parse_date(value, "--as-of") for value in as_of.split(",") if value.strip()]
        if not dates:
            fail("--as-of needs at least one date (YYYY-MM-DD[,YYYY-MM-DD...])", USAGE_ERROR)
        return sorted(set(dates))
    if every is None or start is None or end is None:
        fail("give --as-of DATE[,DATE...] or all of --every, --from and --to", USAGE_ERROR)
    if every not in GRID_STEPS:
        fail(f"--every: {every!r} is not a grid step; allowed: {', '.join(GRID_STEPS)}", USAGE_ERROR)
    first, last = _parse_date(start, "--from"), _parse_date(end, "--to")
    if last < first:
        fail(f"--to {last} lies before --from {first}", USAGE_ERROR)
    step: GridStep = every  # type: ignore[assignment]
    dates = as_of_grid(first, last, step)
    if not dates:
        fail(f"no {every} start lies between {first} and {last}", USAGE_ERROR)
    return dates


def top_varying_features(frame: pl.DataFrame, catalog: list[FeatureSpec], limit: int) -> pl.DataFrame:
    """Non-negative numeric features ranked by coefficient of variation (std / mean) over all rows.

    Signed features (trends, slopes, gaps) are left out: their mean is near zero by construction,
    which makes the coefficient of variation meaningless.
    """
    numeric = [spec.name for spec in catalog if spec.kind == "numeric" and spec.unit in _NON_NEGATIVE_UNITS]
    if not numeric or frame.height == 0:
        return pl.DataFrame(schema=_VARYING_SCHEMA)
    stats = frame.select(
        [pl.col(name).mean().alias(f"{name}\x00mean") for name in numeric]
        + [pl.col(name).std().alias(f"{name}\x00std") for name in numeric]
        + [pl.col(name).is_not_null().mean().alias(f"{name}\x00non_null") for name in numeric]
    ).row(0, named=True)
    rows = [
        {
            "feature": name,
            "mean": stats[f"{name}\x00mean"],
            "std": stats[f"{name}\x00std"],
            "non_null": stats[f"{name}\x00non_null"],
        }
        for name in numeric
    ]
    table = pl.DataFrame(rows, schema=_VARYING_SCHEMA)
    return (
        table.with_columns((pl.col("std") / pl.col("mean").abs()).alias("cv"))
        .filter(pl.col("cv").is_finite())
        .sort("cv", descending=True)
        .head(limit)
    )


def _print_summary(
    feature_set: FeatureSet, frame: pl.DataFrame, catalog: list[FeatureSpec], seconds: float | None
) -> None:
    dates = feature_set.as_of_dates
    numeric = sum(spec.kind == "numeric" for spec in catalog)
    took = f" in {seconds:.1f} s" if seconds is not None else ""
    console.print(
        f"Feature set [bold]{feature_set.id}[/] (snapshot {feature_set.snapshot_id}){took}: "
        f"{frame.height:,} rows, {frame['unit_id'].n_unique():,} units, {len(dates)} planning date(s) "
        f"{dates[0]}..{dates[-1]}, {len(catalog)} features "
        f"({numeric} numeric, {len(catalog) - numeric} categorical)."
    )
    console.print(f"Stored in {shown(feature_set.path)}")
    varying = top_varying_features(frame, catalog, TOP_VARYING)
    table = Table(title=f"Top {varying.height} varying features (coefficient of variation)")
    for column in ("feature", "mean", "std", "non-null"):
        table.add_column(column, justify="left" if column == "feature" else "right")
    for row in varying.iter_rows(named=True):
        table.add_row(
            shown(row["feature"]), f"{row['mean']:.3g}", f"{row['std']:.3g}", f"{row['non_null']:.0%}"
        )
    console.print(table)
