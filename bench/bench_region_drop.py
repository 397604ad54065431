"""Where a scenario's drop is: one model's yearly ranking quality on a set of regions against the rest.

Usage::

    # in each world's environment (TILLSYNSRISK_HOME, MLFLOW_TRACKING_URI, ..._ARTIFACT_ROOT):
    .venv/bin/python bench/bench_region_drop.py measure RUN_ID --world "shifted 7" \
        --out /tmp/drop11/shifted-7/scores.parquet \
        [--since 2021-01-01 --until 2026-01-01] [--regions 01,12,14]
    # then, over the worlds' files:
    .venv/bin/python bench/bench_region_drop.py combine /tmp/drop11/*/scores.parquet \
        --pair "shifted 7=realistic 7" --pair "shifted 11=realistic 11" \
        [--before 2021,2022] [--after 2024,2025]

Issue 11's ``shifted`` scenario changes how the units of three regions (Stockholm 01, Skåne 12, Västra
Götaland 14) report availability from 2023-07, so a model trained before the change should rank those
units worse afterwards, and the others not. ``measure`` scores every inspection decided in the window
with the run's model, exactly as ``tillsynsrisk backtest`` does (:func:`models.backtest.run_backtest`:
features as of the run's planning rule, the same rows), and writes one row per inspection × area with
its decision year, whether its unit is in ``--regions`` (the snapshot's ``region_code``), whether it
was a random selection, the finding and the score — no unit or inspection identifiers.

``combine`` reads those files and prints, per world, area (``--areas``), population (all inspections,
random selections) and group (the regions, the rest), each year's n, ROC AUC and precision@10 % with
95 % bootstrap intervals (inspections resampled within each year × group cell, 2,000 resamples). It
then measures the drop: per group, the mean yearly AUC of the ``--after`` years minus that of the
``--before`` years, and

- *DiD within a world*: the regions' change minus the rest's change (does the model fall on the
  changed units more than on the unchanged ones of the same world and years?);
- *against the control* (``--pair TREATED=CONTROL``): the regions' change in the treated world minus
  the regions' change in the control world (the same seed without the change), and the triple
  difference (the treated world's DiD minus the control's DiD).

Every difference is bootstrapped from the same resamples of the cells it combines (the worlds'
cells are independent, so the intervals of the cross-world differences are those of independent
samples). The ``--before`` years may be in the run's training data (a run trained at 2023-07-01 has
seen the labels of 2021–2022): their AUC is then in-sample and higher than an out-of-sample one, which
is why the drop is measured as a difference of differences — the in-sample lift cancels as far as it
is the same in both groups and both worlds. Units recur across years; resampling inspections rather
than units makes the intervals slightly too narrow, if anything.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from engine.contract import REGIONS
from models.artifact import AREA_COLUMN
from models.baselines import tie_break_jitter
from models.metrics import batch_ranking_metrics, bootstrap_counts

METRO = ("01", "12", "14")
RESAMPLES = 2000
SEED = 20231
LEVEL = 0.95
GROUPS = ("regions", "rest")
POPULATIONS = ("all", "random")


def scored_inspections(
    result_scores: pl.DataFrame, units: pl.DataFrame, version: str, regions: Sequence[str], world: str
) -> pl.DataFrame:
    """One row per scored inspection × area: world, year, group, is_random, risk_area, deficiency, p."""
    region_of = units.select(pl.col("unit_id").cast(pl.String), pl.col("region_code").cast(pl.String)).unique(
        "unit_id"
    )
    return (
        result_scores.with_columns(pl.col("unit_id").cast(pl.String))
        .join(region_of, on="unit_id", how="left")
        .select(
            pl.lit(world).alias("world"),
            pl.col("decision_date").dt.year().alias("year"),
            pl.when(pl.col("region_code").is_in(list(regions)))
            .then(pl.lit("regions"))
            .otherwise(pl.lit("rest"))
            .alias("group"),
            pl.col("is_random").cast(pl.Boolean),
            pl.col(AREA_COLUMN).cast(pl.String),
            pl.col("deficiency").cast(pl.Float64),
            pl.col(f"p_{version}").cast(pl.Float64).alias("p"),
        )
        .sort("year", "group", AREA_COLUMN)
    )


def cell_metrics(y: np.ndarray, p: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Point (index 0) and RESAMPLES bootstrap values (1:) of ROC AUC and precision@10 % of one cell."""
    ranked = p + tie_break_jitter(y.size, seed)
    counts = np.vstack([np.ones((1, y.size)), bootstrap_counts(np.zeros(y.size), RESAMPLES, seed)])
    batch = batch_ranking_metrics(y, ranked, np.zeros(y.size), [0.10], counts)
    return {"roc_auc": batch["roc_auc"], "precision_at_10pct": batch["precision_at_10pct"]}


def interval(values: np.ndarray) -> tuple[float, float]:
    """The central LEVEL interval of the bootstrap values (NaNs, e.g. a cell without positives, dropped)."""
    finite = values[~np.isnan(values)]
    if not finite.size:
        return float("nan"), float("nan")
    alpha = (1.0 - LEVEL) / 2.0
    return float(np.quantile(finite, alpha)), float(np.quantile(finite, 1.0 - alpha))


def all_cells(frame: pl.DataFrame, areas: Sequence[str]) -> dict[tuple[Any, ...], dict[str, Any]]:
    """(world, area, population, group, year) → n, base rate and the metrics' point and bootstrap values."""
    cells: dict[tuple[Any, ...], dict[str, Any]] = {}
    for index, ((world, area, group, year), rows) in enumerate(
        sorted(frame.filter(pl.col(AREA_COLUMN).is_in(list(areas))).group_by(
            "world", AREA_COLUMN, "group", "year"), key=lambda item: item[0])
    ):  # fmt: skip
        for population in POPULATIONS:
            subset = rows.filter(pl.col("is_random")) if population == "random" else rows
            if subset.height < 2:
                continue
            y = subset.get_column("deficiency").to_numpy()
            p = subset.get_column("p").to_numpy()
            cells[(world, area, population, group, year)] = {
                "n": subset.height,
                "base_rate": float(y.mean()),
                **cell_metrics(y, p, SEED + 7919 * index + (population == "random")),
            }
    return cells


def change(
    cells: dict[tuple[Any, ...], dict[str, Any]],
    key: tuple[Any, ...],
    before: Sequence[int],
    after: Sequence[int],
) -> np.ndarray | None:
    """Mean AUC of the after years − that of the before years (point, resamples); None = a year missing."""
    parts = []
    for years in (after, before):
        values = [cells.get((*key, year)) for year in years]
        if any(v is None for v in values):
            return None
        parts.append(np.mean([v["roc_auc"] for v in values if v is not None], axis=0))
    return parts[0] - parts[1]


def summarise(values: np.ndarray | None) -> dict[str, float] | None:
    """Point estimate and interval of a bootstrapped quantity (index 0 the point)."""
    if values is None:
        return None
    lower, upper = interval(values[1:])
    return {"value": float(values[0]), "lower": lower, "upper": upper}


def _minus(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    return None if a is None or b is None else a - b


def drops(
    *,
    cells: dict[tuple[Any, ...], dict[str, Any]],
    worlds: Sequence[str],
    pairs: Sequence[tuple[str, str]],
    areas: Sequence[str],
    before: Sequence[int],
    after: Sequence[int],
) -> list[dict[str, Any]]:
    """Per world (and treated/control pair), area and population: the changes and their differences.

    With more than one pair, a last row per area and population averages the pairs' differences
    (resample by resample: the pairs' worlds are independent samples, so this is the seeds' mean).
    """
    rows: list[dict[str, Any]] = []
    for area in areas:
        for population in POPULATIONS:
            changes: dict[tuple[str, str], np.ndarray | None] = {}
            for world in worlds:
                for group in GROUPS:
                    changes[(world, group)] = change(cells, (world, area, population, group), before, after)
                mine, rest = changes[(world, "regions")], changes[(world, "rest")]
                rows.append(
                    {"comparison": "within", "world": world, "control": None, AREA_COLUMN: area,
                     "population": population, "change_regions": summarise(mine),
                     "change_rest": summarise(rest), "difference": summarise(_minus(mine, rest))}
                )  # fmt: skip
            per_pair: list[dict[str, np.ndarray | None]] = []
            for treated, control in pairs:
                regions = _minus(changes.get((treated, "regions")), changes.get((control, "regions")))
                rest = _minus(changes.get((treated, "rest")), changes.get((control, "rest")))
                per_pair.append(
                    {"difference": regions, "difference_rest": rest, "triple": _minus(regions, rest)}
                )
                rows.append(
                    {"comparison": "control", "world": treated, "control": control, AREA_COLUMN: area,
                     "population": population, **{k: summarise(v) for k, v in per_pair[-1].items()}}
                )  # fmt: skip
            if len(per_pair) > 1:
                mean: dict[str, np.ndarray | None] = {}
                for key in ("difference", "difference_rest", "triple"):
                    values = [pair[key] for pair in per_pair]
                    mean[key] = None if any(v is None for v in values) else np.mean(values, axis=0)  # type: ignore[arg-type]
                rows.append(
                    {"comparison": "control", "world": "mean of the pairs", "control": "", AREA_COLUMN: area,
                     "population": population, **{k: summarise(v) for k, v in mean.items()}}
                )  # fmt: skip
    return rows


def _text(entry: dict[str, float] | None, signed: bool = True) -> str:
    if entry is None or np.isnan(entry["value"]):
        return "–"
    form = "+.3f" if signed else ".3f"
    return f"{entry['value']:{form}} ({entry['lower']:{form}} to {entry['upper']:{form}})"


def print_tables(
    cells: dict[tuple[Any, ...], dict[str, Any]], rows: list[dict[str, Any]], regions: Sequence[str]
) -> None:
    """Markdown: the per-cell table, then the changes and their differences."""
    named = ", ".join(f"{code} {REGIONS[code]}" for code in regions)
    print(f"Per year: ROC AUC (95 % interval) and precision@10 %; 'regions' = {named}, 'rest' = all others\n")
    print("| world | area | population | group | year | n | base rate | ROC AUC | p@10 % |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (world, area, population, group, year), cell in sorted(cells.items()):
        auc = summarise(cell["roc_auc"])
        p10 = summarise(cell["precision_at_10pct"])
        print(
            f"| {world} | {area} | {population} | {group} | {year} | {cell['n']} | {cell['base_rate']:.2f} "
            f"| {_text(auc, signed=False)} | {_text(p10, signed=False)} |"
        )
    print("\nChange of the mean yearly ROC AUC, after − before (95 % bootstrap interval)\n")
    print("| world | area | population | regions | rest | DiD regions − rest |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        if row["comparison"] == "within":
            print(
                f"| {row['world']} | {row[AREA_COLUMN]} | {row['population']} "
                f"| {_text(row['change_regions'])} | {_text(row['change_rest'])} "
                f"| {_text(row['difference'])} |"
            )
    print("\nAgainst the control world: each group's change and the DiD, treated − control\n")
    print("| treated − control | area | population | regions' change | rest's change | DiD (triple diff.) |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        if row["comparison"] == "control":
            pair = f"{row['world']} − {row['control']}" if row["control"] else row["world"]
            print(
                f"| {pair} | {row[AREA_COLUMN]} | {row['population']} | {_text(row['difference'])} "
                f"| {_text(row['difference_rest'])} | {_text(row['triple'])} |"
            )


def measure(args: argparse.Namespace) -> None:
    """Score the window's inspections with the run (as ``tillsynsrisk backtest`` does) and write them."""
    from engine.settings import Settings
    from engine.snapshots import SnapshotStore
    from models.backtest import run_backtest
    from models.registry import load_run, tracking_for

    settings = Settings()
    config = settings.load_config()
    opened = SnapshotStore(settings.snapshots_dir).open(args.snapshot)
    version = load_run(tracking_for(settings), args.run_id)
    tables = opened.tables()
    result = run_backtest(tables, config, [version], since=args.since, until=args.until)
    frame = scored_inspections(
        result.scores, tables["units"].collect(), version.version, args.regions, args.world
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(args.out)
    print(
        f"{frame.height} inspection × area rows of {args.world} ({opened.id}, {version.version}) → {args.out}"
    )


def combine(args: argparse.Namespace) -> None:
    """Read the worlds' scored inspections and print (or write as JSON) the cells and the drops."""
    frame = pl.concat([pl.read_parquet(path) for path in args.files])
    worlds = sorted(set(frame.get_column("world")))
    pairs = [tuple(pair.split("=", 1)) for pair in args.pair]
    missing = sorted({w for pair in pairs for w in pair} - set(worlds))
    if missing or any(len(pair) != 2 for pair in pairs):
        sys.exit(f"--pair needs TREATED=CONTROL of the files' worlds {worlds}; unknown: {missing}")
    cells = all_cells(frame, args.areas)
    rows = drops(
        cells=cells, worlds=worlds, pairs=pairs, areas=args.areas, before=args.before, after=args.after
    )
    if args.json:
        view = [
            {"world": k[0], AREA_COLUMN: k[1], "population": k[2], "group": k[3], "year": k[4],
             "n": c["n"], "base_rate": c["base_rate"], "roc_auc": summarise(c["roc_auc"]),
             "precision_at_10pct": summarise(c["precision_at_10pct"])}
            for k, c in sorted(cells.items())
        ]  # fmt: skip
        json.dump(
            {"cells": view, "drops": rows, "before": args.before, "after": args.after}, sys.stdout, indent=1
        )
        return
    print_tables(cells, rows, args.regions)


def _years(value: str) -> list[int]:
    return [int(part) for part in value.split(",") if part.strip()]


def _codes(value: str) -> list[str]:
    codes = [part.strip() for part in value.split(",") if part.strip()]
    unknown = sorted(set(codes) - set(REGIONS))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown region code(s) {unknown}; valid: {sorted(REGIONS)}")
    return codes


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    scored = commands.add_parser("measure", help="score one world's window with one training run")
    scored.add_argument("run_id")
    scored.add_argument("--world", required=True, help="a label for this world, e.g. 'shifted 7'")
    scored.add_argument("--out", type=Path, required=True)
    scored.add_argument("--since", type=dt.date.fromisoformat, default=dt.date(2021, 1, 1))
    scored.add_argument("--until", type=dt.date.fromisoformat, default=dt.date(2026, 1, 1))
    scored.add_argument("--regions", type=_codes, default=list(METRO))
    scored.add_argument("--snapshot", default=None)
    joined = commands.add_parser("combine", help="per-cell metrics and the drops over the worlds' files")
    joined.add_argument("files", nargs="+", type=Path)
    joined.add_argument("--pair", action="append", default=[], help="TREATED=CONTROL world labels")
    joined.add_argument(
        "--areas", type=lambda v: v.split(","), default=["tillganglighet", "personcentrering"]
    )
    joined.add_argument("--before", type=_years, default=[2021, 2022])
    joined.add_argument("--after", type=_years, default=[2024, 2025])
    joined.add_argument(
        "--regions", type=_codes, default=list(METRO), help="only names the group in the text"
    )
    joined.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "measure":
        measure(args)
    else:
        combine(args)


if __name__ == "__main__":
    main()
