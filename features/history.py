"""Inspection-history features: earlier findings per risk area and across areas, over trailing
windows, time since the last inspection and the last finding, the level of the last finding and
whether the last inspection was a follow-up.

Only decisions made strictly before the planning date count (``decision_date < as_of``): an
inspection that has started but not been decided is not yet a finding IVO can plan on. A trailing
window of ``w`` months is ``[as_of - w months, as_of)`` by decision date.

Counting findings: a decided risk-area assessment contributes ``deficiency_count`` deficiencies and
``serious_count`` serious findings (föreläggande) when the export reports them (contract version 2),
and otherwise one deficiency when ``finding`` is ``deficiency`` or ``serious`` and one serious
finding when it is ``serious``.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from features.asof import months_before
from features.catalog import HISTORY_WINDOWS_MONTHS, history_area_name, history_count_name
from features.context import keyed

PROVIDER_DEFICIENCY_SHARE = "provider_other_units_deficiency_share"

_CUMULATIVE = ["inspections", "rows", "deficient", "deficiencies", "serious"]


def _deficient() -> pl.Expr:
    return (pl.col("finding") != "none").cast(pl.Float64)


def _level() -> pl.Expr:
    """0 no finding, 1 deficiency, 2 serious finding (föreläggande)."""
    return pl.col("finding").replace_strict({"none": 0.0, "deficiency": 1.0, "serious": 2.0}, default=None)


def _deficiency_count() -> pl.Expr:
    return pl.col("deficiency_count").cast(pl.Float64).fill_null(_deficient())


def _serious_count() -> pl.Expr:
    serious = (pl.col("finding") == "serious").cast(pl.Float64)
    return pl.col("serious_count").cast(pl.Float64).fill_null(serious)


def with_history_columns(inspections: pl.LazyFrame) -> pl.LazyFrame:
    """``inspections`` with the version-2 columns the history needs (null when a version-1 table)."""
    present = inspections.collect_schema().names()
    missing: dict[str, pl.DataType] = {"deficiency_count": pl.Int64(), "serious_count": pl.Int64()}
    if "selection" not in present:
        missing["selection"] = pl.String()
    return inspections.with_columns(
        pl.lit(None, dtype=dtype).alias(column) for column, dtype in missing.items() if column not in present
    )


_SERIES_KEY = "_series"
_DAYS_OFFSET = 1 << 25  # days: dates from about 90,000 years before 1970 on
_DAYS_PER_SERIES = 1 << 26
_LOOKUP_KEYS = ("unit_key", "as_of", "series", _SERIES_KEY)


def _running(inspections: pl.LazyFrame) -> pl.LazyFrame:
    """Per series and decision date: running totals up to and including that date, the level and
    follow-up flag of that date's decisions, the date of the latest decision with a finding, and the
    decision date itself (kept as ``decided`` for the days since)."""
    return (
        inspections.group_by(_SERIES_KEY, "decision_date")
        .agg(
            pl.col("inspection_id").n_unique().cast(pl.Float64).alias("inspections"),
            pl.len().cast(pl.Float64).alias("rows"),
            _deficient().sum().alias("deficient"),
            _deficiency_count().sum().alias("deficiencies"),
            _serious_count().sum().alias("serious"),
            _deficient().max().alias("last_deficient"),
            _level().max().alias("last_level"),
            (pl.col("selection") == "follow_up").any().cast(pl.Float64).alias("last_follow_up"),
        )
        .sort(_SERIES_KEY, "decision_date")
        .with_columns(
            pl.col(_CUMULATIVE).cum_sum().over(_SERIES_KEY),
            pl.when(pl.col("last_deficient") > 0)
            .then(pl.col("decision_date"))
            .forward_fill()
            .over(_SERIES_KEY)
            .alias("last_finding_date"),
            pl.col("decision_date").alias("decided"),
        )
    )


def _series_key(series: int) -> pl.Expr:
    """One integer per unit and series (0: every risk area together; i: the i-th configured area)."""
    return pl.col("unit_key").cast(pl.UInt64) * series + pl.col("series").cast(pl.UInt64)


def _by_series(inspections: pl.LazyFrame, areas: list[str]) -> pl.LazyFrame:
    """Each assessment once in the overall series and once in its area's series (configured areas)."""
    area_series = {area: index + 1 for index, area in enumerate(areas)}
    return pl.concat(
        [
            inspections.with_columns(series=pl.lit(0, dtype=pl.UInt32)),
            inspections.filter(pl.col("risk_area").is_in(areas)).with_columns(
                series=pl.col("risk_area").replace_strict(area_series, return_dtype=pl.UInt32)
            ),
        ],
        how="vertical",
    ).with_columns(_series_key(len(areas) + 1).alias(_SERIES_KEY))


def _date_key(date: pl.Expr) -> pl.Expr:
    """The series key and a date as one integer that sorts as (series, date): a backward as-of join
    on it is a single merge of two sorted columns, with no per-series hash partitioning."""
    days = date.cast(pl.Int32).cast(pl.Int64) + _DAYS_OFFSET  # days since 1970, made non-negative
    return pl.col(_SERIES_KEY).cast(pl.Int64) * _DAYS_PER_SERIES + days


def _before(
    queries: pl.LazyFrame, running: pl.LazyFrame, at: pl.Expr, columns: list[str], suffix: str = ""
) -> pl.LazyFrame:
    """Each query row with ``columns`` (named ``<column><suffix>``) of its series' last decision
    strictly before ``at``; ``queries`` must be sorted by series and then ``at``."""
    found = pl.col("_found") == pl.col(_SERIES_KEY)
    return (
        queries.with_columns(_date_key(at).set_sorted().alias("_key"))
        .join_asof(
            running.select(
                _date_key(pl.col("decision_date")).set_sorted().alias("_key"),  # sorted in _running
                pl.col(_SERIES_KEY).alias("_found"),
                *[pl.col(c).alias(f"{c}{suffix}") for c in columns],
            ),
            on="_key",
            strategy="backward",
            allow_exact_matches=False,
            check_sortedness=False,  # both keys sort by (series, date), flagged just above
        )
        .with_columns(pl.when(found).then(pl.col(f"{c}{suffix}")).name.keep() for c in columns)
        .drop("_key", "_found")
    )


def _lookups(units_at: pl.LazyFrame, running: pl.LazyFrame, series: int) -> pl.LazyFrame:
    """One row per active unit, series and planning date (in that order), with the running totals
    strictly before the planning date and, as ``<column>@<w>``, before each window's start."""
    queries = (
        units_at.select("unit_key", "as_of")
        .group_by("unit_key", maintain_order=True)
        .agg("as_of")
        .join(
            pl.LazyFrame({"series": range(series)}, schema={"series": pl.UInt32}),
            how="cross",
            maintain_order="left_right",
        )
        .explode("as_of")
        .with_columns(_series_key(series).alias(_SERIES_KEY))
    )
    queries = _before(
        queries,
        running,
        pl.col("as_of"),
        [*_CUMULATIVE, "last_deficient", "last_level", "last_follow_up", "last_finding_date", "decided"],
    )
    for window in HISTORY_WINDOWS_MONTHS:
        start = months_before(pl.col("as_of"), window)
        queries = _before(queries, running, start, ["deficiencies", "serious"], f"@{window}")
    return queries


def _window_counts(at: Callable[[str], pl.Expr], area: str | None) -> list[pl.Expr]:
    """Deficiencies and serious findings decided in each trailing window."""
    counts: list[pl.Expr] = []
    for window in HISTORY_WINDOWS_MONTHS:
        for what in ("deficiencies", "serious"):
            now, start = at(what).fill_null(0.0), at(f"{what}@{window}").fill_null(0.0)
            counts.append((now - start).alias(history_count_name(area, what, window)))
    return counts


def _overall_history(at: Callable[[str], pl.Expr]) -> list[pl.Expr]:
    rows = at("rows").fill_null(0.0)
    as_of = at("as_of")
    return [
        at("inspections").fill_null(0.0).alias("history_inspections"),
        pl.when(rows > 0).then(at("deficient") / rows).alias("history_deficiency_share"),
        (as_of - at("decided")).dt.total_days().cast(pl.Float64).alias("history_days_since_inspection"),
        (as_of - at("last_finding_date"))
        .dt.total_days()
        .cast(pl.Float64)
        .alias("history_days_since_finding"),
        at("last_level").alias("history_last_finding_level"),
        at("last_follow_up").alias("history_last_was_follow_up"),
        *_window_counts(at, None),
    ]


def _area_history(at: Callable[[str], pl.Expr], area: str) -> list[pl.Expr]:
    rows = at("rows")
    return [
        rows.fill_null(0.0).alias(history_area_name(area, "inspections")),
        pl.when(rows > 0).then(at("deficient") / rows).alias(history_area_name(area, "deficiency_share")),
        at("last_deficient").alias(history_area_name(area, "last_deficiency")),
        at("last_level").alias(history_area_name(area, "last_finding_level")),
        *_window_counts(at, area),
    ]


def _overall_totals(units_at: pl.LazyFrame, running: pl.LazyFrame, series: int) -> pl.LazyFrame:
    """Per row of ``units_at``: its unit's decided assessments and deficient ones strictly before
    ``as_of`` (0 when none), every risk area together."""
    return _before(
        units_at.select("unit_key", "as_of", "provider_id")
        .with_columns(series=pl.lit(0, dtype=pl.UInt32))  # every risk area together
        .with_columns(_series_key(series).alias(_SERIES_KEY)),
        running,
        pl.col("as_of"),
        ["rows", "deficient"],
    ).with_columns(pl.col("rows", "deficient").fill_null(0.0))


def provider_deficiency_share(
    units_at: pl.LazyFrame, running: pl.LazyFrame, series: int, *, rows: pl.LazyFrame | None = None
) -> pl.LazyFrame:
    """Per active unit and date (of ``rows``, all when ``None``): the share of deficiencies among
    the earlier decided risk-area assessments of the provider's OTHER active units (null when they
    have none). The provider's totals take every active unit; the unit's own, only the rows'."""
    group = ["provider_id", "as_of"]
    every_unit = _overall_totals(units_at, running, series)
    # whole numbers: the sums are exact in any order
    per_provider = every_unit.group_by(group).agg(
        pl.col("rows").sum().alias("_provider_rows"), pl.col("deficient").sum().alias("_provider_deficient")
    )
    own = every_unit if rows is None else _overall_totals(rows, running, series)
    other_rows = pl.col("_provider_rows") - pl.col("rows")
    other_deficient = pl.col("_provider_deficient") - pl.col("deficient")
    return own.join(per_provider, on=group, how="left", maintain_order="left").select(
        "unit_key",
        "as_of",
        pl.when(other_rows > 0).then(other_deficient / other_rows).alias(PROVIDER_DEFICIENCY_SHARE),
    )


def history_features(
    inspections: pl.LazyFrame,
    units_at: pl.LazyFrame,
    keys: pl.LazyFrame,
    areas: list[str],
    *,
    rows: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """Inspection-history features per (unit_id, as_of) for the active units in ``units_at``.

    Every risk area and all of them together are one series each: accumulated once per decision
    date and looked up at each planning date in the same as-of joins (one per window boundary).
    The provider rollup (the provider's other units' deficiency share) needs every active unit;
    the unit's own history is computed only for ``rows``.

    Parameters
    ----------
    inspections
        The normalised inspections table (one row per inspection and risk area; version-1 tables
        without the finding counts are read with them empty).
    units_at
        Every active unit per planning date (with unit_key and provider_id), sorted by unit_key
        and as_of.
    keys
        unit_id → unit_key (:func:`features.context.unit_keys`).
    areas
        The configured risk areas (one set of per-area columns each).
    rows
        The (unit_key, as_of) rows to return, a subset of ``units_at`` in its order; all of them
        when ``None``.
    """
    series = len(areas) + 1
    running = _running(_by_series(keyed(with_history_columns(inspections), keys), areas)).cache()
    lookups = _lookups(units_at if rows is None else rows, running, series)
    values = [column for column in lookups.collect_schema().names() if column not in _LOOKUP_KEYS]
    # The lookups are ordered by unit, series and date, so series i of the rows in ``units_at``
    # order is the subsequence of series i. Each series' columns are taken once, by name, before any
    # expression uses them: a filter or gather repeated inside one select is hoisted by the in-memory
    # engine's common-subexpression elimination into a full-length context, where its length no
    # longer fits (polars 2.1 panics).
    in_series = [pl.col("series") == index for index in range(series)]
    per_series = lookups.select(
        pl.col("unit_key", "as_of").filter(in_series[0]),
        *[
            pl.col(column).filter(in_series[index]).alias(f"{column}#{index}")
            for index in range(series)
            for column in values
        ],
    )

    def at_series(index: int) -> Callable[[str], pl.Expr]:
        return lambda column: pl.col("as_of") if column == "as_of" else pl.col(f"{column}#{index}")

    own = per_series.select(
        "unit_key",
        "as_of",
        *_overall_history(at_series(0)),
        *[
            expression
            for index, area in enumerate(areas)
            for expression in _area_history(at_series(index + 1), area)
        ],
    )
    return own.join(
        provider_deficiency_share(units_at, running, series, rows=rows),
        on=["unit_key", "as_of"],
        how="left",
        maintain_order="left",
    )
