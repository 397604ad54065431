"""Where a scenario's drop is: one model's yearly ranking quality on a set of regions against the rest.

Usage::

    # in each world's environment (TILLSYNSRISK_HOME, MLFLOW_TRACKING_URI, ..._ARTIFACT_ROOT):
    .venv/bin/python -m studies.region_drop measure RUN_ID --world "shifted 7" \
        --out /tmp/drop11/shifted-7/scores.parquet [--world-dir /tmp/drop11/shifted-7/world] \
        [--since 2021-01-01 --until 2026-01-01] [--regions 01,12,14]
    # then, over the worlds' files:
    .venv/bin/python -m studies.region_drop combine /tmp/drop11/*/scores.parquet \
        --pair "shifted 7=realistic 7" --pair "shifted 11=realistic 11" \
        [--before 2021,2022] [--after 2024,2025] [--metrics roc_auc,expected_precision_at_10pct]

Issue 11's ``shifted`` scenario changes how the units of three regions (Stockholm 01, Skåne 12, Västra
Götaland 14) report availability from 2023-07, so a model trained before the change should rank those
units worse afterwards, and the others not. ``measure`` scores every inspection decided in the window
with the run's model, exactly as ``tillsynsrisk backtest`` does (:func:`models.backtest.run_backtest`:
features as of the run's planning rule, the same rows), and writes one row per inspection × area with
its decision year, whether its unit is in ``--regions`` (the snapshot's ``region_code``), whether it
was a random selection, the finding and the score — no unit or inspection identifiers. With
``--world-dir`` of a synthetic world that has ``truth/inspections.parquet``, each row also carries the
world's true probability of a deficiency (``p_true``, joined on inspection and area before the
identifiers are dropped).

``combine`` reads those files and prints, per world, area (``--areas``), population (all inspections,
random selections) and group (the regions, the rest), each year's n, ROC AUC and precision@10 % with
95 % bootstrap intervals (inspections resampled within each year × group cell, 2,000 resamples) and,
where the files carry ``p_true``, two measures without the label noise of the realised findings: the
*expected* precision@10 % (the mean true probability among the top 10 % by score, as
``studies.worlds`` computes it with :func:`models.metrics.batch_ranking_metrics`) and the Spearman
rank correlation between the score and the true probability. It then measures the drop of each
metric (``--metrics``, default all available): per group, the mean yearly value of the ``--after``
years minus that of the ``--before`` years, and

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
from models.backtest import bootstrap_interval
from models.baselines import tie_break_jitter
from models.metrics import batch_ranking_metrics, bootstrap_counts

METRO = ("01", "12", "14")
RESAMPLES = 2000
SEED = 20231
LEVEL = 0.95
GROUPS = ("regions", "rest")
POPULATIONS = ("all", "random")
TRUTH_COLUMN = "p_true"
METRICS = ("roc_auc", "precision_at_10pct", "expected_precision_at_10pct", "spearman")
LABELS = {
    "roc_auc": "ROC AUC",
    "precision_at_10pct": "p@10 %",
    "expected_precision_at_10pct": "expected p@10 %",
    "spearman": "Spearman ρ (score, true p)",
}


def true_probabilities(truth: pl.DataFrame) -> pl.DataFrame:
    """inspection_id, risk_area, p_true from a synthetic world's ``truth/inspections.parquet``."""
    return truth.select(
        pl.col("inspection_id").cast(pl.String),
        pl.col(AREA_COLUMN).cast(pl.String),
        pl.col("p_deficiency").cast(pl.Float64).alias(TRUTH_COLUMN),
    ).unique(["inspection_id", AREA_COLUMN])


def scored_inspections(
    result_scores: pl.DataFrame,
    units: pl.DataFrame,
    version: str,
    regions: Sequence[str],
    world: str,
    *,
    truth: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One row per scored inspection × area: world, year, group, is_random, risk_area, deficiency, p.

    With ``truth`` (:func:`true_probabilities`), also p_true — joined on inspection and area, which
    are then dropped with the unit: the rows carry no identifiers.
    """
    region_of = units.select(pl.col("unit_id").cast(pl.String), pl.col("region_code").cast(pl.String)).unique(
        "unit_id"
    )
    frame = result_scores.with_columns(
        pl.col("unit_id").cast(pl.String),
        pl.col("inspection_id").cast(pl.String),
        pl.col(AREA_COLUMN).cast(pl.String),
    ).join(region_of, on="unit_id", how="left")
    extra: list[pl.Expr] = []
    if truth is not None:
        frame = frame.join(truth, on=["inspection_id", AREA_COLUMN], how="left")
        extra.append(pl.col(TRUTH_COLUMN))
    return frame.select(
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
        *extra,
    ).sort("year", "group", AREA_COLUMN)


def average_ranks(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """(B, n): each row's average rank (1-based) in each resample where row i is drawn counts[b, i] times.

    Copies of a row, and rows of equal value, share the mean of the ranks they occupy — the ranks
    of the resample written out row by row, without writing it out.
    """
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    new_value = np.r_[True, ordered[1:] != ordered[:-1]]
    starts = np.flatnonzero(new_value)
    totals = np.add.reduceat(counts[:, order], starts, axis=1)
    tie_rank = np.cumsum(totals, axis=1) - totals + (totals + 1.0) / 2.0
    ranks = np.empty(counts.shape)
    ranks[:, order] = tie_rank[:, np.cumsum(new_value) - 1]
    return ranks


def rank_correlation(x: np.ndarray, y: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Spearman's ρ of x and y in each resample (row of ``counts``, multiplicities); NaN without spread."""
    weights = counts / counts.sum(axis=1, keepdims=True)
    rx, ry = average_ranks(x, counts), average_ranks(y, counts)
    dx = rx - (weights * rx).sum(axis=1, keepdims=True)
    dy = ry - (weights * ry).sum(axis=1, keepdims=True)
    vx, vy = (weights * dx * dx).sum(axis=1), (weights * dy * dy).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (weights * dx * dy).sum(axis=1) / np.sqrt(vx * vy)
    return np.where((vx > 0) & (vy > 0), rho, np.nan)


def cell_metrics(
    y: np.ndarray, p: np.ndarray, seed: int, p_true: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Point (index 0) and RESAMPLES bootstrap values (1:) of one cell's metrics.

    ROC AUC and precision@10 % of the findings; with ``p_true``, also the expected precision@10 %
    (the same top 10 % of the same resample, its true probabilities in place of its findings) and
    Spearman's ρ between the score and the true probability.
    """
    ranked = p + tie_break_jitter(y.size, seed)
    groups = np.zeros(y.size)
    counts = np.vstack([np.ones((1, y.size)), bootstrap_counts(groups, RESAMPLES, seed)])
    batch = batch_ranking_metrics(y, ranked, groups, [0.10], counts)
    out = {"roc_auc": batch["roc_auc"], "precision_at_10pct": batch["precision_at_10pct"]}
    if p_true is not None:
        expected = batch_ranking_metrics(p_true, ranked, groups, [0.10], counts, with_auc=False)
        out["expected_precision_at_10pct"] = expected["precision_at_10pct"]
        out["spearman"] = rank_correlation(p, p_true, counts)
    return out


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
            p_true = None
            if TRUTH_COLUMN in subset.columns and subset.get_column(TRUTH_COLUMN).null_count() == 0:
                p_true = subset.get_column(TRUTH_COLUMN).to_numpy()
            cells[(world, area, population, group, year)] = {
                "n": subset.height,
                "base_rate": float(y.mean()),
                "true_rate": float(p_true.mean()) if p_true is not None else float("nan"),
                **cell_metrics(y, p, SEED + 7919 * index + (population == "random"), p_true),
            }
    return cells


def change(
    cells: dict[tuple[Any, ...], dict[str, Any]],
    key: tuple[Any, ...],
    before: Sequence[int],
    after: Sequence[int],
    metric: str = "roc_auc",
) -> np.ndarray | None:
    """Mean metric of the after years − that of the before years (point, resamples); None = a year missing."""
    parts = []
    for years in (after, before):
        values = [cells.get((*key, year)) for year in years]
        if any(v is None or metric not in v for v in values):
            return None
        parts.append(np.mean([v[metric] for v in values if v is not None], axis=0))
    return parts[0] - parts[1]


def summarise(values: np.ndarray | None) -> dict[str, float] | None:
    """Point estimate and interval of a bootstrapped quantity (index 0 the point)."""
    if values is None:
        return None
    lower, upper = bootstrap_interval(values[1:], LEVEL)
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
    metrics: Sequence[str] = ("roc_auc",),
) -> list[dict[str, Any]]:
    """Per metric, world (and treated/control pair), area and population: the changes and differences.

    With more than one pair, a last row per area and population averages the pairs' differences
    (resample by resample: the pairs' worlds are independent samples, so this is the seeds' mean).
    """
    rows: list[dict[str, Any]] = []
    for metric in metrics:
        for area, population in [(a, p) for a in areas for p in POPULATIONS]:
            changes: dict[tuple[str, str], np.ndarray | None] = {}
            for world in worlds:
                for group in GROUPS:
                    changes[(world, group)] = change(
                        cells, (world, area, population, group), before, after, metric
                    )
                mine, rest = changes[(world, "regions")], changes[(world, "rest")]
                rows.append(
                    {"comparison": "within", "metric": metric, "world": world, "control": None,
                     AREA_COLUMN: area, "population": population, "change_regions": summarise(mine),
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
                    {"comparison": "control", "metric": metric, "world": treated, "control": control,
                     AREA_COLUMN: area, "population": population,
                     **{k: summarise(v) for k, v in per_pair[-1].items()}}
                )  # fmt: skip
            if len(per_pair) > 1:
                mean: dict[str, np.ndarray | None] = {}
                for key in ("difference", "difference_rest", "triple"):
                    values = [pair[key] for pair in per_pair]
                    mean[key] = None if any(v is None for v in values) else np.mean(values, axis=0)  # type: ignore[arg-type]
                rows.append(
                    {"comparison": "control", "metric": metric, "world": "mean of the pairs", "control": "",
                     AREA_COLUMN: area, "population": population,
                     **{k: summarise(v) for k, v in mean.items()}}
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
    """Markdown: the per-cell table, then the changes and their differences (per metric)."""
    named = ", ".join(f"{code} {REGIONS[code]}" for code in regions)
    present = [m for m in METRICS if any(m in cell for cell in cells.values())]
    print(f"Per year, with 95 % intervals; 'regions' = {named}, 'rest' = all others\n")
    truth = "expected_precision_at_10pct" in present
    head = "| world | area | population | group | year | n | base rate |" + (" true rate |" if truth else "")
    print(head + "".join(f" {LABELS[m]} |" for m in present))
    print("|---" * (head.count("|") - 1 + len(present)) + "|")
    for (world, area, population, group, year), cell in sorted(cells.items()):
        line = f"| {world} | {area} | {population} | {group} | {year} | {cell['n']} "
        line += f"| {cell['base_rate']:.2f} |"
        if truth:
            line += f" {cell['true_rate']:.2f} |"
        print(line + "".join(f" {_text(summarise(cell.get(m)), signed=False)} |" for m in present))
    print("\nChange of the mean yearly value, after − before (95 % bootstrap interval)\n")
    print("| metric | world | area | population | regions | rest | DiD regions − rest |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        if row["comparison"] == "within":
            print(
                f"| {LABELS[row['metric']]} | {row['world']} | {row[AREA_COLUMN]} | {row['population']} "
                f"| {_text(row['change_regions'])} | {_text(row['change_rest'])} "
                f"| {_text(row['difference'])} |"
            )
    print("\nAgainst the control world: each group's change and the DiD, treated − control\n")
    print(
        "| metric | treated − control | area | population | regions' change | rest's change "
        "| DiD (triple diff.) |"
    )
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        if row["comparison"] == "control":
            pair = f"{row['world']} − {row['control']}" if row["control"] else row["world"]
            print(
                f"| {LABELS[row['metric']]} | {pair} | {row[AREA_COLUMN]} | {row['population']} "
                f"| {_text(row['difference'])} | {_text(row['difference_rest'])} | {_text(row['triple'])} |"
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
    truth = None
    if args.world_dir is not None:
        source = args.world_dir / "truth" / "inspections.parquet"
        if not source.is_file():
            sys.exit(f"{args.world_dir} has no truth/inspections.parquet (not a synthetic world's directory)")
        truth = true_probabilities(pl.read_parquet(source))
    result = run_backtest(tables, config, [version], since=args.since, until=args.until)
    frame = scored_inspections(
        result.scores, tables["units"].collect(), version.version, args.regions, args.world, truth=truth
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(args.out)
    note = ""
    if truth is not None:
        note = f", {frame.get_column(TRUTH_COLUMN).null_count()} of them without a true probability"
    print(
        f"{frame.height} inspection × area rows of {args.world} ({opened.id}, {version.version}){note}"
        f" → {args.out}"
    )


def combine(args: argparse.Namespace) -> None:
    """Read the worlds' scored inspections and print (or write as JSON) the cells and the drops."""
    frame = pl.concat([pl.read_parquet(path) for path in args.files], how="diagonal")
    worlds = sorted(set(frame.get_column("world")))
    pairs = [tuple(pair.split("=", 1)) for pair in args.pair]
    missing = sorted({w for pair in pairs for w in pair} - set(worlds))
    if missing or any(len(pair) != 2 for pair in pairs):
        sys.exit(f"--pair needs TREATED=CONTROL of the files' worlds {worlds}; unknown: {missing}")
    cells = all_cells(frame, args.areas)
    available = [m for m in METRICS if any(m in cell for cell in cells.values())]
    unknown = sorted(set(args.metrics or []) - set(available))
    if unknown:
        sys.exit(f"--metrics {unknown} not available in these files; available: {available}")
    metrics = args.metrics or available
    rows = drops(
        cells=cells,
        worlds=worlds,
        pairs=pairs,
        areas=args.areas,
        before=args.before,
        after=args.after,
        metrics=metrics,
    )
    if args.json:
        view = [
            {"world": k[0], AREA_COLUMN: k[1], "population": k[2], "group": k[3], "year": k[4],
             "n": c["n"], "base_rate": c["base_rate"], "true_rate": c["true_rate"],
             **{m: summarise(c.get(m)) for m in available}}
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
    scored.add_argument(
        "--world-dir",
        type=Path,
        default=None,
        help="a synthetic world's directory: add its true p_deficiency",
    )
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
    joined.add_argument(
        "--metrics",
        type=lambda v: [part.strip() for part in v.split(",") if part.strip()],
        default=None,
        help=f"which of {','.join(METRICS)} to measure the drop of (default: all the files allow)",
    )
    joined.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "measure":
        measure(args)
    else:
        combine(args)


if __name__ == "__main__":
    main()
