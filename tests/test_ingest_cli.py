"""``tillsynsrisk ingest`` and ``snapshot show|list`` end to end: exit codes, atomicity, reports, no leaks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from cli import app
from tests.ingest_factory import UNIT_1, UNIT_2, UNIT_3, personnummer, world, write_world

REFERENCE = ["--reference-date", "2024-12-31"]
PNR = personnummer("771103", "558")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("TILLSYNSRISK_HOME", str(home))
    monkeypatch.delenv("TILLSYNSRISK_CONFIG", raising=False)
    monkeypatch.setenv("COLUMNS", "250")  # rich wraps to the terminal width
    return home


def _ingest(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["ingest", *args, *REFERENCE])
    return result.exit_code, result.output


def _state(home: Path) -> tuple[list[str], str | None]:
    root = home / "snapshots"
    entries = sorted(os.listdir(root)) if root.exists() else []
    current = (root / "CURRENT").read_text() if (root / "CURRENT").exists() else None
    return entries, current


def test_ingest_writes_a_current_snapshot_and_show_summarises_it(tmp_path: Path, home: Path) -> None:
    code, output = _ingest(str(write_world(tmp_path / "src")))
    assert code == 0, output
    entries, current = _state(home)
    assert current is not None and current.strip() in entries
    shown = CliRunner().invoke(app, ["snapshot", "show"])
    assert shown.exit_code == 0, shown.output
    for expected in (current.strip(), "config hash", "availability", "units", "(current)", "No warnings"):
        assert expected in shown.output, f"{expected!r} missing from snapshot show:\n{shown.output}"
    listed = CliRunner().invoke(app, ["snapshot", "list"])
    assert current.strip() in listed.output


def test_same_input_gives_the_same_snapshot_id(tmp_path: Path, home: Path) -> None:
    source = str(write_world(tmp_path / "src"))
    assert _ingest(source)[0] == 0
    first = _state(home)
    assert _ingest(source)[0] == 0
    assert _state(home) == first, "re-ingesting the same files must reuse the snapshot"


def test_failing_ingest_writes_nothing_and_keeps_the_previous_snapshot(tmp_path: Path, home: Path) -> None:
    # given a current snapshot
    assert _ingest(str(write_world(tmp_path / "good")))[0] == 0
    before = _state(home)
    # when a broken source is ingested
    tables = world()
    tables["complaints"][0]["category"] = "okand"
    tables["units"][1]["region_code"] = "99"
    report = tmp_path / "out" / "report.json"
    code, output = _ingest(str(write_world(tmp_path / "bad", tables)), "--report", str(report))
    # then it exits 1, nothing changes, no temp dirs remain, the old snapshot is still readable
    assert code == 1, output
    assert _state(home) == before
    assert not [name for name in before[0] if name.startswith(".tmp")]
    assert "invalid_value" in output and "complaints.csv" in output and "nothing was written" in output
    shown = CliRunner().invoke(app, ["snapshot", "show"])
    assert shown.exit_code == 0 and before[1].strip() in shown.output
    payload = json.loads(report.read_text(encoding="utf-8"))
    assert payload["ok"] is False and payload["errors"] == 3, (
        "region 99: invalid value + municipality mismatch"
    )
    assert {(item["file"], item["row"]) for item in payload["failures"]} == {
        ("complaints.csv", 2),
        ("units.csv", 3),
    }


def test_thousands_of_failures_are_truncated_with_counts_per_rule(tmp_path: Path, home: Path) -> None:
    tables = world()
    for row in tables["availability"]:
        row["measure"] = "okand"
        row["numerator"] = "x"
    report = tmp_path / "report.json"
    code, output = _ingest(str(write_world(tmp_path / "src", tables)), "--report", str(report))
    assert code == 1
    assert "failures by rule" in output and "--report" in output
    assert output.count("availability.csv") < 40, "the terminal table must be truncated"
    failures = json.loads(report.read_text())["failures"]
    per_cell = [item for item in failures if item["rule"] in ("invalid_value", "unparseable_value")]
    assert len(per_cell) == 2 * len(tables["availability"]), "the JSON report must hold every failure"


@pytest.mark.parametrize(
    "args",
    [["/no/such/dir"], ["{src}", "--reference-date", "31/12/2024"]],
    ids=["missing-directory", "bad-reference-date"],
)
def test_usage_errors_exit_2(tmp_path: Path, home: Path, args: list[str]) -> None:
    source = str(write_world(tmp_path / "src"))
    result = CliRunner().invoke(app, ["ingest", *[arg.format(src=source) for arg in args]])
    assert result.exit_code == 2, result.output
    assert not (home / "snapshots").exists()


def test_personnummer_never_reaches_output_report_or_snapshot(tmp_path: Path, home: Path) -> None:
    tables = world()
    tables["complaints"][2]["summary"] = f"Patient {PNR} klagar"
    source = str(write_world(tmp_path / "src", tables))
    digits = PNR.replace("-", "")
    # rejected: the row is named, the number is not
    report = tmp_path / "report.json"
    code, output = _ingest(source, "--report", str(report))
    assert code == 1 and "personal_data" in output
    for text in (output, report.read_text(encoding="utf-8")):
        assert PNR not in text and digits not in text, "the number leaked"
    # redacted: the snapshot holds the redaction text, not the number
    code, output = _ingest(source, "--redact", "--report", str(report))
    assert code == 0, output
    snapshot_dir = home / "snapshots" / _state(home)[1].strip()
    for path in snapshot_dir.iterdir():
        data = path.read_bytes()
        assert PNR.encode() not in data and digits.encode() not in data, f"number in {path.name}"
        if path.suffix == ".parquet":  # compressed: check the decoded values too
            text = pl.read_parquet(path).select(pl.all().cast(pl.String)).write_csv()
            assert PNR not in text and digits not in text, f"number in the values of {path.name}"
    manifest = json.loads((snapshot_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["redacted"] is True
    assert [item["count"] for item in manifest["warnings"] if item["rule"] == "personal_data"] == [1]
    shown = CliRunner().invoke(app, ["snapshot", "show"])
    assert "personal_data" in shown.output and PNR not in shown.output


def test_snapshot_show_without_snapshot_fails_cleanly(home: Path) -> None:
    result = CliRunner().invoke(app, ["snapshot", "show"])
    assert result.exit_code == 1
    assert "no current snapshot" in result.output


def test_narrow_terminal_lists_hints_below_the_table(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    tables = world()
    tables["units"][1]["listed_patients"] = "12,5"
    code, output = _ingest(str(write_world(tmp_path / "src", tables)))
    assert code == 1
    assert "units.csv:3" in output, output
    assert "unparseable_value: expected a whole number" in output, output


def test_warning_sample_shows_file_row_and_unit_and_prefers_distinct_examples(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a 120-column terminal and a world whose availability warns on many rows: six of one unit's
    # shares in percent with the same value, and one with another value after them
    monkeypatch.setenv("COLUMNS", "120")
    tables = world()
    rows = tables["availability"]
    same = [i for i, row in enumerate(rows) if row["unit_id"] == UNIT_1 and row["share"] == "0,8800"][:6]
    other = next(i for i, row in enumerate(rows) if i > same[-1] and row["share"] == "0,8100")
    for index in same:
        rows[index]["share"] = "88,0"
    rows[other]["share"] = "81,0"
    # and two units that stopped reporting continuity months before the others (a warning per unit, no row)
    stopped = ("2024-03", "2024-04", "2024-05", "2024-06")
    tables["continuity"] = [
        row for row in tables["continuity"] if row["unit_id"] == UNIT_1 or row["period"] not in stopped
    ]

    # when ingesting
    code, output = _ingest(str(write_world(tmp_path / "src", tables)))

    # then the sample names file and row, and the unit, of each warning, and no two lines are the same
    assert code == 0, output
    lines = [line for line in output.splitlines() if "availability.csv:" in line or "continuity.csv" in line]
    assert len(lines) == len(set(lines)), "the sample repeats a warning:\n" + "\n".join(lines)
    assert any(f"availability.csv:{other + 2} " in line for line in lines), (
        f"the sample must show the one distinct share (row {other + 2}) before repeats:\n{output}"
    )
    assert all(UNIT_1 in line for line in lines if "availability.csv:" in line), f"unit missing:\n{output}"
    stopped_lines = [line for line in lines if "continuity.csv" in line]
    assert [unit for unit in (UNIT_2, UNIT_3) if any(unit in line for line in stopped_lines)] == [
        UNIT_2,
        UNIT_3,
    ], f"each stopped unit must be named:\n{output}"
