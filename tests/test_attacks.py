"""Attacks on a fresh install: hostile files, hostile requests, hostile data in the CLI.

Every class of docs/security.md has its cases here; each test states the answer expected. Bounded:
tiny worlds, an in-process API, no sleeps.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import sqlite3
import stat
from pathlib import Path

import httpx
import polars as pl
import pytest
from typer.testing import CliRunner

from api.audit import AuditMiddleware
from api.limits import MAX_BODY_BYTES
from cli import app as cli_app
from engine.config import PlanningSettings, load_config
from engine.ingest import ingest_directory
from engine.pseudonyms import is_pseudonym, provider_pseudonym, pseudonym_key
from engine.scores import ScoreStore
from engine.settings import Settings
from serving.planning import plan_parameters
from serving.plans import PlanStore, make_plan
from tests.api_support import ApiHarness, harness
from tests.ingest_factory import (
    PROVIDER_B,
    REFERENCE_DATE,
    UNIT_1,
    UNIT_3,
    personnummer,
    with_version_2,
    world,
    write_csv,
    write_world,
)
from tests.scores_factory import make_scores

PNR = personnummer("850715", "123")
PNR_DIGITS = PNR.replace("-", "")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("TILLSYNSRISK_HOME", str(home))
    monkeypatch.setenv("COLUMNS", "250")
    return home


def _ingest(src: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli_app, ["ingest", str(src), "--reference-date", "2024-12-31", *args])
    return result.exit_code, result.output


def _rules(src: Path) -> dict[str, str]:
    result = ingest_directory(src, load_config(), reference_date=REFERENCE_DATE)
    return dict(zip(result.failures["rule"], result.failures["severity"], strict=True))


# --- Hostile files --------------------------------------------------------------------------------


def test_mixed_utf8_and_windows_1252_is_an_error_naming_the_rows(tmp_path: Path) -> None:
    # given a complaints file whose rows 3 and 5 were saved as Windows-1252, the rest as UTF-8
    src = write_world(tmp_path / "src", encoding="utf-8")
    path = src / "complaints.csv"
    lines = path.read_bytes().split(b"\r\n")
    for index in (2, 4):
        lines[index] = lines[index].decode("utf-8").replace("på", "på åäö").encode("cp1252")
    lines[1] = lines[1].decode("utf-8").replace("på", "på ÅÄÖ").encode("utf-8")
    path.write_bytes(b"\r\n".join(lines))
    # when it is ingested
    result = ingest_directory(src, load_config(), reference_date=REFERENCE_DATE)
    # then it is rejected as mixed, naming the rows that are not UTF-8
    mixed = result.errors.filter(pl.col("rule") == "mixed_encoding")
    assert mixed.height == 1 and mixed["value"][0] == "rows 3, 5", result.failures


def test_counts_are_bounded(tmp_path: Path) -> None:
    tables = world()
    tables["units"][0]["listed_patients"] = "1212121212"
    rules = _rules(write_world(tmp_path, tables))
    assert rules.get("out_of_range") == "error"


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\x7f", "\x85"], ids=["nul", "escape", "del", "c1"])
def test_control_characters_are_rejected(tmp_path: Path, char: str) -> None:
    tables = world()
    tables["units"][1]["name"] = f"Vårdcentralen{char}Väster"
    rules = _rules(write_world(tmp_path, tables))
    assert rules.get("control_character") == "error"


def test_header_only_event_file_is_a_warning(tmp_path: Path) -> None:
    src = write_world(tmp_path)
    header = world()["lex_maria"][0]
    write_csv(src / "lex_maria.csv", [header], columns=list(header))
    (src / "lex_maria.csv").write_text(";".join(header) + "\r\n", encoding="utf-8")
    result = ingest_directory(src, load_config(), reference_date=REFERENCE_DATE)
    assert result.ok
    empty = result.warnings.filter(pl.col("rule") == "empty_table")
    assert empty["table"].to_list() == ["lex_maria"]


def test_symbolic_link_out_of_the_source_folder_is_refused(tmp_path: Path) -> None:
    # given units.csv in the source folder is a link to a file elsewhere
    src = write_world(tmp_path / "src")
    outside = tmp_path / "elsewhere" / "units.csv"
    outside.parent.mkdir()
    (src / "units.csv").rename(outside)
    (src / "units.csv").symlink_to(outside)
    # when ingested, then it is refused (and a link inside the folder is fine)
    assert _rules(src).get("link_outside_source") == "error"
    os.replace(outside, src / "units-real.csv")
    (src / "units.csv").unlink()
    (src / "units.csv").symlink_to(src / "units-real.csv")
    assert "link_outside_source" not in _rules(src)


def test_personnummer_as_a_column_name_is_masked_everywhere(tmp_path: Path, home: Path) -> None:
    tables = world()
    for row in tables["providers"]:
        row[PNR] = "x"
    src = write_world(tmp_path / "src", tables)
    code, output = _ingest(src, "--report", str(tmp_path / "report.json"))
    report = (tmp_path / "report.json").read_text(encoding="utf-8")
    assert code == 1 and "personal_data" in report
    for text in (output, report):
        assert PNR not in text and PNR_DIGITS not in text
    assert not (home / "snapshots").exists() or not any((home / "snapshots").iterdir())


def test_unknown_unit_failures_mask_the_unit_id(tmp_path: Path) -> None:
    tables = world()
    tables["lex_maria"][0]["unit_id"] = f"SE{PNR_DIGITS}-x"
    result = ingest_directory(write_world(tmp_path, tables), load_config(), reference_date=REFERENCE_DATE)
    assert "unknown_unit" in result.errors["rule"].to_list()
    assert PNR_DIGITS not in result.failures.write_json()


def test_sole_trader_is_stored_under_a_keyed_pseudonym_in_every_table(tmp_path: Path, home: Path) -> None:
    # given a sole trader (organisationsnummer = personnummer) owning a unit
    tables = world()
    tables["providers"].append({"provider_id": PNR_DIGITS, "name": "Doktor Berg", "ownership": "private"})
    tables["units"][2]["provider_id"] = PNR_DIGITS
    src = write_world(tmp_path / "src", tables)
    # when ingested twice
    first_code, first_output = _ingest(src)
    assert first_code == 0, first_output
    snapshot_dir = next(path for path in (home / "snapshots").iterdir() if path.is_dir())
    # then the number is stored nowhere, the unit points at the provider's pseudonym, the key is private
    assert first_code == 0, first_output
    providers = pl.read_parquet(snapshot_dir / "providers.parquet")
    units = pl.read_parquet(snapshot_dir / "units.parquet")
    assert PNR_DIGITS not in providers["provider_id"].to_list() + units["provider_id"].to_list()
    key_file = Settings().pseudonym_key_file
    pseudonym = provider_pseudonym(pseudonym_key(key_file), PNR_DIGITS)
    assert is_pseudonym(pseudonym) and pseudonym in providers["provider_id"].to_list()
    assert units.filter(pl.col("name") == tables["units"][2]["name"])["provider_id"].item() == pseudonym
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert not key_file.is_relative_to(snapshot_dir)
    assert _ingest(src)[0] == 0, "the same key gives the same pseudonym (the snapshot is reused)"
    assert len([path for path in (home / "snapshots").iterdir() if path.is_dir()]) == 1


def _sole_trader_world(number: str) -> dict[str, list[dict[str, str]]]:
    """The version-2 world with unit 3 owned by a sole trader ``number``: the number is its
    provider_id and inside its HSA-id, in every table that names the unit."""
    tables = with_version_2(world())
    tables["inspections"].append(tables["inspections"][0] | {"inspection_id": "I2", "unit_id": UNIT_3})
    tables["visits"] = [
        {"patient_pseudonym": f"p-{index}", "unit_id": UNIT_3, "clinician_pseudonym": "c1",
         "profession": "lakare", "visit_date": "2024-02-01"}
        for index in range(3)
    ]  # fmt: skip
    sole_unit = f"SE{number}-vc3"
    for rows in tables.values():
        for row in rows:
            row.update({key: sole_unit for key, value in row.items() if value == UNIT_3})
            row.update(
                {key: number for key, value in row.items() if key == "provider_id" and value == PROVIDER_B}
            )
    return tables


def test_a_sole_traders_units_are_stored_under_the_pseudonym_in_every_table(
    tmp_path: Path, home: Path
) -> None:
    # given a sole trader whose HSA-id carries its organisationsnummer (= the owner's personnummer)
    tables = _sole_trader_world(PNR_DIGITS)
    src = write_world(tmp_path / "src", tables)
    # when it is ingested (twice: the same key gives the same pseudonym)
    code, output = _ingest(src, "--report", str(tmp_path / "report.json"))
    assert code == 0, output
    assert _ingest(src)[0] == 0
    snapshots = [path for path in (home / "snapshots").iterdir() if path.is_dir()]
    assert len(snapshots) == 1, "re-ingest must give the same snapshot (the same pseudonyms)"
    # then every table names the unit by SE<pseudonym>-vc3, joins on it, and holds no number
    pseudonym = provider_pseudonym(pseudonym_key(Settings().pseudonym_key_file), PNR_DIGITS)
    stored = {path.stem: pl.read_parquet(path) for path in snapshots[0].glob("*.parquet")}
    units = stored["units"]
    assert units.filter(pl.col("unit_id") == f"SE{pseudonym}-vc3")["provider_id"].to_list() == [pseudonym]
    sole_unit = f"SE{PNR_DIGITS}-vc3"
    named = {
        name
        for name, rows in tables.items()
        if name != "units" and any(sole_unit in row.values() for row in rows)
    }
    assert {"complaints", "availability", "continuity", "inspections", "visits", "attributes"} <= named
    for name in named:
        unit_ids = stored[name]["unit_id"]
        assert f"SE{pseudonym}-vc3" in unit_ids.to_list(), f"{name} lost the sole trader's unit"
        assert unit_ids.is_in(units["unit_id"].implode()).all(), (
            f"{name} does not join units on the pseudonym"
        )
    for name, frame in stored.items():
        assert PNR_DIGITS not in frame.write_csv(), f"the number survived in {name}"
    report = (tmp_path / "report.json").read_text(encoding="utf-8")
    assert PNR_DIGITS not in report and PNR not in report and PNR_DIGITS not in output
    assert "pseudonymised_identifier" in report


def test_a_sole_traders_unit_without_a_key_is_an_error_that_does_not_echo_it(tmp_path: Path) -> None:
    tables = _sole_trader_world(PNR_DIGITS)
    result = ingest_directory(write_world(tmp_path, tables), load_config(), reference_date=REFERENCE_DATE)
    assert "personal_data" in result.errors["rule"].to_list()
    assert PNR_DIGITS not in result.failures.write_json()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_duplicate_column_name_holding_a_number_is_a_masked_failure(
    tmp_path: Path, home: Path, fmt: str
) -> None:
    # given a units file with two columns named by one personnummer (spaces around the second)
    src = write_world(tmp_path / "src")
    units = pl.read_csv(src / "units.csv", separator=";", infer_schema=False)
    units = units.with_columns(pl.lit("x").alias(PNR), pl.lit("y").alias(f" {PNR} "))
    (src / "units.csv").unlink()
    if fmt == "csv":
        units.write_csv(src / "units.csv", separator=";")
    else:
        units.write_parquet(src / "units.parquet")
    # when it is ingested
    code, output = _ingest(src, "--report", str(tmp_path / "report.json"))
    # then it is a failure row of the units file, with the number masked, and no traceback
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    duplicate = [row for row in report["failures"] if row["rule"] == "duplicate_column"]
    assert code == 1 and "Traceback" not in output, output
    assert duplicate and duplicate[0]["file"] == f"units.{fmt}", report["failures"]
    assert "<personnummer>" in json.dumps(duplicate[0], ensure_ascii=False), duplicate[0]
    for text in (output, json.dumps(report, ensure_ascii=False)):
        assert PNR not in text and PNR_DIGITS not in text


def test_the_report_masks_a_column_name_in_subscript_digits(tmp_path: Path, home: Path) -> None:
    # given a column named by a personnummer written in subscript digits
    subscript = "".join(chr(0x2080 + int(char)) if char.isdigit() else char for char in PNR)
    tables = world()
    for row in tables["providers"]:
        row[subscript] = "x"
    src = write_world(tmp_path / "src", tables)
    # when it is ingested with a report
    code, output = _ingest(src, "--report", str(tmp_path / "report.json"))
    report = (tmp_path / "report.json").read_text(encoding="utf-8")
    # then it is rejected and the name is masked in the report and the output
    assert code == 1 and "personal_data" in report
    assert subscript not in report and subscript not in output, "the subscript number was echoed"


# --- Hostile requests -----------------------------------------------------------------------------


@pytest.fixture
def api(tmp_path: Path) -> ApiHarness:
    return harness(tmp_path / "home")


def test_concurrent_identical_plans_never_fail(api: ApiHarness) -> None:
    # given 25 identical plan requests sent at once from one asyncio client
    async def burst() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=api.client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            body = {"capacity": 5, "seed": 7}
            return await asyncio.gather(
                *(client.post("/v1/plans", json=body, headers=api.auth()) for _ in range(25))
            )

    # (in a thread of its own: the session's shared browser keeps Playwright's event loop set on this one)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        responses = pool.submit(asyncio.run, burst()).result()
    # then every one is answered 201 with the same plan
    assert [response.status_code for response in responses] == [201] * 25
    assert len({response.json()["plan_id"] for response in responses}) == 1
    assert not list(api.settings.plans_dir.glob(".*")), "no temporary file is left behind"


def _audit_rows(api: ApiHarness) -> list[tuple[object, ...]]:
    api.client.app.state.tillsynsrisk.audit.flush()  # type: ignore[attr-defined]
    with sqlite3.connect(api.settings.audit_db) as connection:
        return connection.execute("SELECT path, query, resource_ids FROM audit_log").fetchall()


def test_audit_log_keeps_no_secret_and_no_personnummer(api: ApiHarness) -> None:
    api.client.get(
        f"/v1/candidates?api_key={api.keys['all']}&access_token=secret-token&risk_area=tillganglighet&limit=5",
        headers=api.auth(),
    )
    api.client.get(f"/v1/candidates?q={PNR}&{PNR_DIGITS}=1", headers=api.auth())
    api.client.get(f"/v1/units/SE{PNR_DIGITS}-x", headers=api.auth())
    api.client.get(f"/v1/{PNR}", headers=api.auth())
    rows = _audit_rows(api)
    dumped = json.dumps(rows)
    assert api.keys["all"] not in dumped and "secret-token" not in dumped
    assert PNR not in dumped and PNR_DIGITS not in dumped
    assert rows[0][:2] == ("/v1/candidates", "api_key&access_token&risk_area=tillganglighet&limit=5")
    assert rows[2][0] == "/v1/units/{unit_id}", "the path template, not the path"
    assert stat.S_IMODE(api.settings.audit_db.stat().st_mode) == 0o600


def test_unauthenticated_flood_cannot_grow_the_audit_log_without_bound(api: ApiHarness) -> None:
    # given the audit middleware's clock stopped (the flood takes no time: no token is refilled)
    now = [1000.0]
    audit = next(item for item in api.client.app.user_middleware if item.cls is AuditMiddleware)  # type: ignore[attr-defined]
    audit.kwargs["clock"] = lambda: now[0]
    # when 300 requests without a key arrive, each with a 30 KB query
    query = "x=" + "a" * 30_000
    for _ in range(300):
        api.client.get(f"/v1/candidates?{query}")
    rows = _audit_rows(api)
    # then the burst (200) is logged, the rest counted, and no row holds the query
    assert len(rows) == 200, "unauthenticated requests above the rate are counted, not logged"
    assert max(len(json.dumps(row)) for row in rows) < 600, "a row never holds the 30 KB query"
    # and one second later the next one is logged with the count of those dropped
    now[0] += 1.0
    api.client.get("/v1/candidates")
    assert json.loads(str(_audit_rows(api)[-1][2])) == {"suppressed": "100"}


def test_no_filesystem_path_in_any_response(tmp_path: Path) -> None:
    bare = harness(tmp_path / "bare", publish=False)
    ready = bare.client.get("/readyz")
    assert ready.status_code == 503 and str(tmp_path) not in ready.text
    api = harness(tmp_path / "home")
    missing = api.client.post(
        "/v1/plans", json={"capacity": 2, "seed": 1, "score_id": "20250101-abcdef"}, headers=api.auth()
    )
    assert missing.status_code == 404 and str(tmp_path) not in missing.text
    assert "20250101-abcdef" not in missing.text, "the score_id is not echoed"


def test_request_body_is_size_limited(api: ApiHarness) -> None:
    big = b'{"capacity": 2, "seed": 1, "score_id": "' + b"a" * (MAX_BODY_BYTES + 10) + b'"}'
    declared = api.client.post(
        "/v1/plans", content=big, headers=api.auth() | {"Content-Type": "application/json"}
    )
    streamed = api.client.post(
        "/v1/plans",
        content=iter([big[:40_000], big[40_000:]]),
        headers=api.auth() | {"Content-Type": "application/json"},
    )
    assert declared.status_code == 413 and len(declared.content) < 1000
    assert streamed.status_code == 413 and len(streamed.content) < 1000


@pytest.mark.parametrize(
    "body",
    [{"capacity": True, "seed": 1}, {"capacity": "20", "seed": 1}, {"capacity": 2, "seed": False}],
    ids=["bool-capacity", "string-capacity", "bool-seed"],
)
def test_plan_request_types_are_strict(api: ApiHarness, body: dict[str, object]) -> None:
    assert api.client.post("/v1/plans", json=body, headers=api.auth()).status_code == 422


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("GET", "/v1/candidates?risk_area=[bold]x[/bold]", None),
        ("GET", "/v1/candidates?risk_area=zzz_unknown", None),
        ("POST", "/v1/plans", {"capacity": 2, "seed": 1, "risk_area": "[/bold]"}),
        ("POST", "/v1/plans", {"capacity": 2, "seed": 1, "risk_area": "zzz_unknown"}),
        ("POST", "/v1/plans", {"capacity": 2, "seed": 1, "score_id": "z" * 5000}),
        ("POST", "/v1/plans", {"capacity": 2, "seed": 1, PNR: 1}),
        ("GET", f"/v1/units/SE{PNR_DIGITS}-x", None),
        ("GET", f"/v1/providers/{PNR_DIGITS}", None),
    ],
    ids=[
        "markup-query",
        "unknown-area",
        "markup-body",
        "unknown-area-body",
        "huge-id",
        "pnr-key",
        "pnr-unit",
        "pnr-provider",
    ],
)
def test_error_details_never_echo_request_values(
    api: ApiHarness, method: str, url: str, body: dict[str, object] | None
) -> None:
    response = api.client.request(method, url, json=body, headers=api.auth())
    assert 400 <= response.status_code < 500
    text = response.text
    for sent in ("[bold]", "[/bold]", "zzz_unknown", "z" * 100, PNR, PNR_DIGITS):
        assert sent not in text, f"{sent[:20]!r} echoed in {text[:300]}"
    assert len(text) < 2000


# --- Hostile data in the CLI ----------------------------------------------------------------------


def _markup_scores() -> pl.DataFrame:
    return make_scores(units=12).with_columns(
        unit_name=pl.lit("[/bold] Vårdcentralen [link=file:///etc/passwd]x[/link]"),
        provider_name=pl.lit("[red]Vårdgivare[/red] [/]"),
    )


def test_score_prints_markup_in_names_and_publishes_last(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cli import score_cmd

    store = ScoreStore(Settings().scores_dir)
    metadata = store.write(
        _markup_scores(),
        model_name="tillsynsrisk",
        model_version="1",
        feature_set_id="fs",
        snapshot_id="snap",
        config_hash="c" * 64,
    )

    # when printing fails (as a crash in any step before publishing would), nothing is published
    def broken(*_: object) -> None:
        raise RuntimeError("printing failed")

    with monkeypatch.context() as patched:
        patched.setattr(score_cmd, "_print_providers", broken)
        with pytest.raises(RuntimeError):
            score_cmd.reported_then_published(store, _markup_scores(), metadata.score_id, True, 90.0)
    assert store.current_id() is None
    # and names with markup print as text, then the snapshot is published
    score_cmd.reported_then_published(store, _markup_scores(), metadata.score_id, True, 90.0)
    assert store.current_id() == metadata.score_id


def test_plan_show_prints_markup_in_names(home: Path) -> None:
    scores = ScoreStore(Settings().scores_dir)
    metadata = scores.write(
        _markup_scores(),
        model_name="m",
        model_version="1",
        feature_set_id="f",
        snapshot_id="s",
        config_hash="c",
    )
    document = make_plan(
        scores.open(metadata.score_id),
        plan_parameters(PlanningSettings(), capacity=3, seed=1, cooldown_months=0),
        inspections=None,
        inspections_snapshot_id=None,
    )
    PlanStore(Settings().plans_dir).save(document)
    shown = CliRunner().invoke(cli_app, ["plan", "show", document["plan_id"]])
    assert shown.exit_code == 0, shown.output
    assert "[/bold] Vårdcentralen" in shown.output and UNIT_1 not in shown.output
