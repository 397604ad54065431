"""The figures' numbers are the metrics they are labelled with."""

from __future__ import annotations

import numpy as np
import polars as pl

from models.plots import CURVE_FRACTIONS, _precision_curve


def test_the_precision_curve_is_each_folds_top_k_hits_over_the_rows_selected() -> None:
    # given two test folds of unequal size with scores that rank positives high but not perfectly
    rng = np.random.default_rng(5)
    sizes = {"2023": 37, "2024": 120}
    frame = pl.DataFrame(
        {
            "fold": [fold for fold, n in sizes.items() for _ in range(n)],
            "score_model": rng.random(sum(sizes.values())),
            "label": (rng.random(sum(sizes.values())) < 0.3).astype(np.int64),
        }
    ).with_columns(pl.col("score_model") + 0.5 * pl.col("label"))
    # when the curve is drawn
    curve = _precision_curve(frame, "score_model")
    # then each point is the positives among each fold's top ceil(fraction × n) over the rows selected
    for fraction, value in zip(CURVE_FRACTIONS, curve, strict=True):
        hits = selected = 0
        for fold, n in sizes.items():
            k = max(1, int(np.ceil(fraction * n)))
            ranked = frame.filter(pl.col("fold") == fold).sort("score_model", descending=True)
            hits += int(ranked.head(k).get_column("label").sum())
            selected += k
        assert value == hits / selected, f"at {fraction:.2f}: {value} != {hits}/{selected}"
