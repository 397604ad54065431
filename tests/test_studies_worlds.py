"""studies/worlds.py: the unit's own risk as the truth (the inspecting team's effect taken out)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import polars as pl
import pytest

import studies.worlds as study
from engine.config import load_config
from models.evaluation import ORACLE_COLUMN
from models.jobs import evaluation_splits
from simulation.worlds import synthetic_training_data
from synthetic.numeric import logit
from synthetic.scenarios import scenario_params
from synthetic.world import generate_world


def test_own_risk_truth_takes_the_inspecting_teams_logit_effect_out() -> None:
    # Given two inspections of equally risky units (logit −1), one by a strict team (+1.1), one by a
    # lenient team (−1.1), and a third row the truth does not know
    own = 1 / (1 + math.exp(1.0))
    strict = 1 / (1 + math.exp(1.0 - 1.1))
    lenient = 1 / (1 + math.exp(1.0 + 1.1))
    rows = pl.DataFrame(
        {
            "inspection_id": ["b", "a", "c"],
            "risk_area": ["kontinuitet", "kontinuitet", "kontinuitet"],
            ORACLE_COLUMN: [lenient, strict, None],
            "unit_id": ["u2", "u1", "u3"],
        }
    )
    truth = pl.DataFrame(
        {
            "inspection_id": ["a", "b"],
            "risk_area": ["kontinuitet", "kontinuitet"],
            "p_deficiency": [strict, lenient],
            "team_effect": [1.1, -1.1],
        }
    )
    # When the oracle is made the unit's own risk
    result = study.own_risk_truth(rows, truth)
    # Then both known inspections carry the same own risk, in the rows' order, and nothing else changed
    assert result.columns == rows.columns
    assert result.get_column("inspection_id").to_list() == ["b", "a", "c"]
    values = result.get_column(ORACLE_COLUMN).to_list()
    assert values[0] == pytest.approx(own, abs=1e-12)
    assert values[1] == pytest.approx(own, abs=1e-12)
    assert values[2] is None
    assert logit(strict) - logit(values[1]) == pytest.approx(1.1)


def test_own_risk_truth_shifts_the_named_column_of_test_fold_predictions() -> None:
    # Given test-fold predictions, whose oracle is the column score_oracle, beside a model score
    strict = 1 / (1 + math.exp(1.0 - 1.1))
    predictions = pl.DataFrame(
        {
            "inspection_id": ["a"],
            "risk_area": ["kontinuitet"],
            "score_model": [0.3],
            "score_oracle": [strict],
        }
    )
    truth = pl.DataFrame({"inspection_id": ["a"], "risk_area": ["kontinuitet"], "team_effect": [1.1]})
    # When the unit's own risk replaces that column
    result = study.own_risk_truth(predictions, truth, column="score_oracle")
    # Then only the oracle moved, by the team's logit effect
    assert logit(strict) - logit(result.item(0, "score_oracle")) == pytest.approx(1.1)
    assert result.item(0, "score_model") == 0.3


@pytest.mark.slow
def test_the_team_neutral_elastic_net_does_not_depend_on_the_team_that_inspected() -> None:
    # Given a small realistic world (departments with their own strictness) and its last evaluation split
    config = load_config()
    world = generate_world(scenario_params("realistic", seed=3, n_units=300, years=4), config)
    data, as_of = synthetic_training_data(world, config)
    split = evaluation_splits(data.rows, config, as_of)[-1]
    in_test = split.test_filter()
    # When the extra elastic nets score the test fold, once with the recorded teams and once with every
    # test inspection given to the strictest department (the training rows unchanged)
    scored = study.elastic_net_variants(data, [split], config)
    strictest = max(world.params.team_effects, key=world.params.team_effects.__getitem__)
    moved = dataclasses.replace(
        data,
        rows=data.rows.with_columns(pl.when(in_test).then(pl.lit(strictest)).otherwise("team").alias("team")),
    )
    strict = study.elastic_net_variants(moved, [split], config)
    # Then every test row has both scores, and neither changes with the team that inspected
    assert scored.height == data.rows.filter(in_test).height
    for column in (study.NO_REGION_SCORE, study.TEAM_NEUTRAL_SCORE):
        assert scored.get_column(column).is_between(0, 1, closed="none").all()
        np.testing.assert_allclose(strict.get_column(column).to_numpy(), scored.get_column(column).to_numpy())


def test_the_world_study_ranks_every_area_by_deficiency_unless_told_otherwise() -> None:
    # given the study's configuration, with and without an override of one area's target
    from studies.worlds import configured

    pinned = configured([])
    overridden = configured(["targets.samverkan=serious"])
    # then its deficiency labels and truths match what ranks: deficiency everywhere by default
    assert set(pinned.model.targets.values()) == {"deficiency"}, pinned.model.targets
    assert len(pinned.model.targets) == len(pinned.risk_area_ids)
    assert overridden.model.targets["samverkan"] == "serious"
