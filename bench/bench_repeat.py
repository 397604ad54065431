"""Check that training and scoring repeat: build everything twice, in two processes, and diff stage by stage.

Usage::

    .venv/bin/python bench/bench_repeat.py [--units 300] [--years 6] [--seed 5] [--threads 2] [--runs 2]

Each run (a fresh process: Python's string hashing and the thread pools start anew) generates the
synthetic world in memory and prints one hash per stage: the world, the training rows, the latest
feature table, each fold's and the final model (trees and calibrators), the fold predictions (the model's
and each baseline's column apart), the metrics, the scoring features, the predictions, the scoring
frame and the score id. The report names every stage whose hash differs between runs; the first one is
where to look. ``--threads`` sets ``[model.lightgbm] num_threads`` (run once with 1 and once with 2 and
compare the printed hashes by hand to check the thread count does not matter).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import polars as pl


def _hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def _frame_hash(frame: pl.DataFrame) -> str:
    buffer = io.BytesIO()
    frame.rechunk().write_parquet(buffer)
    return _hash(buffer.getvalue())


def stage_hashes(units: int, years: int, seed: int, threads: int) -> dict[str, Any]:
    """One hash per stage of generate → features → training rows → models → evaluation → scores."""
    from engine.config import load_config
    from engine.scores import ScoreStore
    from features.pipeline import build_features
    from models.jobs import evaluation_splits, temporal_evaluation
    from models.training import fit_risk_models
    from models.validation import final_split
    from serving.scoring import scores_frame
    from simulation.worlds import synthetic_training_data
    from synthetic.params import WorldParams
    from synthetic.world import generate_world

    config = load_config(None)
    lightgbm = config.model.lightgbm.model_copy(update={"num_threads": threads})
    config = config.model_copy(update={"model": config.model.model_copy(update={"lightgbm": lightgbm})})
    world = generate_world(WorldParams(seed=seed, n_units=units, years=years), config)
    out: dict[str, Any] = {"world": _frame_hash(world.tables["inspections"])}
    data, as_of = synthetic_training_data(world, config)
    out["training_rows"] = _frame_hash(data.rows)
    out["latest_features"] = _frame_hash(data.latest_features)
    splits = evaluation_splits(data.rows, config, as_of)
    models = fit_risk_models(
        data.rows, [*splits, final_split(as_of)], data.catalog, config.risk_area_ids, config.model
    )
    for index, model in enumerate(models):
        text = ""
        for area_model in model.area_models.values():
            for trees in (area_model.deficiency, area_model.serious):
                if trees is not None:
                    dump = trees.booster_.model_to_string()
                    text += dump[: dump.find("parameters:")]  # the parameters name the thread count
            text += repr(area_model.deficiency_calibrator.__dict__)
        out[f"model_{index}"] = _hash(text.encode())
    predictions, metrics = temporal_evaluation(data, config, splits, models=models[:-1])
    out["fold_predictions"] = {
        name: _hash(predictions.get_column(name).to_numpy().tobytes())
        for name in predictions.columns
        if predictions.schema[name].is_numeric()
    }
    out["metrics"] = _frame_hash(metrics)
    features = build_features({n: f.lazy() for n, f in world.tables.items()}, [as_of], config).collect()
    out["scoring_features"] = _frame_hash(features)
    predicted = models[-1].predict_frame(features)
    out["predict_frame"] = _frame_hash(predicted)
    frame = scores_frame(
        predicted.lazy(),
        features.lazy(),
        world.tables["units"].lazy(),
        world.tables["providers"].lazy(),
        data.catalog_records,
        explanations_per_row=config.scoring.explanations_per_row,
    ).collect()
    with tempfile.TemporaryDirectory() as directory:
        metadata = ScoreStore(Path(directory)).write(
            frame, model_name="m", model_version="1", feature_set_id="f", snapshot_id="s", config_hash="c"
        )
    out["score_id"] = metadata.score_id
    return out


def _flat(hashes: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in hashes.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = str(value)
    return flat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=300)
    parser.add_argument("--years", type=int, default=6)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--one-run", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_run:
        print(json.dumps(stage_hashes(args.units, args.years, args.seed, args.threads)))
        return
    command = [sys.executable, __file__, "--one-run", *sys.argv[1:]]
    runs = [
        _flat(json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout))
        for _ in range(args.runs)
    ]
    for stage in runs[0]:
        values = {run[stage] for run in runs}
        print(
            f"{stage:40s} {'same' if len(values) == 1 else 'DIFFERS'}  {' '.join(run[stage] for run in runs)}"
        )


if __name__ == "__main__":
    main()
