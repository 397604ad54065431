"""Data-quality faults seen in real Swedish reporting, injected on purpose (``--faults``).

Fault ids equal the ingest's data-quality rule ids, so the ingest tests can check each fault is
reported under the right rule. Row numbers use spreadsheet numbering: the header is row 1 and the first
data record row 2 (for Parquet too). One or more of each:

- ``placeholder_value``: an availability denominator set to 999999 (share left empty);
- ``magnitude_outlier``: an availability numerator and denominator 1000× too large, and a continuity
  numerator and denominator 1000× too small (share recomputed), against the unit's own history;
- ``listed_patients_magnitude``: units.listed_patients entered in thousands;
- ``share_in_percent``: a share of 0.88 reported as 88.0;
- ``share_mismatch``: the share typed into the numerator (88 beside share 0.88, denominator ~500);
- ``stopped_reporting``: an active unit's availability rows end ``stop_reporting_months + 2`` months
  before the extract (row is null: the fault is the missing rows);
- ``personal_data``: a Luhn-valid personnummer and a samordningsnummer in complaint summaries (made up
  here: random birth dates and serial numbers, never a real person's).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import polars as pl

from engine.config import Config
from engine.identifiers import luhn_check_digit
from synthetic.structure import Structure

PLACEHOLDER = 999_999
MAGNITUDE = 1000
FAULT_IDS = (
    "placeholder_value",
    "magnitude_outlier",
    "listed_patients_magnitude",
    "share_in_percent",
    "share_mismatch",
    "stopped_reporting",
    "personal_data",
)
# Cells changed together with a fault so that the row is otherwise consistent (not separate faults):
# a placeholder row reports no share; a magnitude slip's share is recomputed from the slipped counts.
COMPANION_COLUMNS: dict[str, tuple[str, ...]] = {
    "placeholder_value": ("share",),
    "magnitude_outlier": ("share",),
}


@dataclass(frozen=True)
class Fault:
    """One injected fault: ``row`` in spreadsheet numbering (header = 1), None for missing rows."""

    fault: str
    table: str
    row: int | None
    column: str
    unit_id: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def inject_faults(
    tables: dict[str, pl.DataFrame], config: Config, structure: Structure, rng: np.random.Generator
) -> tuple[dict[str, pl.DataFrame], list[Fault]]:
    """A copy of ``tables`` with every fault injected, and the list of what was injected where."""
    out = dict(tables)
    faults: list[Fault] = []
    used: set[str] = set()
    availability, continuity = _indicator_tables(config)
    complaints = config.event_sources["complaints"].file
    stop_months = config.quality.stop_reporting_months

    out[availability], fault = _stop_reporting(
        out[availability], availability, stop_months, structure, rng=rng, used=used
    )
    faults.append(fault)
    for fault_id, table, measure, min_denominator in (
        ("placeholder_value", availability, None, 1),
        ("magnitude_outlier", availability, None, 20),
        ("magnitude_outlier", continuity, "named_doctor_share", 8000),
        ("share_in_percent", availability, None, 20),
        ("share_mismatch", availability, "phone_same_day_share", 150),
    ):
        out[table], cell_faults = _cell_fault(
            out[table], fault_id, table, measure=measure, min_denominator=min_denominator, rng=rng, used=used
        )
        faults.extend(cell_faults)
    out["units"], fault = _listed_in_thousands(out["units"], out[continuity], rng, used)
    faults.append(fault)
    for samordning in (False, True):
        out[complaints], fault = _personal_number(out[complaints], complaints, samordning, rng, used)
        faults.append(fault)
    return out, faults


def _indicator_tables(config: Config) -> tuple[str, str]:
    by_measure = {m: s.file for s in config.indicator_sources.values() for m in s.measures}
    return by_measure["phone_same_day_share"], by_measure["named_doctor_share"]


def _pick(candidates: pl.DataFrame, rng: np.random.Generator, used: set[str], what: str) -> dict[str, object]:
    available = candidates.filter(~pl.col("unit_id").is_in(sorted(used)))
    if available.height == 0:
        raise ValueError(f"the world is too small to inject {what}: no eligible row left")
    row = available.row(int(rng.integers(available.height)), named=True)
    used.add(str(row["unit_id"]))
    return row


def _index(row: dict[str, object]) -> int:
    value = row["index"]
    if not isinstance(value, int):
        raise TypeError(f"row index must be an int, got {value!r}")
    return value


def _with_history(frame: pl.DataFrame) -> pl.DataFrame:
    """Indexed rows of units with a long history, away from both ends of that history.

    At least six earlier months (the magnitude rule's own-history minimum) and four later ones; in short
    worlds the bounds shrink with the number of months.
    """
    n_months = frame["period"].n_unique()
    first = min(8, max(n_months - 6, 0))
    return (
        frame.with_row_index("index")
        .with_columns(
            position=pl.int_range(pl.len()).over("unit_id", "measure"),
            history=pl.len().over("unit_id", "measure"),
        )
        .filter(
            (pl.col("history") >= max(first + 5, min(18, n_months)))
            & (pl.col("position") >= first)
            & (pl.col("position") < pl.col("history") - 4)
        )
    )


def _cell_fault(
    frame: pl.DataFrame,
    fault_id: str,
    table: str,
    *,
    measure: str | None,
    min_denominator: int,
    rng: np.random.Generator,
    used: set[str],
) -> tuple[pl.DataFrame, list[Fault]]:
    candidates = _with_history(frame).filter(
        pl.col("denominator") >= min_denominator, pl.col("share").is_not_null()
    )
    if measure is not None:
        candidates = candidates.filter(pl.col("measure") == measure)
    if fault_id == "share_mismatch":
        candidates = candidates.filter((pl.col("share") * 100).round(0).cast(pl.Int64) != pl.col("numerator"))
    row = _pick(candidates, rng, used, fault_id)
    at = pl.int_range(pl.len()).eq(_index(row))
    numerator, denominator, share = pl.col("numerator"), pl.col("denominator"), pl.col("share")
    column = "denominator"
    if fault_id == "placeholder_value":
        updates = {
            "denominator": pl.when(at).then(PLACEHOLDER).otherwise(denominator),
            "share": pl.when(~at).then(share),
        }
    elif fault_id == "magnitude_outlier" and table == "availability":
        updates = {
            "numerator": pl.when(at).then(numerator * MAGNITUDE).otherwise(numerator),
            "denominator": pl.when(at).then(denominator * MAGNITUDE).otherwise(denominator),
        }
    elif fault_id == "magnitude_outlier":
        small_n, small_d = (
            (numerator / MAGNITUDE).round(0).cast(pl.Int64),
            (denominator / MAGNITUDE).round(0).cast(pl.Int64),
        )
        updates = {
            "numerator": pl.when(at).then(small_n).otherwise(numerator),
            "denominator": pl.when(at).then(small_d).otherwise(denominator),
            "share": pl.when(at).then((small_n / small_d).round(2)).otherwise(share),
        }
    elif fault_id == "share_in_percent":
        column, updates = "share", {"share": pl.when(at).then((share * 100).round(1)).otherwise(share)}
    else:
        column = "numerator"
        updates = {"numerator": pl.when(at).then((share * 100).round(0).cast(pl.Int64)).otherwise(numerator)}
    changed = frame.with_columns(**updates).select(frame.columns).cast(frame.schema)  # type: ignore[arg-type]
    row_number = _index(row) + 2
    faults = [Fault(fault_id, table, row_number, column, str(row["unit_id"]))]
    if fault_id == "magnitude_outlier":  # both counts of the row are off
        faults.insert(0, Fault(fault_id, table, row_number, "numerator", str(row["unit_id"])))
    return changed, faults


def _stop_reporting(
    frame: pl.DataFrame,
    table: str,
    stop_months: int,
    structure: Structure,
    *,
    rng: np.random.Generator,
    used: set[str],
) -> tuple[pl.DataFrame, Fault]:
    last_period = structure.month_starts[-1].astype("datetime64[M]")
    cutoff = (last_period - (stop_months + 2) + 1).astype("datetime64[D]").item()
    open_units = set(structure.unit_ids[np.isnat(structure.active_to)].tolist())
    candidates = (
        frame.group_by("unit_id")
        .agg(months=pl.col("period").n_unique(), last=pl.col("period").max())
        .filter(
            pl.col("months") >= min(24, max(structure.n_months - 2, stop_months + 5)),
            pl.col("last") == structure.month_starts[-1].item(),
        )
        .filter(pl.col("unit_id").is_in(sorted(open_units)))
        .sort("unit_id")
    )
    row = _pick(candidates, rng, used, "stopped_reporting")
    kept = frame.filter((pl.col("unit_id") != row["unit_id"]) | (pl.col("period") < cutoff))
    return kept, Fault("stopped_reporting", table, None, "period", str(row["unit_id"]))


def _listed_in_thousands(
    units: pl.DataFrame, continuity: pl.DataFrame, rng: np.random.Generator, used: set[str]
) -> tuple[pl.DataFrame, Fault]:
    reporting = continuity.select(pl.col("unit_id").unique()).to_series()
    candidates = units.with_row_index("index").filter(
        pl.col("active_to").is_null(),
        pl.col("listed_patients") >= 5000,
        pl.col("unit_id").is_in(reporting.implode()),
    )
    row = _pick(candidates, rng, used, "listed_patients_magnitude")
    at = pl.int_range(pl.len()).eq(_index(row))
    listed = pl.col("listed_patients")
    changed = units.with_columns(
        listed_patients=pl.when(at).then((listed / 1000).round(0).cast(pl.Int64)).otherwise(listed)
    )
    return changed, Fault(
        "listed_patients_magnitude", "units", _index(row) + 2, "listed_patients", str(row["unit_id"])
    )


def synthetic_personal_number(rng: np.random.Generator, samordning: bool = False) -> str:
    """A made-up, Luhn-valid personnummer (or samordningsnummer: day + 60) as YYYYMMDD-NNNC."""
    birth = np.datetime64("1940-01-01") + int(rng.integers(0, 65 * 365))
    year, month, day = str(birth).split("-")
    day_field = int(day) + (60 if samordning else 0)
    serial = f"{int(rng.integers(0, 1000)):03d}"
    first_nine = f"{year[2:]}{month}{day_field:02d}{serial}"
    return f"{year}{month}{day_field:02d}-{serial}{luhn_check_digit(first_nine)}"


def _personal_number(
    complaints: pl.DataFrame, table: str, samordning: bool, rng: np.random.Generator, used: set[str]
) -> tuple[pl.DataFrame, Fault]:
    row = _pick(
        complaints.with_row_index("index").filter(pl.col("summary").is_not_null()), rng, used, "personal_data"
    )
    number = synthetic_personal_number(rng, samordning)
    at = pl.int_range(pl.len()).eq(_index(row))
    text = pl.col("summary") + pl.lit(f" Patientens personnummer är {number}.")
    changed = complaints.with_columns(summary=pl.when(at).then(text).otherwise(pl.col("summary")))
    return changed, Fault("personal_data", table, _index(row) + 2, "summary", str(row["unit_id"]))
