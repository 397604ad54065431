"""A training that did not finish is marked so in MLflow and can never be promoted, not even with --force."""

from __future__ import annotations

import os
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc
import polars as pl
import pytest
from mlflow.pyfunc import PythonModel
from typer.testing import CliRunner

from cli import app
from engine.config import Config
from models.registry import promote
from models.tracking import RunLogger, Tracking

METRICS = pl.DataFrame(
    {
        "population": ["random", "random"],
        "fold": ["all", "all"],
        "risk_area": ["tillganglighet", "tillganglighet"],
        "scorer": ["model", "model"],
        "metric": ["precision_at_10pct", "ece"],
        "value": [0.8, 0.01],
        "lower": [0.7, None],
        "upper": [0.9, None],
    }
)


class _Echo(PythonModel):  # type: ignore[misc]
    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        return model_input


def _run_left_running(tracking: Tracking, *, model: bool, lineage: bool) -> str:
    """A run as a training killed outright leaves it: status RUNNING, some of its artifacts logged."""
    run_id = str(tracking.client.create_run(tracking.experiment_id(), run_name="killed").info.run_id)
    with tracking.activated(), mlflow.start_run(run_id=run_id), tempfile.TemporaryDirectory() as staging:
        run = RunLogger(tracking.client, run_id, Path(staging))
        run.log_table(METRICS, "evaluation/metrics.parquet")
        uri = None
        if model:
            uri = mlflow.pyfunc.log_model(
                name="model", python_model=_Echo(), pip_requirements=["mlflow"]
            ).model_uri
        if lineage:
            run.log_dict({"model_uri": uri, "as_of": "2025-01-01"}, "lineage.json")
        run.upload()
    # start_run's exit ended it FINISHED: put it back the way a SIGKILL leaves it
    tracking.client.update_run(run_id, status="RUNNING")
    return run_id


def _status(tracking: Tracking, run_id: str) -> str:
    return str(tracking.client.get_run(run_id).info.status)


def test_promote_refuses_a_run_left_running_even_with_force(
    models_tracking: Tracking, models_config: Config
) -> None:
    # Given a training killed while logging its last tables: model, evaluation and lineage are there,
    # but the run is still RUNNING
    run_id = _run_left_running(models_tracking, model=True, lineage=True)
    # When it is promoted with force
    decision = promote(models_tracking, run_id, models_config.model, force=True)
    # Then it is refused, saying the run did not finish, and nothing is registered for it
    assert not decision.promoted, "a run that never finished was promoted"
    assert decision.reasons == [
        f"run {run_id} did not finish (status RUNNING): its training failed, was interrupted or is still "
        "running; train again"
    ]
    versions = models_tracking.client.search_model_versions(f"run_id = '{run_id}'")
    assert not versions, "the unfinished run's model was registered"


def test_promote_refuses_a_finished_run_without_lineage_or_model(
    models_tracking: Tracking, models_config: Config
) -> None:
    # Given a run marked FINISHED that logged its evaluation but neither its model nor its lineage
    run_id = _run_left_running(models_tracking, model=False, lineage=False)
    models_tracking.client.set_terminated(run_id, "FINISHED")
    # When it is promoted with force
    decision = promote(models_tracking, run_id, models_config.model, force=True)
    # Then it is refused naming what is missing (before: an unhandled MlflowException on lineage.json)
    assert not decision.promoted
    assert decision.reasons == [
        f"run {run_id} lacks lineage.json: it is not a complete training run; train again"
    ], decision.reasons


def test_promote_command_refuses_a_run_left_running_without_a_traceback(
    models_tracking: Tracking, cli_home_with_models: Any
) -> None:
    # Given a run left RUNNING by a killed training, without its lineage
    run_id = _run_left_running(models_tracking, model=False, lineage=False)
    # When `tillsynsrisk promote RUN --force` runs
    result = CliRunner().invoke(app, ["promote", run_id, "--force"], env={"COLUMNS": "250"})
    # Then it exits 1 with the reason, and no traceback
    assert result.exit_code == 1, result.output
    assert "promotion refused (even with --force)" in result.output, result.output
    assert "did not finish (status RUNNING)" in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


def test_a_run_stopped_by_sigterm_ends_failed_and_the_handler_is_restored(models_tracking: Tracking) -> None:
    # Given a process whose SIGTERM handler does nothing (so that without the run's own handler this test
    # fails instead of killing the test runner)
    received: list[int] = []

    def guard(signum: int, _frame: object) -> None:
        received.append(signum)

    previous = signal.signal(signal.SIGTERM, guard)
    try:
        # When the service manager sends SIGTERM during a run
        with pytest.raises(SystemExit) as stopped, models_tracking.run("terminated") as run:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler interrupts this
        restored = signal.getsignal(signal.SIGTERM)
    finally:
        signal.signal(signal.SIGTERM, previous)
    # Then the block stops with exit code 143, the run ends FAILED, and the process's handler is back
    assert stopped.value.code == 128 + signal.SIGTERM, stopped.value.code
    assert _status(models_tracking, run.run_id) == "FAILED", (
        f"run left {_status(models_tracking, run.run_id)}"
    )
    assert not received and restored is not None and restored is not signal.SIG_DFL


def test_a_run_interrupted_with_ctrl_c_ends_failed(models_tracking: Tracking) -> None:
    # When Ctrl-C (SIGINT) arrives during a run
    with pytest.raises(KeyboardInterrupt), models_tracking.run("interrupted") as run:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)  # the handler interrupts this
    # Then the run ends FAILED, not RUNNING
    assert _status(models_tracking, run.run_id) == "FAILED", (
        f"run left {_status(models_tracking, run.run_id)}"
    )


def test_files_a_run_logs_are_in_its_artifacts_once_its_block_ends(models_tracking: Tracking) -> None:
    # Given a run that logs a table, a JSON file and a text file into nested folders
    with models_tracking.run("staged") as run:
        run.log_table(METRICS, "evaluation/metrics.parquet")
        run.log_dict({"as_of": "2025-01-01"}, "lineage.json")
        run.log_text("hej", "report/deep/page.html")
    # Then after the block every file is among the run's artifacts, with what was logged
    assert models_tracking.read_json(run.run_id, "lineage.json") == {"as_of": "2025-01-01"}
    assert models_tracking.read_table(run.run_id, "evaluation/metrics.parquet").equals(METRICS)
    assert models_tracking.read_bytes(run.run_id, "report/deep/page.html") == b"hej"


def test_an_artifact_path_outside_the_run_is_refused(models_tracking: Tracking) -> None:
    # When a run logs a file whose path climbs out of its artifact directory
    with (
        pytest.raises(ValueError, match="leaves the run's artifact directory"),
        models_tracking.run("escape") as run,
    ):
        run.log_text("x", "../outside.txt")
