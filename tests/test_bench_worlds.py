"""bench/bench_worlds.py: the unit's own risk as the truth (the inspecting team's effect taken out)."""

from __future__ import annotations

import math

import polars as pl
import pytest

from models.evaluation import ORACLE_COLUMN
from tests.bench_support import bench_module

bench = bench_module("bench_worlds")


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


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
    result = bench.own_risk_truth(rows, truth)
    # Then both known inspections carry the same own risk, in the rows' order, and nothing else changed
    assert result.columns == rows.columns
    assert result.get_column("inspection_id").to_list() == ["b", "a", "c"]
    values = result.get_column(ORACLE_COLUMN).to_list()
    assert values[0] == pytest.approx(own, abs=1e-12)
    assert values[1] == pytest.approx(own, abs=1e-12)
    assert values[2] is None
    assert _logit(strict) - _logit(values[1]) == pytest.approx(1.1)


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
    result = bench.own_risk_truth(predictions, truth, column="score_oracle")
    # Then only the oracle moved, by the team's logit effect
    assert _logit(strict) - _logit(result.item(0, "score_oracle")) == pytest.approx(1.1)
    assert result.item(0, "score_model") == 0.3
