"""Shared fixtures. Models: one migrated MLflow SQLite store per session, a small toy training set and one
trained home (tests/trained_home.py). Scheduling on two workers (``make pytest``): tests/scheduling.py."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pytest

from engine.config import Config, load_config
from tests.models_factory import AS_OF, toy_catalog, toy_rows, training_data
from tests.scheduling import FileOrUnitScheduling, long_units_first, misplaced

if TYPE_CHECKING:
    from tests.trained_home import TrainedHome


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> FileOrUnitScheduling | None:
    """``--dist loadfile`` with the units and order of tests/scheduling.py."""
    return FileOrUnitScheduling(config, log) if config.getvalue("dist") == "loadfile" else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse a test on the trained home outside its work unit; on an xdist worker, long units first."""
    faults = misplaced(items)
    if faults:
        raise pytest.UsageError("\n".join(faults))
    if hasattr(config, "workerinput"):
        items[:] = long_units_first(items)


@pytest.fixture(scope="session")
def models_tracking(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One MLflow store (SQLite, migrated once — migrations are slow) shared by the models tests."""
    from models.tracking import Tracking

    root = tmp_path_factory.mktemp("mlruns")
    tracking = Tracking(f"sqlite:///{root / 'mlflow.db'}", root / "artifacts")
    tracking.experiment_id()
    return tracking


@pytest.fixture
def cli_home_with_models(tmp_path, monkeypatch, models_tracking):  # type: ignore[no-untyped-def]
    """``TILLSYNSRISK_HOME`` in ``tmp_path/home`` and the shared MLflow store, for CLI tests that train."""
    monkeypatch.setenv("TILLSYNSRISK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", models_tracking.tracking_uri)
    monkeypatch.setenv("TILLSYNSRISK_MLFLOW_ARTIFACT_ROOT", str(models_tracking.artifact_root))
    return tmp_path / "home"


@pytest.fixture(scope="session")
def trained_home_template(tmp_path_factory: pytest.TempPathFactory) -> TrainedHome:
    """The session's trained home (tests/trained_home.py); tests use a copy of it, ``trained_copy``."""
    from tests.trained_home import forget_mlflow_uris, trained_home

    with pytest.MonkeyPatch.context() as patch:
        try:
            return trained_home(tmp_path_factory.mktemp("trained") / "template", patch)
        finally:
            forget_mlflow_uris()


@pytest.fixture
def trained_copy(
    trained_home_template: TrainedHome, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TrainedHome]:
    """This test's own copy of the trained home, with the CLI's settings pointed at it.

    Tests that use it are one work unit for ``make pytest`` (tests/scheduling.py), so that one worker
    trains it.
    """
    from tests.trained_home import copied, forget_mlflow_uris

    copy = copied(trained_home_template, tmp_path / "trained")
    copy.use(monkeypatch)
    yield copy
    forget_mlflow_uris()


@pytest.fixture(scope="session")
def models_config() -> Config:
    """The default configuration with a small bootstrap so evaluation stays fast in tests."""
    config = load_config()
    return config.model_copy(update={"model": config.model.model_copy(update={"bootstrap_resamples": 50})})


@pytest.fixture(scope="session")
def toy_training_rows() -> pl.DataFrame:
    """Toy labelled rows for 2016–2022 (seed 0)."""
    return toy_rows()


@pytest.fixture(scope="session")
def toy_catalog_records() -> list[dict[str, object]]:
    return toy_catalog()


@pytest.fixture(scope="session")
def champion_run(models_tracking, models_config, toy_training_rows, toy_catalog_records):  # type: ignore[no-untyped-def]
    """One training run on the toy rows in the shared store (evaluation, plots, logged model)."""
    from models.jobs import run_training

    data = training_data(toy_training_rows, toy_catalog_records)
    return run_training(
        data, models_config, models_tracking, as_of=AS_OF, lineage={"snapshot_id": "toy-snapshot"}
    )


@pytest.fixture(scope="session")
def web_home(tmp_path_factory: pytest.TempPathFactory, models_tracking):  # type: ignore[no-untyped-def]
    """A prepared home for the web-page tests (tests/web_support.py), shared by the whole session."""
    from tests.web_support import prepared_home

    root = tmp_path_factory.mktemp("web")
    return prepared_home(root, models_tracking.tracking_uri, models_tracking.artifact_root)


@pytest.fixture(scope="session")
def no_signal_run(models_tracking, models_config, toy_training_rows, toy_catalog_records):  # type: ignore[no-untyped-def]
    """A run on the toy rows with the labels shuffled within each area: no feature says anything."""
    import numpy as np

    from models.jobs import run_training

    rng = np.random.default_rng(5)
    shuffled = toy_training_rows.with_columns(
        pl.col("deficiency").shuffle(seed=int(rng.integers(1 << 30))).over("risk_area")
    )
    return run_training(
        training_data(shuffled, toy_catalog_records),
        models_config,
        models_tracking,
        as_of=AS_OF,
        lineage={"snapshot_id": "toy-shuffled"},
    )


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium per test process: Debian's ``chromium`` when on PATH, else Playwright's own.

    ``make test`` provides one of them (``make browser``). Playwright's sync API runs one event loop per
    thread: a second ``sync_playwright()`` while this one is open fails, so every browser test shares
    this fixture (with pytest-xdist, one per worker). A missing browser is a failure, not a skip.
    """
    from playwright.sync_api import Error, sync_playwright

    debian = shutil.which("chromium")
    with sync_playwright() as playwright:
        try:
            # executable_path None: Playwright launches the build `playwright install chromium` put in place.
            browser = playwright.chromium.launch(executable_path=debian, headless=True, args=["--no-sandbox"])
        except Error as error:
            which = "Debian's chromium" if debian else "Playwright's own Chromium (no chromium on PATH)"
            pytest.fail(
                f"cannot launch {which} for the browser tests: {error.message.splitlines()[0]}\n"
                "`make browser` provides one: Debian's chromium (as root, with apt) or Playwright's own "
                "(`.venv/bin/playwright install chromium`)"
            )
        yield browser
        browser.close()
