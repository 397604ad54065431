"""studies.leak: the home department's share in a score, on a case with a known answer."""

from __future__ import annotations

import numpy as np
import pytest

from studies.leak import home_team_leak


def test_home_team_leak_is_the_share_of_the_home_departments_effect_in_the_score() -> None:
    # Given units whose own risk and home department's strictness vary independently
    rng = np.random.default_rng(3)
    own_logit = rng.normal(-1.0, 1.0, 2_000)
    home = rng.choice([-1.1, 0.0, 1.1], 2_000)
    own = 1 / (1 + np.exp(-own_logit))
    # When one score ranks by own risk alone and another carries half the home effect
    neutral = home_team_leak(own, own, home)
    leaky = home_team_leak(1 / (1 + np.exp(-(own_logit + 0.5 * home))), own, home)
    # Then the leak is 0 and 0.5
    assert neutral == pytest.approx(0.0, abs=1e-9)
    assert leaky == pytest.approx(0.5)
