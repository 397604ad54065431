"""studies/paired_gate.py: the simulated windows reach the real gate, both ways."""

from __future__ import annotations

import numpy as np

import studies.paired_gate as study
from engine.config import Config


def test_a_copy_of_the_champion_is_never_let_through_and_a_far_better_challenger_is(
    models_config: Config,
) -> None:
    # Given a window where the challenger scores exactly as the champion does
    rng = np.random.default_rng(5)
    same = study.draw(rng, 322, {})
    same = same.with_columns(same.get_column("p_1").alias("p_2"))
    # Then neither reading of the gate replaces the champion (every difference is zero)
    assert study.replaced(same, models_config.model) == {"none": False, "bonferroni": False}
    # Given a large window where the challenger almost knows the truth in the 0.46 area and equals the
    # champion elsewhere (at 322 inspections per area even that is not reliably told apart)
    far_better = study.draw(rng, 3000, {"b": 0.01})
    # Then both readings let it through
    assert study.replaced(far_better, models_config.model) == {"none": True, "bonferroni": True}
