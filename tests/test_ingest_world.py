"""Round trip with the synthetic world: generate → ingest passes; every injected fault is reported."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from cli import app
from engine.config import load_config
from engine.ingest import ingest_directory
from engine.snapshots import SnapshotStore

SMALL_WORLD = ["--units", "80", "--years", "3", "--end", "2025-12"]
REFERENCE_DATE = "2026-01-31"


def _generate(out: Path, *extra: str) -> Path:
    result = CliRunner().invoke(app, ["generate", "--seed", "11", "--out", str(out), *SMALL_WORLD, *extra])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def faulty_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _generate(tmp_path_factory.mktemp("faulty"), "--faults")


@pytest.mark.parametrize("fmt", ["csv", "parquet"], ids=["csv", "parquet"])
def test_generated_world_ingests_cleanly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str) -> None:
    # given a generated world without faults
    monkeypatch.setenv("TILLSYNSRISK_HOME", str(tmp_path / "home"))
    world = _generate(tmp_path / "world", "--format", fmt, "--visits")
    # when it is ingested
    result = CliRunner().invoke(app, ["ingest", str(world), "--reference-date", REFERENCE_DATE])
    # then it passes (warnings allowed) and every table lands in the snapshot with all its rows
    assert result.exit_code == 0, result.output
    snapshot = SnapshotStore(tmp_path / "home" / "snapshots").open()
    for name in snapshot.table_names():
        source = world / f"{name}.{fmt}"
        expected = (
            pl.read_parquet(source).height
            if fmt == "parquet"
            else pl.scan_csv(source, separator=";").select(pl.len()).collect().item()
        )
        assert snapshot.manifest["tables"][name]["rows"] == expected, f"{name}: rows lost or added"
    assert "visits" in snapshot.table_names()
    errors_in_manifest = [
        item for item in snapshot.manifest["warnings"] if item["rule"] not in ("stopped_reporting",)
    ]
    assert errors_in_manifest == [], f"unexpected warnings on a clean world: {errors_in_manifest}"


def test_every_injected_fault_is_reported_under_its_rule(faulty_world: Path) -> None:
    faults = json.loads((faulty_world / "truth" / "faults.json").read_text(encoding="utf-8"))
    assert faults, "the generator injected no faults"
    result = ingest_directory(
        faulty_world, load_config(), reference_date=pl.Series([REFERENCE_DATE]).str.to_date().item()
    )
    assert not result.ok, "a world with faults must be rejected"
    reported = result.failures
    missing = []
    for fault in faults:
        at = (pl.col("rule") == fault["fault"]) & (pl.col("table") == fault["table"])
        if fault.get("row") is not None:
            at &= pl.col("row") == fault["row"]
        elif fault.get("unit_id") is not None:
            at &= pl.col("unit_id") == fault["unit_id"]
        if reported.filter(at).is_empty():
            missing.append(fault)
    assert missing == [], f"faults not reported under their rule: {missing}\nreported:\n{reported}"
    assert {fault["fault"] for fault in faults} >= {
        "placeholder_value",
        "magnitude_outlier",
        "listed_patients_magnitude",
        "share_in_percent",
        "share_mismatch",
        "stopped_reporting",
        "personal_data",
    }, "the fault set should cover every data-quality rule"


def test_faulty_world_is_rejected_without_echoing_personal_data(
    faulty_world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TILLSYNSRISK_HOME", str(tmp_path / "home"))
    report = tmp_path / "report.json"
    result = CliRunner().invoke(
        app, ["ingest", str(faulty_world), "--reference-date", REFERENCE_DATE, "--report", str(report)]
    )
    assert result.exit_code == 1, result.output
    assert not (tmp_path / "home" / "snapshots").exists(), "a rejected ingest must write nothing"
    complaints = pl.read_csv(faulty_world / "complaints.csv", separator=";", infer_schema=False)
    numbers = complaints["summary"].str.extract_all(r"\d{6,8}[-+]?\d{4}").explode().drop_nulls().to_list()
    assert numbers, "the faulty world should hold a personnummer in a summary"
    for text in (result.output, report.read_text(encoding="utf-8")):
        leaked = [number for number in numbers if number in text]
        assert leaked == [], "a personal identity number was echoed"
