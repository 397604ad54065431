"""The MLflow store behind ``models.tracking.Tracking``: artifacts read back as they were logged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest
from mlflow.exceptions import MlflowException
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

from models.tracking import Tracking


def _logged_run(tmp_path: Path) -> tuple[Tracking, str]:
    tracking = Tracking(f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path / "artifacts")
    with tracking.run(run_name="artifacts") as run:
        run.log_metrics({f"metric_{i}": float(i) for i in range(50)})
        run.log_dict({"as_of": "2026-01-01", "name": "Åre vårdcentral"}, "lineage.json")
        run.log_table(
            pl.DataFrame({"risk_area": ["samverkan"], "value": [0.25]}), "evaluation/metrics.parquet"
        )
        run.log_text("a plot's bytes", "plots/curve.png")
    return tracking, run.run_id


def test_a_runs_artifacts_read_back_as_logged_with_the_run_looked_up_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a run that logged a JSON file, a table and raw bytes, read by a fresh Tracking of the same store
    logged, run_id = _logged_run(tmp_path)
    tracking = Tracking(logged.tracking_uri, logged.artifact_root)
    lookups: list[str] = []
    get_run = SqlAlchemyStore.get_run

    def counted(store: SqlAlchemyStore, run: str) -> Any:
        lookups.append(run)
        return get_run(store, run)

    monkeypatch.setattr(SqlAlchemyStore, "get_run", counted)  # whichever MLflow path reads the run
    # when each is read, twice
    for _ in range(2):
        assert tracking.read_json(run_id, "lineage.json") == {
            "as_of": "2026-01-01",
            "name": "Åre vårdcentral",
        }
        table = tracking.read_table(run_id, "evaluation/metrics.parquet")
        assert table.to_dicts() == [{"risk_area": "samverkan", "value": 0.25}]
        assert tracking.read_bytes(run_id, "plots/curve.png") == b"a plot's bytes"
    # then the run (every metric with it) was read from the store once, not once per artifact
    assert lookups == [run_id]


def test_a_missing_artifact_or_run_raises_what_the_callers_catch(tmp_path: Path) -> None:
    # given a run without the artifact asked for, and a run id the store does not hold
    tracking, run_id = _logged_run(tmp_path)
    # when they are read, then the errors are MLflow's or the file system's (callers catch these two)
    with pytest.raises((MlflowException, OSError)):
        tracking.read_json(run_id, "family/choice.json")
    with pytest.raises(MlflowException):
        tracking.read_json("0" * 32, "lineage.json")
