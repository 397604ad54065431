"""No personnummer survives anywhere, end to end, on a tiny hand-made world.

Hypothesis writes personnummer (any century form, separators, grouping, split forms, invisible
characters between the digits, Unicode digits) into every string column of every table and into a
column name, as CSV (UTF-8 and Windows-1252) and Parquet. Rejected ingests must not echo them (report,
output, logs); an accepted ingest (free text redacted, a sole trader's provider id and the HSA-id of
its unit pseudonymised) must not store them, and nothing built from it — snapshot, feature table,
scores, plan, audit log, API responses, web pages, CSV exports, CLI output, logs — may hold them.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import sqlite3
import tempfile
from pathlib import Path
from urllib.parse import quote

import polars as pl
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from api.main import create_app
from api.security import SCOPES, ApiKeyStore
from cli import app as cli_app
from engine.identifiers import luhn_check_digit
from engine.personal_data import digit_value, is_ignorable, is_separator
from engine.scores import EXPLANATION_DTYPE, OVERALL, ScoreStore, ranked_scores
from engine.settings import Settings
from tests.ingest_factory import UNIT_3, Rows, world, write_csv
from tests.test_personal_data import written_personal_numbers
from tests.test_personal_data_forms import written_numbers

FORMATS = [("csv", "utf-8-sig"), ("csv", "cp1252"), ("parquet", None)]
AREAS = ("personcentrering", "tillganglighet", "samverkan", "kontinuitet", "systematiskt_kvalitetsarbete")
_SAFE_TEXT = st.text(alphabet="abc åäö ÅÄÖ,.:!", max_size=12)


def _digits_only(text: str) -> str:
    """The digits of ``text`` as the detector reads them: invisible characters and separators dropped."""
    return "".join(
        digit_value(char) or ("" if is_separator(char) or is_ignorable(char) else "|") for char in text
    )


def _leaks(texts: dict[str, str], numbers: list[str]) -> list[str]:
    """Where any of ``numbers`` (ten digits) appears in any written form."""
    digits = {where: _digits_only(text) for where, text in texts.items()}  # once per text, not per number
    return [
        f"{where}: {number[:2]}… " + text[max(0, digits[where].find(number) - 200) :][:300]
        for where, text in texts.items()
        for number in numbers
        if number in digits[where]
    ]


def _write(directory: Path, tables: dict[str, Rows], fmt: tuple[str, str | None]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    kind, encoding = fmt
    for name, rows in tables.items():
        columns = list(dict.fromkeys(column for row in rows for column in row))
        if kind == "parquet":
            frame = pl.DataFrame({column: [row.get(column, "") for row in rows] for column in columns})
            frame.write_parquet(directory / f"{name}.parquet")
        else:
            write_csv(directory / f"{name}.csv", rows, encoding=encoding or "utf-8", columns=columns)
    return directory


def _tables_text(root: Path) -> dict[str, str]:
    """Every file under ``root`` as text: Parquet as CSV, SQLite as its SQL dump, the rest decoded."""
    texts = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.parent.name == "keys":
            continue
        if path.suffix == ".parquet":
            texts[str(path)] = pl.read_parquet(path).write_ndjson()
        elif path.suffix == ".sqlite3":
            with sqlite3.connect(path) as connection:
                texts[str(path)] = "\n".join(connection.iterdump())
        elif path.suffix not in {".sqlite3-wal", ".sqlite3-shm"}:
            texts[str(path)] = path.read_bytes().decode("utf-8", errors="replace")
    return texts


def _scores_from_snapshot(snapshot: Path, as_of: dt.date) -> pl.DataFrame:
    """A scores frame for the snapshot's units, as the scoring job would lay it out (no model)."""
    units = pl.read_parquet(snapshot / "units.parquet")
    providers = pl.read_parquet(snapshot / "providers.parquet").rename({"name": "provider_name"})
    base = units.rename({"name": "unit_name"}).join(providers, on="provider_id")
    rows = []
    for index, unit in enumerate(base.iter_rows(named=True)):
        for offset, area in enumerate((*AREAS, OVERALL)):
            p = 0.1 + 0.05 * ((index + offset) % 7)
            rows.append(
                {key: unit[key] for key in ("unit_id", "unit_name", "provider_id", "provider_name")}
                | {key: unit[key] for key in ("region_code", "municipality_code", "unit_type", "ownership")}
                | {"listed_patients": unit["listed_patients"], "as_of": as_of, "risk_area": area}
                | {"p_deficiency": p, "p_serious": p / 5, "explanations": []}
            )
    frame = pl.DataFrame(rows, schema_overrides={"explanations": pl.List(EXPLANATION_DTYPE)})
    return ranked_scores(frame.lazy()).collect()


def _web_pages(client: TestClient, key: str, items: list[dict[str, str]], plan_id: str) -> dict[str, str]:
    """Every page a planner reads about these units, signed in with ``key``, and the plan's CSV exports."""
    form = client.get("/logga-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None, form.text
    signed = client.post("/logga-in", data={"api_key": key, "next": "/", "csrf_token": token.group(1)})
    assert signed.status_code == 200, signed.text
    urls = ["/", "/kandidater", "/planera", f"/planer/{plan_id}", f"/planer/{plan_id}/plan.csv"]
    urls += [f"/planer/{plan_id}/inspections.csv"]
    urls += [f"/enheter/{item['unit_id']}" for item in items]
    urls += [f"/vardgivare/{item['provider_id']}" for item in items]
    pages = {f"page {url}": client.get(url) for url in urls}
    assert all(page.status_code == 200 for page in pages.values()), {
        url: page.status_code for url, page in pages.items()
    }
    return {url: page.text for url, page in pages.items()}


def _sole_trader_number(born: dt.date, serial: int) -> str:
    first_nine = f"{born:%y%m%d}{serial:03d}"
    return first_nine + str(luhn_check_digit(first_nine))


@pytest.mark.parametrize("fmt", FORMATS, ids=["csv-utf8", "csv-cp1252", "parquet"])
@settings(
    max_examples=2,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # no shrinking: each example is a whole run
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_personnummer_survives_anywhere(
    fmt: tuple[str, str | None],
    data: st.DataObject,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    encodable = fmt[1] if fmt[0] == "csv" else None

    def number_in_text(controls: bool = True) -> tuple[str, str]:
        if data.draw(st.booleans()):
            written, ten, _ = data.draw(written_personal_numbers(encodable=encodable, controls=controls))
        else:  # split forms, punctuation, invisible characters, Unicode digits
            written, ten, _ = data.draw(written_numbers(encodable=encodable, csv_safe=fmt[0] == "csv"))
        return f"{data.draw(_SAFE_TEXT)} {written} {data.draw(_SAFE_TEXT)}".strip(), ten

    runner = CliRunner()
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        monkeypatch.setenv("TILLSYNSRISK_HOME", str(root / "home"))
        monkeypatch.setenv("COLUMNS", "250")
        numbers: list[str] = []

        # Given every string column of every table (and a column name) holding a number: rejected, unechoed
        hostile = world()
        hostile["visits"] = [
            {
                "patient_pseudonym": f"p-{index}",
                "unit_id": hostile["units"][0]["unit_id"],
                "clinician_pseudonym": "c1",
                "profession": "lakare",
                "visit_date": "2024-02-01",
            }
            for index in range(2)
        ]
        for rows in hostile.values():
            for column in list(rows[0]):
                rows[0][column], ten = number_in_text()
                numbers.append(ten)
        column_name, ten = number_in_text()
        hostile["providers"][1][column_name.replace(";", " ")] = "x"
        numbers.append(ten)
        rejected = runner.invoke(
            cli_app,
            ["ingest", str(_write(root / "hostile", hostile, fmt)), "--report", str(root / "report.json")],
        )
        assert rejected.exit_code == 1, rejected.output
        texts = {"output": rejected.output, "report": (root / "report.json").read_text(encoding="utf-8")}
        assert '"personal_data"' in texts["report"]
        assert not (root / "home" / "snapshots").exists() or not any((root / "home" / "snapshots").iterdir())

        # Given numbers in free text and a sole trader: accepted with --redact, the provider pseudonymised
        tables = world()
        for row in tables["complaints"]:
            row["summary"], ten = number_in_text(controls=False)  # a control character is an error
            numbers.append(ten)
        born = data.draw(st.dates(min_value=dt.date(1930, 1, 1), max_value=dt.date(2005, 12, 31)))
        sole_trader = _sole_trader_number(born, data.draw(st.integers(0, 999)))
        numbers.append(sole_trader)
        tables["providers"].append(
            {"provider_id": sole_trader, "name": "Doktor Berg", "ownership": "private"}
        )
        tables["units"][2]["provider_id"] = sole_trader
        for rows in tables.values():  # its unit's HSA-id starts with the same number
            for row in rows:
                row.update({key: f"SE{sole_trader}-vc3" for key, value in row.items() if value == UNIT_3})
        src = _write(root / "src", tables, fmt)
        steps = [
            ["ingest", str(src), "--redact", "--reference-date", "2024-12-31"],
            ["snapshot", "show"],
            ["features", "--as-of", "2024-07-01"],
        ]
        for args in steps:
            result = runner.invoke(cli_app, args)
            assert result.exit_code == 0, result.output
            texts[" ".join(args[:2])] = result.output
        settings_ = Settings()
        snapshot = next(path for path in settings_.snapshots_dir.iterdir() if path.is_dir())
        store = ScoreStore(settings_.scores_dir)
        metadata = store.write(
            _scores_from_snapshot(snapshot, dt.date(2024, 7, 1)),
            model_name="tillsynsrisk",
            model_version="1",
            feature_set_id="fs",
            snapshot_id=snapshot.name,
            config_hash="c" * 64,
        )
        store.publish(metadata.score_id)
        planned = runner.invoke(cli_app, ["plan", "--capacity", "2", "--seed", "1", "--cooldown-months", "0"])
        assert planned.exit_code == 0, planned.output
        texts["plan"] = planned.output

        # When the API serves it, also to requests that carry a number
        app = create_app(settings_)
        keys = ApiKeyStore(settings_.api_keys_db)
        key = keys.create("e2e", frozenset(SCOPES))[1]
        keys.close()
        client = TestClient(app, raise_server_exceptions=False)
        auth = {"Authorization": f"Bearer {key}"}
        candidates = client.get("/v1/candidates?risk_area=overall&limit=50", headers=auth)
        texts["candidates"] = candidates.text
        for item in candidates.json()["items"]:
            texts[item["unit_id"]] = client.get(f"/v1/units/{item['unit_id']}", headers=auth).text
            texts[item["provider_id"]] = client.get(f"/v1/providers/{item['provider_id']}", headers=auth).text
        plan = client.post("/v1/plans", json={"capacity": 2, "seed": 2, "cooldown_months": 0}, headers=auth)
        texts["plan post"] = plan.text
        texts["plan get"] = client.get(f"/v1/plans/{plan.json()['plan_id']}", headers=auth).text
        probe, _ = number_in_text()
        # Percent-encoded: a written form may hold a line break or another character a URL cannot carry.
        sent = quote(probe, safe="")
        for url in (f"/v1/providers/{sole_trader}", f"/v1/candidates?q={sent}", f"/v1/{sent}"):
            texts[f"probe {url[:12]}"] = client.get(url, headers=auth).text
        texts |= _web_pages(client, key, candidates.json()["items"], plan.json()["plan_id"])
        app.state.tillsynsrisk.audit.close()

        # Then no number is anywhere: files under the home, responses, CLI output, logs
        texts |= _tables_text(root / "home")
        # The test's own HTTP client logs the URLs it sends (the attacker's side): not the system's logs.
        texts["logs"] = "\n".join(
            record.getMessage() for record in caplog.records if not record.name.startswith("httpx")
        )
        assert candidates.status_code == 200 and plan.status_code == 201
        assert not _leaks(texts, numbers), _leaks(texts, numbers)
