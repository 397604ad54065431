"""bench/bench_paired_gate.py: the simulated windows reach the real gate, both ways."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

from engine.config import Config


def _load() -> ModuleType:
    path = Path(__file__).resolve().parent.parent / "bench" / "bench_paired_gate.py"
    spec = importlib.util.spec_from_file_location("bench_paired_gate", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


bench = _load()


def test_a_copy_of_the_champion_is_never_let_through_and_a_far_better_challenger_is(
    models_config: Config,
) -> None:
    # Given a window where the challenger scores exactly as the champion does
    rng = np.random.default_rng(5)
    same = bench.draw(rng, 322, {})
    same = same.with_columns(same.get_column("p_1").alias("p_2"))
    # Then neither reading of the gate replaces the champion (every difference is zero)
    assert bench.replaced(same, models_config.model) == {"none": False, "bonferroni": False}
    # Given a large window where the challenger almost knows the truth in the 0.46 area and equals the
    # champion elsewhere (at 322 inspections per area even that is not reliably told apart)
    far_better = bench.draw(rng, 3000, {"b": 0.01})
    # Then both readings let it through
    assert bench.replaced(far_better, models_config.model) == {"none": True, "bonferroni": True}
