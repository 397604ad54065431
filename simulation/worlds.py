"""A synthetic world's training data in memory: what the simulation, studies and training bench fit on."""

from __future__ import annotations

import datetime as dt

from engine.config import Config
from models.jobs import TrainingData, build_training_data
from synthetic.world import World


def synthetic_training_data(world: World, config: Config) -> tuple[TrainingData, dt.date]:
    """An in-memory synthetic world's training data (with the oracle) and its planning date.

    The planning date is the first day of the year after the world's history, as in ``make demo``.
    """
    as_of = dt.date(int(world.params.end[:4]) + 1, 1, 1)
    data = build_training_data(
        {name: frame.lazy() for name, frame in world.tables.items()},
        config,
        as_of=as_of,
        snapshot_id=f"synthetic-{world.params.seed}-{world.params.n_units}",
        truth_inspections=world.truth["inspections"].lazy(),
    )
    return data, as_of
