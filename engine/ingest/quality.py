"""Data-quality rules from real Swedish reporting (``docs/data-quality.md``; thresholds in ``[quality]``).

Each rule compares a value with what the same unit reports elsewhere, because a national threshold
cannot tell a large urban vårdcentral from a count entered in thousands:

- ``placeholder_value``: a count equal to a configured placeholder (999 999) that is also far above
  the unit's own level for that column (a large unit may really have 9 999 calls in a month).
- ``magnitude_outlier``: an indicator count ``magnitude_factor`` times above or below the unit's own
  median for the measure, once the unit has ``magnitude_min_history`` other months.
- ``listed_patients_magnitude``: listed_patients far below the unit's own indicator denominators.
- ``share_in_percent`` / ``share_mismatch``: the reported share against numerator/denominator.
- ``stopped_reporting``: a unit still active that stopped reporting a source.
"""

from __future__ import annotations

import polars as pl

from engine.config import QualitySettings
from engine.ingest.failures import empty_failures, failures_frame
from engine.ingest.readers import ROW_COLUMN

COUNT_COLUMNS = ("numerator", "denominator")


def placeholder_expr(column: str, quality: QualitySettings) -> pl.Expr:
    """Whether ``column`` holds one of the configured placeholder values."""
    return pl.col(column).is_in(quality.placeholder_values).fill_null(False)


def usable_count_expr(column: str, quality: QualitySettings) -> pl.Expr:
    """Whether a count can describe the unit's level: positive and not a placeholder."""
    return (pl.col(column) > 0) & ~placeholder_expr(column, quality)


def with_unit_levels(frame: pl.LazyFrame, quality: QualitySettings) -> pl.LazyFrame:
    """``frame`` with each unit's level per measure: ``__median_<count>`` and ``__count_<count>``
    over its usable values (a group-by joined back: much cheaper than a window median)."""
    levels = frame.group_by("unit_id", "measure").agg(
        *(
            expr
            for column in COUNT_COLUMNS
            for expr in (
                pl.col(column)
                .filter(usable_count_expr(column, quality))
                .median()
                .alias(f"__median_{column}"),
                pl.col(column).filter(usable_count_expr(column, quality)).count().alias(f"__count_{column}"),
            )
        )
    )
    return frame.join(levels, on=["unit_id", "measure"], how="left")


def indicator_placeholder_failures(
    leveled: pl.LazyFrame, table: str, file: str, quality: QualitySettings
) -> pl.LazyFrame:
    """Indicator counts at a placeholder value far above the unit's own level (``leveled``: see
    :func:`with_unit_levels`)."""
    parts = []
    for column in COUNT_COLUMNS:
        typical = pl.col(f"__median_{column}")
        suspicious = placeholder_expr(column, quality) & (
            typical.is_null() | (pl.col(column) > typical * quality.placeholder_context_factor)
        )
        parts.append(
            failures_frame(
                leveled.filter(suspicious),
                table=table,
                file=file,
                rule="placeholder_value",
                column=column,
                value=pl.col(column),
                row=pl.col(ROW_COLUMN),
                unit_id=pl.col("unit_id"),
            )
        )
    return pl.concat(parts)


def magnitude_outlier_failures(
    leveled: pl.LazyFrame, table: str, file: str, quality: QualitySettings
) -> pl.LazyFrame:
    """Indicator counts ``magnitude_factor`` times off the unit's own median for the measure."""
    factor = quality.magnitude_factor
    parts = []
    for column in COUNT_COLUMNS:
        typical = pl.col(f"__median_{column}")
        history = pl.col(f"__count_{column}") - 1  # the other months
        off = (pl.col(column) > typical * factor) | (pl.col(column) < typical / factor)
        flagged = usable_count_expr(column, quality) & (history >= quality.magnitude_min_history) & off
        parts.append(
            failures_frame(
                leveled.filter(flagged.fill_null(False)),
                table=table,
                file=file,
                rule="magnitude_outlier",
                column=column,
                value=pl.format("{} (unit median {})", pl.col(column), typical.round(1)),
                row=pl.col(ROW_COLUMN),
                unit_id=pl.col("unit_id"),
            )
        )
    return pl.concat(parts)


def typical_denominators(indicators: list[pl.LazyFrame], quality: QualitySettings) -> pl.LazyFrame:
    """Per unit: the largest median monthly denominator over all its measures (``reference``)."""
    if not indicators:
        return pl.LazyFrame(schema={"unit_id": pl.String, "reference": pl.Float64})
    rows = pl.concat([frame.select("unit_id", "measure", "denominator") for frame in indicators])
    clean = rows.filter(~placeholder_expr("denominator", quality) & (pl.col("denominator") > 0))
    return (
        clean.group_by("unit_id", "measure")
        .agg(median=pl.col("denominator").median())
        .group_by("unit_id")
        .agg(reference=pl.col("median").max())
    )


def listed_patients_failures(
    units: pl.LazyFrame, reference: pl.LazyFrame, file: str, quality: QualitySettings
) -> pl.LazyFrame:
    """``placeholder_value`` and ``listed_patients_magnitude`` on units.listed_patients."""
    with_reference = units.join(reference, on="unit_id", how="left")
    is_placeholder = placeholder_expr("listed_patients", quality)
    placeholder = is_placeholder & (
        pl.col("reference").is_null()
        | (pl.col("listed_patients") > pl.col("reference") * quality.placeholder_context_factor)
    )
    in_thousands = (
        (pl.col("listed_patients") > 0)
        & (pl.col("listed_patients") * quality.listed_patients_factor < pl.col("reference"))
    ).fill_null(False)
    return pl.concat(
        [
            failures_frame(
                with_reference.filter(placeholder),
                table="units",
                file=file,
                rule="placeholder_value",
                column="listed_patients",
                value=pl.col("listed_patients"),
                row=pl.col(ROW_COLUMN),
                unit_id=pl.col("unit_id"),
            ),
            failures_frame(
                with_reference.filter(in_thousands),
                table="units",
                file=file,
                rule="listed_patients_magnitude",
                column="listed_patients",
                value=pl.format(
                    "{} (monthly denominators up to {})", pl.col("listed_patients"), pl.col("reference")
                ),
                row=pl.col(ROW_COLUMN),
                unit_id=pl.col("unit_id"),
            ),
        ]
    )


def share_ratio_expr() -> pl.Expr:
    """numerator / denominator (null when the denominator is 0 or missing)."""
    return pl.when(pl.col("denominator") > 0).then(pl.col("numerator") / pl.col("denominator"))


def share_in_percent_expr(quality: QualitySettings) -> pl.Expr:
    """Whether the reported share is the ratio written in percent (38.0 for 0.38)."""
    ratio = share_ratio_expr()
    return (
        (pl.col("share") > 1.0) & ((pl.col("share") / 100.0 - ratio).abs() <= quality.share_tolerance)
    ).fill_null(False)


def share_mismatch_expr(quality: QualitySettings) -> pl.Expr:
    """Whether the reported share matches neither the ratio nor the ratio in percent."""
    ratio = share_ratio_expr()
    as_fraction = pl.when(pl.col("share") > 1.0).then(pl.col("share") / 100.0).otherwise(pl.col("share"))
    return ((as_fraction - ratio).abs() > quality.share_tolerance).fill_null(False)


def share_failures(frame: pl.LazyFrame, table: str, file: str, quality: QualitySettings) -> pl.LazyFrame:
    """``share_in_percent`` (warning; stored ÷ 100) and ``share_mismatch`` (error) rows."""
    return pl.concat(
        [
            failures_frame(
                frame.filter(share_in_percent_expr(quality)),
                table=table,
                file=file,
                rule="share_in_percent",
                column="share",
                value=pl.col("share"),
                row=pl.col(ROW_COLUMN),
                unit_id=pl.col("unit_id"),
            ),
            failures_frame(
                frame.filter(share_mismatch_expr(quality)),
                table=table,
                file=file,
                rule="share_mismatch",
                column="numerator",
                value=pl.format(
                    "numerator={}, denominator={}, share={}",
                    pl.col("numerator"),
                    pl.col("denominator"),
                    pl.col("share"),
                ),
                row=pl.col(ROW_COLUMN),
                unit_id=pl.col("unit_id"),
            ),
        ]
    )


def with_share_as_fraction(frame: pl.LazyFrame, quality: QualitySettings) -> pl.LazyFrame:
    """``frame`` with shares reported in percent divided by 100 (the contract stores fractions)."""
    return frame.with_columns(
        share=pl.when(share_in_percent_expr(quality)).then(pl.col("share") / 100.0).otherwise(pl.col("share"))
    )


def stopped_reporting_failures(
    frame: pl.LazyFrame, units: pl.LazyFrame, table: str, file: str, quality: QualitySettings
) -> pl.LazyFrame:
    """Units still active at the source's last month whose own last month is ``stop_reporting_months``
    or more before it (one warning per unit, no row)."""
    last_month = pl.col("period").max()
    per_unit = frame.group_by("unit_id").agg(last=last_month)
    source_last = frame.select(source_last=last_month)
    months = pl.col("source_last").dt.year() * 12 + pl.col("source_last").dt.month()
    gap = months - (pl.col("last").dt.year() * 12 + pl.col("last").dt.month())
    stopped = (
        per_unit.join(source_last, how="cross")
        .join(units.select("unit_id", "active_to"), on="unit_id", how="inner")
        .filter(
            (gap >= quality.stop_reporting_months)
            & (pl.col("active_to").is_null() | (pl.col("active_to") >= pl.col("source_last")))
        )
        .sort("unit_id")
    )
    return failures_frame(
        stopped,
        table=table,
        file=file,
        rule="stopped_reporting",
        column="period",
        value=pl.format(
            "last reported {}, source reported through {}",
            pl.col("last").dt.strftime("%Y-%m"),
            pl.col("source_last").dt.strftime("%Y-%m"),
        ),
        unit_id=pl.col("unit_id"),
    )


def indicator_quality_failures(
    frame: pl.LazyFrame, units: pl.LazyFrame | None, table: str, file: str, quality: QualitySettings
) -> pl.LazyFrame:
    """Every quality rule on one indicator table."""
    leveled = with_unit_levels(frame, quality)
    parts = [
        indicator_placeholder_failures(leveled, table, file, quality),
        magnitude_outlier_failures(leveled, table, file, quality),
        share_failures(frame, table, file, quality),
    ]
    if units is not None:
        parts.append(stopped_reporting_failures(frame, units, table, file, quality))
    return pl.concat(parts) if parts else empty_failures()
