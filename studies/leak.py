"""How much of the home department's strictness reaches a score: a measure only a synthetic world can take."""

from __future__ import annotations

import numpy as np

from synthetic.numeric import logit

FloatArray = np.ndarray


def home_team_leak(score: FloatArray, own_risk: FloatArray, home_effect: FloatArray) -> float:
    """How much of the home department's team effect reaches a score, per unit of the unit's own risk.

    Least squares of logit(score) on logit(own risk) and the logit effect of the team that inspects the
    unit's region by default: the ratio of the second coefficient to the first. 0 = the score ranks by
    the unit's own risk alone; 1 = the home team's strictness enters the score as fully as a difference
    in the unit's own risk of the same size would. Only where the truth is known (synthetic worlds).
    """

    def clipped_logit(p: FloatArray) -> FloatArray:
        return logit(np.clip(np.asarray(p, dtype=np.float64), 1e-12, 1 - 1e-12))

    design = np.column_stack(
        [np.ones(len(score)), clipped_logit(own_risk), np.asarray(home_effect, dtype=float)]
    )
    coefficients, *_ = np.linalg.lstsq(design, clipped_logit(score), rcond=None)
    return float(coefficients[2] / coefficients[1])
