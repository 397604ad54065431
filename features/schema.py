"""The pandera schema of the feature table, derived from the catalog (so it follows the config)."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from engine.config import Config
from features.catalog import CONTEXT_COLUMNS, FeatureSpec, feature_catalog
from features.pipeline import feature_columns

_NON_NEGATIVE_UNITS = {"count", "per_10k", "days", "months", "patients", "level"}


def _checks(spec: FeatureSpec) -> list[pa.Check]:
    if spec.unit in _NON_NEGATIVE_UNITS:
        return [pa.Check.ge(0.0)]
    if spec.unit == "share":
        return [pa.Check.in_range(0.0, 1.0)]
    if spec.unit == "flag":
        return [pa.Check.isin([0.0, 1.0])]
    return []


def _column(spec: FeatureSpec) -> pa.Column:
    if spec.kind == "categorical":
        return pa.Column(pl.String, nullable=spec.source != "units")  # units' own columns are required
    return pa.Column(pl.Float64, nullable=True, checks=_checks(spec))


def feature_table_schema(config: Config, *, has_visits: bool = False) -> pa.DataFrameSchema:
    """Schema of ``build_features`` output: key unique, exact column order, per-unit value checks."""
    specs = {spec.name: spec for spec in feature_catalog(config, has_visits=has_visits)}
    columns: dict[str, pa.Column] = {
        "unit_id": pa.Column(pl.String, nullable=False),
        "as_of": pa.Column(pl.Date, nullable=False),
    }
    for name in feature_columns(config, has_visits=has_visits)[2:]:
        if name in specs:
            columns[name] = _column(specs[name])
        elif name in CONTEXT_COLUMNS:
            columns[name] = pa.Column(pl.String, nullable=False)
    return pa.DataFrameSchema(
        columns, name="features", strict=True, ordered=True, unique=["unit_id", "as_of"]
    )
