"""A trained home shared by the CLI tests that read a trained model: one small world, trained once per
test process.

Generating, ingesting and training a world costs tens of seconds per run on the two-core machine, while
copying the finished home costs a fraction of a second. So the session builds one home (world, ingest
snapshot, MLflow store of its own with two runs, one of them promoted), and every test works on its own
copy of it (:func:`copied`): a test may train, promote, ingest or build features there without touching
what another test reads.

The end-to-end test of the README's path (tests/test_pipeline_cli.py) still generates and trains for
itself; this home is for the tests of what comes after training.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from dataclasses import dataclass, replace
from pathlib import Path

import mlflow
import pytest
from typer.testing import CliRunner

from cli import app
from tests.cli_support import configured, generated_and_ingested

# The world: 300 units, 2020–2025 (seed 5); runs trained before 2025's and before 2026's inspections.
SEED = 5
UNITS = 300
YEARS = 6
FIRST_AS_OF = "2025-01-01"
LATEST_AS_OF = "2026-01-01"
# The width the analyst's terminal has in tests/test_models_cli.py, where train's output is read.
TRAIN_COLUMNS = 120
# The default configuration but one test fold per run: what the tests on the home read (tables, verdicts,
# family choice, backtests, promotion evidence) does not depend on the number of test years, and each
# further fold is a further set of fits (the default's two more folds: a third of a training's CPU here).
QUICK = {"evaluation_years": "1"}


@dataclass(frozen=True)
class TrainedHome:
    """A home with a current snapshot of ``world`` and an MLflow store holding two training runs.

    ``champion_run`` was trained as of 2025-01-01 and promoted (forced, into an empty registry) as version
    ``champion_version``, with ``promoted_output`` printed; ``latest_run`` was trained as of 2026-01-01
    and not promoted, and ``latest_output`` is what train printed at 120 columns.
    """

    root: Path
    champion_run: str
    champion_version: str
    promoted_output: str
    latest_run: str
    latest_output: str

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def world(self) -> Path:
        return self.root / "world"

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.root / 'mlflow.db'}"

    @property
    def artifact_root(self) -> Path:
        return self.root / "artifacts"

    @property
    def config_file(self) -> Path:
        return self.root / "config.toml"

    def use(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Point the CLI's settings (``TILLSYNSRISK_HOME``, the configuration, the MLflow store) and MLflow
        at this home.

        MLflow's own tracking URI, once set in the process (``Tracking.activated`` leaves the one it
        found in the environment), wins over ``MLFLOW_TRACKING_URI``: it is set too, and
        :func:`forget_mlflow_uris` undoes it.
        """
        monkeypatch.setenv("TILLSYNSRISK_HOME", str(self.home))
        monkeypatch.setenv("TILLSYNSRISK_CONFIG", str(self.config_file))
        monkeypatch.setenv("MLFLOW_TRACKING_URI", self.tracking_uri)
        monkeypatch.setenv("TILLSYNSRISK_MLFLOW_ARTIFACT_ROOT", str(self.artifact_root))
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)


def forget_mlflow_uris() -> None:
    """Leave MLflow's tracking and registry URIs to the environment again (as in a fresh process)."""
    mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
    mlflow.set_registry_uri(None)  # type: ignore[arg-type]


def _invoked(runner: CliRunner, args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, (
        f"{args[0]} failed while preparing the trained home: {result.output[-3000:]}"
    )
    return result.output


def _run_id(output: str) -> str:
    found = re.search(r"run id: ([0-9a-f]{32})", output)
    assert found, f"train did not print a run id: {output[-2000:]}"
    return found.group(1)


def trained_home(root: Path, monkeypatch: pytest.MonkeyPatch) -> TrainedHome:
    """Generate and ingest the world into ``root``, train as of 2025-01-01 and 2026-01-01, promote the first.

    The configuration is the default with :data:`QUICK`'s changes, kept in ``root`` with the home.

    ``monkeypatch`` points the CLI at ``root`` while it runs; the caller undoes it.
    """
    root.mkdir(parents=True, exist_ok=True)
    built = TrainedHome(root, "", "", "", "", "")
    configured(built.config_file, **QUICK)
    built.use(monkeypatch)
    wide = CliRunner(env={"COLUMNS": "250"})
    generated_and_ingested(wide, built.world, seed=SEED, units=UNITS, years=YEARS)
    champion = _run_id(_invoked(wide, ["train", "--as-of", FIRST_AS_OF]))
    promoted = _invoked(wide, ["promote", champion, "--force"])
    version = re.search(r"as tillsynsrisk version (\d+)", promoted)
    assert version, f"promote did not name the version: {promoted[-2000:]}"
    latest_output = _invoked(
        CliRunner(env={"COLUMNS": str(TRAIN_COLUMNS)}), ["train", "--as-of", LATEST_AS_OF]
    )
    return replace(
        built,
        champion_run=champion,
        champion_version=version.group(1),
        promoted_output=promoted,
        latest_run=_run_id(latest_output),
        latest_output=latest_output,
    )


def _text_columns(connection: sqlite3.Connection) -> dict[str, list[str]]:
    """The text columns of every table of an SQLite database."""
    tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {
        table: [
            column[1]
            for column in connection.execute(f'PRAGMA table_info("{table}")')
            if any(kind in column[2].upper() for kind in ("CHAR", "TEXT", "CLOB"))
        ]
        for table in tables
    }


def copied(trained: TrainedHome, root: Path) -> TrainedHome:
    """A copy of ``trained`` under ``root`` whose MLflow store names its own artifacts.

    MLflow keeps absolute artifact locations in its database (experiments, runs, logged models, model
    versions); they are rewritten from the original root to the copy's, so that what a test logs or
    registers lands in its copy. The copy's runs keep their ids, and MLflow caches each run's artifact
    location by run id for the whole process: the cache is emptied, or a test writing to "its" run (the
    prospective record after an ingest) would write into the original.
    """
    from mlflow.tracking._tracking_service import utils as mlflow_tracking_utils

    shutil.copytree(trained.root, root)
    copy = replace(trained, root=root)
    before, after = str(trained.root.resolve()), str(root.resolve())
    with sqlite3.connect(root / "mlflow.db") as connection:
        for table, columns in _text_columns(connection).items():
            for column in columns:
                rewrite = f'UPDATE "{table}" SET "{column}" = replace("{column}", ?, ?)'
                connection.execute(f'{rewrite} WHERE instr("{column}", ?) > 0', (before, after, before))
    connection.close()
    mlflow_tracking_utils._artifact_repos_cache.clear()
    return copy
