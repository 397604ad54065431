"""What the candidates' last-inspection and karenstid fields cost when a scoring snapshot is loaded.

The fields are rendered into the candidate JSON once per loaded scoring + ingest snapshot
(``api.serving.served_scores``), so a request pays nothing for them but bytes. This measures, on a
national-scale snapshot (``--units`` units × 5 risk areas + overall, the scores of ``bench_api.py``) and
an inspections table of ``--inspections-per-unit`` decided inspections per unit over ten years:

- the wall and CPU time to build the served indexes without and with the inspections (medians of
  ``--runs``; the CPU time of the process, all threads, is the figure that a busy machine disturbs least);
- the size of a top-50 candidate page without and with them.

    flock /tmp/tillsynsrisk-heavy.lock nice -n 10 .venv/bin/python bench/bench_candidate_load.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_api: the latency bench's scores

AREAS = ("personcentrering", "tillganglighet", "samverkan", "kontinuitet", "systematiskt_kvalitetsarbete")


def inspections_table(unit_ids: list[str], per_unit: int, as_of: dt.date, seed: int) -> pl.LazyFrame:
    """``per_unit`` inspections per unit, decided on random days of the ten years before ``as_of``."""
    rng = np.random.default_rng(seed)
    rows = len(unit_ids) * per_unit
    decided = [as_of - dt.timedelta(days=int(days)) for days in rng.integers(1, 3650, rows)]
    return pl.LazyFrame(
        {
            "inspection_id": [f"i{i}" for i in range(rows)],
            "unit_id": [unit for unit in unit_ids for _ in range(per_unit)],
            "start_date": [day - dt.timedelta(days=30) for day in decided],
            "decision_date": decided,
            "risk_area": [AREAS[i] for i in rng.integers(0, len(AREAS), rows)],
            "finding": [("none", "deficiency", "serious")[i] for i in rng.integers(0, 3, rows)],
            "selection": ["risk_based"] * rows,
            "inclusion_probability": [1.0] * rows,
        },
        schema_overrides={"start_date": pl.Date, "decision_date": pl.Date},
    )


def main() -> None:
    from bench_api import _scores_frame

    from api.schemas import CandidateQuery
    from api.serving import candidate_page_json, loaded_inspections, served_scores
    from engine.config import load_config
    from engine.scores import ScoreStore

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--units", type=int, default=20_000)
    parser.add_argument("--inspections-per-unit", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--home", type=Path, default=Path("/tmp/bench-candidate-load"))
    args = parser.parse_args()
    store = ScoreStore(args.home / "scores")
    meta = store.write(
        _scores_frame(args.units, seed=1),
        model_name="tillsynsrisk",
        model_version="bench",
        feature_set_id="bench",
        snapshot_id="bench",
        config_hash="bench",
    )
    snapshot = store.open(meta.score_id)
    units = snapshot.frame["unit_id"].unique().sort().to_list()
    table = inspections_table(units, args.inspections_per_unit, meta.as_of, seed=2)
    months = load_config().planning.cooldown_months
    query = CandidateQuery(risk_area="tillganglighet", limit=50)
    for label, frame in (("without inspections", None), ("with inspections", table)):
        seconds, cpu_seconds, status_seconds, page = [], [], [], b""
        for _ in range(args.runs):
            started, cpu_started = time.perf_counter(), time.process_time()
            loaded = loaded_inspections(frame, "bench", meta.as_of, months)
            status_seconds.append(time.perf_counter() - started)
            served = served_scores(snapshot, {}, loaded)
            seconds.append(time.perf_counter() - started)
            cpu_seconds.append(time.process_time() - cpu_started)
            page = candidate_page_json(served.areas["tillganglighet"], query, path="/v1/candidates")
        cooling = sum(1 for status in loaded.status.values() if status["in_cooldown"])
        print(
            f"{label}: build {statistics.median(seconds):.2f} s wall, {statistics.median(cpu_seconds):.2f} s "
            f"CPU (inspection status {statistics.median(status_seconds):.2f} s wall), top-50 page "
            f"{len(page):,} bytes, {len(loaded.status):,} units with inspections, {cooling:,} in karenstid"
        )


if __name__ == "__main__":
    main()
