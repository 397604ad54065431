"""Ingest: Swedish exports (CSV/Parquet) in, validated and normalised contract tables out.

:func:`ingest_directory` returns an :class:`IngestResult` with every failure found; the CLI writes the
snapshot (:mod:`engine.snapshots`) only when it has no errors. Rule ids and severities:
:data:`engine.ingest.failures.RULES` and ``docs/data-quality.md``.
"""

from engine.ingest.failures import FAILURE_SCHEMA, RULES, Rule
from engine.ingest.pipeline import IngestResult, ingest_directory

__all__ = ["FAILURE_SCHEMA", "RULES", "IngestResult", "Rule", "ingest_directory"]
