"""Writes a generated world to a directory the way Swedish exports look (the world's only I/O).

CSV: ``;`` separator, decimal comma, UTF-8 with BOM, dates ``YYYY-MM-DD``, indicator periods ``YYYY-MM``,
empty field = null. Parquet (``fmt="parquet"``): typed columns, indicator periods as the first day of the
month. Truth goes to ``truth/`` (always Parquet + JSON): ingest never reads it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import polars as pl

from synthetic.calibration import (
    ALL_FIVE_AREAS_TARGET,
    PROVIDER_DEFICIENCY_TARGETS,
    PROVIDER_SHARE_TOLERANCE,
)
from synthetic.regions import region_profiles
from synthetic.world import World

WorldFormat = Literal["csv", "parquet"]
GENERATOR_VERSION = "2"


def swedish_csv_text(frame: pl.DataFrame) -> str:
    """``frame`` as a Swedish-style CSV (without the BOM; :func:`write_table` adds it)."""
    text = _for_csv(frame).write_csv(
        separator=";", decimal_comma=True, date_format="%Y-%m-%d", null_value="", include_bom=False
    )
    return text


def _for_csv(frame: pl.DataFrame) -> pl.DataFrame:
    if "period" in frame.columns and frame.schema["period"] == pl.Date:
        return frame.with_columns(pl.col("period").dt.strftime("%Y-%m"))
    return frame


def write_table(frame: pl.DataFrame, path: Path, fmt: WorldFormat) -> Path:
    """Write one table as ``path.with_suffix('.csv' | '.parquet')``."""
    if fmt == "csv":
        target = path.with_suffix(".csv")
        _for_csv(frame).write_csv(
            target, separator=";", decimal_comma=True, date_format="%Y-%m-%d", null_value="", include_bom=True
        )
        return target
    if fmt == "parquet":
        target = path.with_suffix(".parquet")
        frame.write_parquet(target, statistics=False)
        return target
    raise ValueError(f"unknown format {fmt!r}; allowed: ['csv', 'parquet']")


def params_document(world: World) -> dict[str, object]:
    """truth/params.json: the seed, every parameter and the calibration targets."""
    return {
        "generator_version": GENERATOR_VERSION,
        "seed": world.params.seed,
        "params": world.params.model_dump(mode="json"),
        "calibration_targets": {
            "provider_deficiency_share": PROVIDER_DEFICIENCY_TARGETS,
            "all_five_areas_provider_share": ALL_FIVE_AREAS_TARGET,
            "provider_share_tolerance": PROVIDER_SHARE_TOLERANCE,
            "regions": [
                {
                    "code": p.code,
                    "named_doctor_share_2024": p.named_doctor_share,
                    "assessment_3d_share_2024": p.assessment_2024,
                    "phone_same_day_share_2024": p.phone_2024,
                }
                for p in region_profiles()
            ],
        },
        "row_numbering": "spreadsheet: header row 1, first data record row 2 (Parquet as well)",
    }


def write_world(world: World, out: Path, fmt: WorldFormat = "csv") -> list[Path]:
    """Write every table, the truth and (with faults) truth/faults.json under ``out``; return the paths."""
    out.mkdir(parents=True, exist_ok=True)
    truth_dir = out / "truth"
    truth_dir.mkdir(exist_ok=True)
    written = [write_table(frame, out / name, fmt) for name, frame in world.tables.items()]
    for name, frame in world.truth.items():
        target = truth_dir / f"{name}.parquet"
        frame.write_parquet(target, statistics=False)
        written.append(target)
    params_path = truth_dir / "params.json"
    params_path.write_text(
        json.dumps(params_document(world), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    written.append(params_path)
    faults_path = truth_dir / "faults.json"
    if world.params.with_faults:
        faults = [fault.to_dict() for fault in world.faults]
        faults_path.write_text(json.dumps(faults, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(faults_path)
    elif faults_path.exists():
        faults_path.unlink()  # a stale faults.json would describe faults that are not there
    return written
