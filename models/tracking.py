"""MLflow behind one small object with a run context.

The store is whatever ``Settings().mlflow_tracking_uri`` names (default: the SQLite database
``mlruns/mlflow.db``, artifacts under ``mlruns/artifacts``); no server is needed. Browse it with
``mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db``.
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
import signal
import tempfile
import threading
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import mlflow
import mlflow.pyfunc
import polars as pl
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from models.artifact import RiskModel, RiskPyfunc

logger = logging.getLogger(__name__)

EXPERIMENT_NAME = "tillsynsrisk"
MODEL_ARTIFACT = "model"
TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
REGISTRY_URI_ENV = "MLFLOW_REGISTRY_URI"
PIP_REQUIREMENTS = ["lightgbm", "scikit-learn", "polars", "numpy", "pandas", "mlflow"]


def _sqlite_parent(tracking_uri: str) -> Path | None:
    prefix = "sqlite:///"
    return Path(tracking_uri[len(prefix) :]).parent if tracking_uri.startswith(prefix) else None


class RunLogger:
    """What one active run can log: params, metrics, tables, figures, JSON and the model.

    Files (JSON, text, tables, figures) are written into a local staging directory and uploaded to the
    run's artifact store in one ``mlflow.log_artifacts`` call when the run's block ends
    (:meth:`upload`, called by :meth:`Tracking.run`): one store operation instead of one per file. Params
    and metrics go to the store in one batch per call. The model is logged at once (MLflow 3 links it to
    the run as a model of its own).
    """

    def __init__(self, client: MlflowClient, run_id: str, staging: Path) -> None:
        self.client = client
        self.run_id = run_id
        self.staging = staging

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log flat parameters (values stringified, truncated by MLflow at 6,000 characters)."""
        mlflow.log_params({key: str(value) for key, value in params.items()})

    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        """Log finite metrics (NaN — e.g. AUC of a fold without positives — is left out)."""
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if v is not None and math.isfinite(v)})

    def set_tags(self, tags: Mapping[str, str]) -> None:
        """Set run tags (lineage ids, hashes, code version)."""
        mlflow.set_tags(dict(tags))

    def _staged(self, artifact_file: str) -> Path:
        """The local path ``artifact_file`` is written to before the upload (inside the staging directory)."""
        path = (self.staging / artifact_file).resolve()
        if not path.is_relative_to(self.staging.resolve()):
            raise ValueError(f"artifact path {artifact_file!r} leaves the run's artifact directory")
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def log_dict(self, data: Any, artifact_file: str) -> None:
        """Log a JSON artifact (written as ``mlflow.log_dict`` writes it)."""
        with self._staged(artifact_file).open("w") as handle:
            json.dump(data, handle, indent=2, default=str)

    def log_text(self, text: str, artifact_file: str) -> None:
        """Log a text artifact."""
        self._staged(artifact_file).write_text(text, encoding="utf-8")

    def log_table(self, frame: pl.DataFrame, artifact_file: str) -> None:
        """Log a frame as a Parquet artifact."""
        frame.write_parquet(self._staged(artifact_file))

    def log_figure(self, figure: Any, artifact_file: str) -> None:
        """Log a matplotlib figure as PNG."""
        figure.savefig(self._staged(artifact_file))

    def upload(self) -> None:
        """Upload every staged file to the run's artifacts in one call (once, when the run's block ends:
        the staging directory is removed with the block)."""
        if any(path.is_file() for path in self.staging.rglob("*")):
            self.client.log_artifacts(self.run_id, str(self.staging))

    def log_model(self, model: RiskModel, example: pl.DataFrame) -> str:
        """Log the model as an MLflow pyfunc with a signature inferred from ``example`` and its first
        rows as the input example; returns its URI."""
        example_pd = example.to_pandas()
        output = RiskPyfunc(model).predict(None, example_pd)
        with warnings.catch_warnings():
            # MLflow hints that an integer column cannot hold a missing value. Harmless here: the only
            # integer inputs are registry columns the data contract requires (listed_patients, not
            # nullable), and the outputs (ranks) are never missing.
            warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column")
            signature = infer_signature(example_pd, output)
        with _without_cloudpickle_notice():
            info = mlflow.pyfunc.log_model(
                name=MODEL_ARTIFACT,
                python_model=RiskPyfunc(model),
                signature=signature,
                input_example=example_pd.head(INPUT_EXAMPLE_ROWS),
                pip_requirements=PIP_REQUIREMENTS,
            )
        return str(info.model_uri)


class _CloudPickleNotice(logging.Filter):
    """Drops MLflow's notice that a ``python_model`` object is serialised with CloudPickle.

    Harmless here: the pickle is written and read only by this project's own tracking store (anyone who
    can write to that store can already change the code that reads it), and the model's classes are
    importable wherever it is loaded. Every other MLflow message still gets through.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(CLOUDPICKLE_NOTICE)


CLOUDPICKLE_NOTICE = "Passing a Python object as `python_model` causes it to be serialized using CloudPickle"
INPUT_EXAMPLE_ROWS = 5


@contextmanager
def _without_cloudpickle_notice() -> Iterator[None]:
    notice = _CloudPickleNotice()
    pyfunc_logger = logging.getLogger("mlflow.pyfunc")
    pyfunc_logger.addFilter(notice)
    try:
        yield
    finally:
        pyfunc_logger.removeFilter(notice)


class Tracking:
    """The project's MLflow store: one experiment, runs opened with :meth:`run`."""

    def __init__(
        self, tracking_uri: str, artifact_root: Path, experiment_name: str = EXPERIMENT_NAME
    ) -> None:
        self.tracking_uri = tracking_uri
        self.artifact_root = artifact_root
        self.experiment_name = experiment_name
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        # Each run's artifact root, looked up once: MLflow reads a run whole (every metric, thousands of
        # rows) to resolve a ``runs:/`` URI, and a report reads twenty artifacts of one run.
        self._artifact_roots: dict[str, str] = {}

    def experiment_id(self) -> str:
        """The experiment's id, created (with its artifact location) on first use."""
        parent = _sqlite_parent(self.tracking_uri)
        if parent is not None:
            parent.mkdir(parents=True, exist_ok=True)
        experiment = self.client.get_experiment_by_name(self.experiment_name)
        if experiment is not None:
            return str(experiment.experiment_id)
        self.artifact_root.mkdir(parents=True, exist_ok=True)
        return str(
            self.client.create_experiment(
                self.experiment_name, artifact_location=self.artifact_root.resolve().as_uri()
            )
        )

    @contextmanager
    def activated(self) -> Iterator[None]:
        """Point MLflow's fluent API at this store for the duration of the block.

        MLflow keeps the URI in ``MLFLOW_TRACKING_URI`` too, which :class:`Settings` reads: the
        previous *environment* value is restored (or removed), never MLflow's resolved default.
        """
        previous_tracking = os.environ.get(TRACKING_URI_ENV)
        previous_registry = os.environ.get(REGISTRY_URI_ENV)
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        try:
            yield
        finally:
            mlflow.set_tracking_uri(previous_tracking)  # type: ignore[arg-type]
            mlflow.set_registry_uri(previous_registry)  # type: ignore[arg-type]
            for name, value in ((TRACKING_URI_ENV, previous_tracking), (REGISTRY_URI_ENV, previous_registry)):
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    @contextmanager
    def run(self, run_name: str, tags: Mapping[str, str] | None = None) -> Iterator[RunLogger]:
        """Open a run; it ends FINISHED, or FAILED when the block raises, is interrupted or terminated.

        MLflow ends the run FAILED on any exception leaving the block (``KeyboardInterrupt`` too);
        SIGTERM is turned into ``SystemExit`` for the block so that it does the same. A process killed
        outright (SIGKILL, power loss) leaves the run RUNNING: :func:`unfinished_run_problem` refuses it.
        The files the block logs are uploaded together when it ends (:class:`RunLogger`).
        """
        experiment_id = self.experiment_id()
        with (
            self.activated(),
            _terminate_as_exit(),
            mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=dict(tags or {})) as run,
            tempfile.TemporaryDirectory() as staging,
        ):
            logger_ = RunLogger(self.client, run.info.run_id, Path(staging))
            try:
                yield logger_
            finally:
                # What was logged before a failure is kept, as when every file was uploaded at once.
                logger_.upload()

    def artifact_paths(self, run_id: str, directory: str | None = None) -> set[str]:
        """Paths of the artifacts directly under ``directory`` (the run's root when None)."""
        return {item.path for item in self.client.list_artifacts(run_id, directory)}

    def artifact_uri(self, run_id: str, artifact_file: str) -> str:
        """The URI of ``run_id``'s artifact ``artifact_file`` (raises ``MlflowException`` for an unknown run).

        The run's artifact root is read once per run and kept: a run's artifact location never changes.
        """
        root = self._artifact_roots.get(run_id)
        if root is None:
            root = self._artifact_roots.setdefault(run_id, self.client.get_run(run_id).info.artifact_uri)
        return f"{root.rstrip('/')}/{artifact_file}"

    def read_json(self, run_id: str, artifact_file: str) -> Any:
        """A JSON artifact of ``run_id``."""
        return json.loads(self.read_bytes(run_id, artifact_file))

    def read_table(self, run_id: str, artifact_file: str) -> pl.DataFrame:
        """A Parquet artifact of ``run_id``."""
        return pl.read_parquet(io.BytesIO(self.read_bytes(run_id, artifact_file)))

    def read_bytes(self, run_id: str, artifact_file: str) -> bytes:
        """Raw bytes of an artifact of ``run_id`` (plots for the report)."""
        uri = self.artifact_uri(run_id, artifact_file)
        with tempfile.TemporaryDirectory() as directory:
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=uri, dst_path=directory, tracking_uri=self.tracking_uri
            )
            return Path(local).read_bytes()

    def run_info(self, run_id: str) -> dict[str, Any]:
        """Params, tags and metrics of ``run_id`` (raises ``MlflowException`` when unknown)."""
        run = self.client.get_run(run_id)
        return {
            "run_id": run.info.run_id,
            "status": run.info.status,
            "start_time": run.info.start_time,
            "params": dict(run.data.params),
            "tags": {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")},
            "metrics": dict(run.data.metrics),
        }

    def model_uri(self, run_id: str) -> str:
        """The URI of the model logged by ``run_id``."""
        uri = self.read_json(run_id, "lineage.json").get("model_uri")
        if not uri:
            raise LookupError(f"run {run_id} has no logged model")
        return str(uri)


# What a finished training run has logged besides its model (a logged model of its own in MLflow 3,
# named by the lineage's ``model_uri``).
REQUIRED_ARTIFACTS = ("lineage.json", "evaluation/metrics.parquet")


def unfinished_run_problem(tracking: Tracking, run_id: str) -> str | None:
    """Why ``run_id`` is not a complete training run, or None when it is.

    Complete: the run exists, its status is FINISHED, it logged :data:`REQUIRED_ARTIFACTS`, and the model
    its lineage names can be read.
    """
    try:
        status = tracking.client.get_run(run_id).info.status
    except MlflowException:
        return f"no run {run_id!r} in {tracking.tracking_uri}"
    if status != "FINISHED":
        return (
            f"run {run_id} did not finish (status {status}): its training failed, was interrupted or is "
            "still running; train again"
        )
    missing = [
        artifact
        for artifact in REQUIRED_ARTIFACTS
        if artifact not in tracking.artifact_paths(run_id, artifact.rpartition("/")[0] or None)
    ]
    if missing:
        return f"run {run_id} lacks {', '.join(missing)}: it is not a complete training run; train again"
    try:
        with tracking.activated():
            mlflow.models.get_model_info(tracking.model_uri(run_id))
    except (MlflowException, LookupError, OSError) as error:
        return f"run {run_id} names no readable model ({type(error).__name__}); train again"
    return None


@contextmanager
def _terminate_as_exit() -> Iterator[None]:
    """Within the block, SIGTERM raises ``SystemExit(143)`` (so context exits and ``finally`` run).

    Only the main thread can install a signal handler; elsewhere the block runs unchanged.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _exit(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, _exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def json_default(value: Any) -> Any:
    """JSON encoder fallback for dates and numpy scalars in logged dictionaries."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(data: Any) -> str:
    """Stable JSON text."""
    return json.dumps(data, default=json_default, indent=2, sort_keys=True, ensure_ascii=False)
