"""A small prepared home for the web-page tests: an ingested synthetic world, a published scoring snapshot
of its units, an MLflow run with the evaluation artifacts the Modell page reads, and API keys.

Building it takes a few seconds (a 60-unit world, no model training): the scores are drawn at random for
the world's real units, and the evaluation artifacts are computed by the real ``models.evaluation``
functions from a random prediction frame, so every page shows data of the shapes production writes.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import uvicorn
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from engine.config import Config
from engine.scores import EXPLANATION_DTYPE, OVERALL, ScoreStore, ranked_scores
from engine.settings import Settings
from engine.snapshots import SnapshotStore
from tests.cli_support import generated_and_ingested

AS_OF = dt.date(2026, 1, 1)
PREVIOUS_AS_OF = dt.date(2025, 10, 1)
PLANNER_SCOPES = frozenset(
    {"read:candidates", "read:units", "read:providers", "read:models", "read:plans", "write:plans"}
)
READER_SCOPES = PLANNER_SCOPES - {"write:plans"}


@dataclass
class WebHome:
    settings: Settings
    score_id: str
    run_id: str
    keys: dict[str, str]  # name -> key
    unit_ids: list[str]
    previous_score_id: str = ""


@contextmanager
def environment(**values: str) -> Iterator[None]:
    """Set environment variables for the block (the CLI reads its settings from the environment)."""
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# The served scoring ranks this area by the risk of a serious finding, as a trained model does where
# nearly every inspection finds some deficiency (models.targets); the others by P(deficiency).
SERIOUS_AREA = "systematiskt_kvalitetsarbete"
WEB_TARGETS = {
    SERIOUS_AREA: {
        "target": "serious",
        "configured": "auto",
        "base_rate": 0.94,
        "serious_rate": 0.066,
        "threshold": 0.6,
        "reason": "auto: 94% of the training inspections found a deficiency, above the threshold 60%",
    }
}


def scores_for_snapshot(
    settings: Settings, config: Config, seed: int = 0, as_of: dt.date = AS_OF
) -> pl.DataFrame:
    """A valid scores frame for every unit of the current ingest snapshot, with Swedish reasons.

    In :data:`SERIOUS_AREA` P(serious) orders the units unlike P(deficiency), and ranks them.
    """
    snapshot = SnapshotStore(settings.snapshots_dir).open()
    units = snapshot.scan("units").collect()
    providers = snapshot.scan("providers").collect().rename({"name": "provider_name"})
    frame = units.rename({"name": "unit_name"}).join(providers, on="provider_id", how="left")
    rng = np.random.default_rng(seed)
    serious_rng = np.random.default_rng(seed + 1)  # its own stream: the other draws stay as they were
    areas = config.risk_area_ids
    rows = []
    for unit in frame.iter_rows(named=True):
        p_areas = 1.0 / (1.0 + np.exp(-rng.normal(-1.0, 1.0, size=len(areas))))
        base = {
            key: unit[key]
            for key in (
                "unit_id", "unit_name", "provider_id", "provider_name", "region_code",
                "municipality_code", "unit_type", "ownership", "listed_patients",
            )
        } | {"as_of": as_of}  # fmt: skip
        for area, p in zip((*areas, OVERALL), (*p_areas, float(p_areas.mean())), strict=True):
            complaints = round(float(p) * 20, 1)
            rows.append(
                base
                | {
                    "risk_area": area,
                    "p_deficiency": float(p),
                    "p_serious": float(p) * (float(serious_rng.random()) if area == SERIOUS_AREA else 0.2),
                    "explanations": [
                        {
                            "feature": f"complaints_{area}_per_10k_12m",
                            "sentence_sv": f"Klagomål per 10 000 listade senaste 12 mån: "
                            f"{str(complaints).replace('.', ',')} (regionens median 2,0)",
                            "contribution": round(float(p) - 0.2, 6),
                            "value": complaints,
                        }
                    ],
                }
            )
    scored = pl.DataFrame(
        rows, schema_overrides={"explanations": pl.List(EXPLANATION_DTYPE), "listed_patients": pl.Int64}
    )
    return ranked_scores(scored.lazy(), {SERIOUS_AREA: "serious"}).collect()


def evaluation_predictions(config: Config, seed: int = 0, rows_per_area: int = 300) -> pl.DataFrame:
    """A prediction frame shaped like ``models.evaluation.rolling_origin_evaluation``'s (random data)."""
    rng = np.random.default_rng(seed)
    parts = []
    for area in config.risk_area_ids:
        truth = rng.uniform(0.05, 0.6, size=rows_per_area)
        deficiency = (rng.random(rows_per_area) < truth).astype(np.int8)
        parts.append(
            pl.DataFrame(
                {
                    "fold": rng.choice(["2023", "2024"], size=rows_per_area),
                    "inspection_id": [f"{area}-{i}" for i in range(rows_per_area)],
                    "risk_area": [area] * rows_per_area,
                    "is_random": rng.random(rows_per_area) < 0.6,
                    "deficiency": deficiency,
                    "serious": (deficiency * (rng.random(rows_per_area) < 0.2)).astype(np.int8),
                    "weight": np.ones(rows_per_area),
                    "ownership": rng.choice(["public", "private"], size=rows_per_area),
                    "region_code": rng.choice(["01", "03", "12"], size=rows_per_area),
                    "size_band": rng.choice(["small", "medium", "large"], size=rows_per_area),
                    "score_oracle": truth,
                    "score_model": np.clip(truth + rng.normal(0, 0.08, rows_per_area), 0.01, 0.99),
                    "score_random": rng.random(rows_per_area),
                    "score_complaints": truth + rng.normal(0, 0.2, rows_per_area),
                    "score_banding": truth + rng.normal(0, 0.3, rows_per_area),
                    "score_logistic": truth + rng.normal(0, 0.12, rows_per_area),
                    "raw_score": truth,
                    "p_serious": truth / 5,
                }
            )
        )
    frame = pl.concat(parts)
    # Inclusion probabilities from a stream of their own (the columns above stay as they were): the
    # random selections and a third of the others known, as plans made with the pps design are.
    known_rng = np.random.default_rng(seed + 1)
    known = frame["is_random"].to_numpy() | (known_rng.random(frame.height) < 0.3)
    return frame.with_columns(
        pl.Series("probability_sample", known),
        pl.Series("weight", np.where(known, known_rng.uniform(1.0, 20.0, frame.height), 1.0)),
    )


def log_evaluation_run(
    settings: Settings,
    config: Config,
    *,
    predictions: pl.DataFrame | None = None,
    lineage: dict[str, Any] | None = None,
    run_name: str = "web-test",
) -> str:
    """An MLflow run with the artifacts the Modell page and the HTML report read; returns its id.

    ``predictions`` and ``lineage`` default to a random evaluation and the test home's lineage.
    """
    from models.evaluation import (
        WEIGHTED,
        has_population,
        metrics_table,
        reliability_tables,
        subgroup_tables,
        summary,
    )
    from models.registry import tracking_for

    predictions = evaluation_predictions(config) if predictions is None else predictions
    lineage = lineage or {
        "snapshot_id": "snapshot-web-test", "feature_set_id": "fs-web-test", "as_of": AS_OF.isoformat(),
        "folds": ["2023", "2024"], "config_hash": config.content_hash(),
    }  # fmt: skip
    metrics = metrics_table(predictions, config)
    tracking = tracking_for(settings)
    with tracking.run(run_name=run_name, tags={"as_of": AS_OF.isoformat()}) as run:
        run.log_params({"as_of": AS_OF.isoformat()})
        run.log_dict(lineage, "lineage.json")
        run.log_dict(summary(metrics, "random"), "evaluation/summary_random.json")
        if has_population(metrics, WEIGHTED):
            run.log_dict(summary(metrics, WEIGHTED), "evaluation/summary_weighted.json")
        run.log_table(metrics, "evaluation/metrics.parquet")
        run.log_table(reliability_tables(predictions, 10), "evaluation/reliability.parquet")
        run.log_table(subgroup_tables(predictions, config), "evaluation/subgroups.parquet")
        run.log_dict(family_choice(config), "family/choice.json")
        return run.run_id


def family_choice(config: Config) -> dict[str, Any]:
    """``family/choice.json`` of the served model: every other area the blend, the rest the elastic net."""
    from models.family import FINAL, FamilyChoice

    evidence = [
        {"family": "lightgbm", "against": "elastic_net", "metric": "precision_at_10pct", "value": -0.012,
         "lower": -0.05, "upper": 0.03, "roc_auc": {"value": -0.004, "lower": -0.02, "upper": 0.01}},
        {"family": "blend", "against": "elastic_net", "metric": "precision_at_10pct", "value": 0.021,
         "lower": -0.01, "upper": 0.05, "roc_auc": {"value": 0.006, "lower": -0.01, "upper": 0.02}},
    ]  # fmt: skip
    return {
        FINAL: {
            area: FamilyChoice(
                area, "blend" if index % 2 else "elastic_net", "test", ["2022", "2023"], 800, evidence
            ).to_dict()
            for index, area in enumerate(config.risk_area_ids)
        }
    }


def prepared_home(root: Path, tracking_uri: str, artifact_root: Path) -> WebHome:
    """World → ingest → scores (published) → evaluation run → keys, all under ``root``."""
    settings = Settings(
        home=root / "home", mlflow_tracking_uri=tracking_uri, mlflow_artifact_root=artifact_root
    )
    with environment(TILLSYNSRISK_HOME=str(settings.home), MLFLOW_TRACKING_URI=tracking_uri):
        generated_and_ingested(CliRunner(), root / "world", seed=7, units=60, years=3)
    config = settings.load_config()
    fast = config.model_copy(update={"model": config.model.model_copy(update={"bootstrap_resamples": 50})})
    run_id = log_evaluation_run(settings, fast)
    store = ScoreStore(settings.scores_dir)
    # An earlier scoring (other draws, a quarter before), stored but not published: what the overview
    # compares the current one with.
    previous = store.write(
        scores_for_snapshot(settings, config, seed=1, as_of=PREVIOUS_AS_OF),
        model_name="tillsynsrisk",
        model_version="1",
        run_id=run_id,
        feature_set_id="fs-web-test",
        snapshot_id=SnapshotStore(settings.snapshots_dir).current_id() or "",
        config_hash=config.content_hash(),
    )
    frame = scores_for_snapshot(settings, config)
    return published_home(settings, config, run_id, frame, "fs-web-test", previous_score_id=previous.score_id)


def published_home(
    settings: Settings,
    config: Config,
    run_id: str,
    frame: pl.DataFrame,
    feature_set_id: str,
    *,
    previous_score_id: str = "",
) -> WebHome:
    """Store and publish ``frame`` as the served scoring of the home's snapshot, and make two keys."""
    store = ScoreStore(settings.scores_dir)
    metadata = store.write(
        frame,
        model_name="tillsynsrisk",
        model_version="1",
        run_id=run_id,
        feature_set_id=feature_set_id,
        snapshot_id=SnapshotStore(settings.snapshots_dir).current_id() or "",
        config_hash=config.content_hash(),
        targets=WEB_TARGETS,
    )
    store.publish(metadata.score_id)
    from api.security import ApiKeyStore

    key_store = ApiKeyStore(settings.api_keys_db)
    keys = {
        "planner": key_store.create("planerare", PLANNER_SCOPES)[1],
        "reader": key_store.create("lasare", READER_SCOPES)[1],
    }
    key_store.close()
    unit_ids = frame.filter(pl.col("risk_area") == OVERALL).sort("rank")["unit_id"].to_list()
    return WebHome(settings, metadata.score_id, run_id, keys, unit_ids, previous_score_id)


def signed_in(client: TestClient, key: str) -> TestClient:
    """``client`` signed in to the pages with ``key`` (through the sign-in form, CSRF token included)."""
    form = client.get("/logga-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    response = client.post(
        "/logga-in", data={"api_key": key, "next": "/", "csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return client


def csrf_of(client: TestClient) -> str:
    """The signed-in session's CSRF token, as the plan form carries it."""
    page = client.get("/planera")
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]


class LiveServer:
    """``create_app(settings)`` served by uvicorn in a thread on 127.0.0.1 (a free port)."""

    def __init__(self, settings: Settings) -> None:
        from api.main import create_app

        self.app = create_app(settings)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=0, log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="web-test-server", daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    @property
    def url(self) -> str:
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
