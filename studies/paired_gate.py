"""How often the paired promotion gate says "better", for a challenger that is not and for one that is.

Usage::

    .venv/bin/python -m studies.paired_gate [--replicates 400] [--n 322] [--seed 1]

``tillsynsrisk promote`` replaces the champion when the paired difference (challenger − champion) of
precision@10 % is worse beyond its 95 % interval in no area and better in at least one
(:func:`models.backtest.paired_verdict`). This script simulates the gate's input without models: five
areas with the base rates of a ``weak`` world (0.12, 0.46, 0.70, 0.87, 0.95), ``--n`` inspections each
(322, the paired window of ``weak`` seed 7 in docs/models.md), a true probability per inspection and
a finding drawn from it, and two scores that are the true log-odds plus independent noise. It counts, over
``--replicates`` draws, how often the gate replaces the champion:

- *equal*: both scores have the same noise (an equally good challenger): every replacement is a false
  one;
- *better in one area*: the challenger's noise is smaller in area "b" (base rate 0.46; better there,
  equal elsewhere); *somewhat better in every area*: smaller noise everywhere. Replacements are the
  gate's power.

Each draw is judged twice on the same bootstrap resamples (:func:`models.backtest.paired_metrics`, the
configured ``bootstrap_resamples``): with ``paired_gate_family = "none"`` ("better" on the 95 %
interval) and ``"bonferroni"`` (on the 1 − 0.05 / 5 = 99 % interval). Nothing is timed.
"""

from __future__ import annotations

import argparse
import datetime as dt

import numpy as np
import polars as pl

from engine.config import ModelSettings, load_config
from models.backtest import BacktestResult, paired_metrics, paired_verdict
from synthetic.numeric import logit, sigmoid

BASE_RATES = {"a": 0.12, "b": 0.46, "c": 0.70, "d": 0.87, "e": 0.95}
RISK_SPREAD = 0.8  # standard deviation of the true log-odds around the area's base rate
NOISE = 1.5  # scoring noise on the log-odds of an equally good model (AUC about 0.6)
BETTER_NOISE = 0.5  # the better challenger's noise in area "b"
SOMEWHAT_BETTER_NOISE = 1.0  # a challenger somewhat better in every area


def draw(rng: np.random.Generator, n: int, challenger_noise: dict[str, float]) -> pl.DataFrame:
    """One window: per area ``n`` inspections, their findings and the two versions' scores."""
    parts = []
    for area, rate in BASE_RATES.items():
        log_odds = float(logit(rate)) + rng.normal(0.0, RISK_SPREAD, n)
        p = sigmoid(log_odds)
        parts.append(
            pl.DataFrame(
                {
                    "risk_area": [area] * n,
                    "is_random": [False] * n,
                    "deficiency": (rng.random(n) < p).astype(np.int64),
                    "p_1": sigmoid(log_odds + rng.normal(0.0, NOISE, n)),
                    "p_2": sigmoid(log_odds + rng.normal(0.0, challenger_noise.get(area, NOISE), n)),
                }
            )
        )
    return pl.concat(parts)


def replaced(frame: pl.DataFrame, settings: ModelSettings) -> dict[str, bool]:
    """Whether the gate replaces the champion, without and with the family correction."""
    counts, metrics, differences = paired_metrics(frame, ["1", "2"], settings)
    versions = [{"version": "1"}, {"version": "2"}]
    result = BacktestResult(dt.date(2025, 1, 1), None, versions, counts, metrics, differences)
    out = {}
    for family in ("none", "bonferroni"):
        verdict = paired_verdict(result, "2", settings.model_copy(update={"paired_gate_family": family}))
        out[family] = verdict is not None and verdict.replace
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--replicates", type=int, default=400)
    parser.add_argument("--n", type=int, default=322)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    settings = load_config().model
    rng = np.random.default_rng(args.seed)
    print(
        f"{args.replicates} draws of 5 areas × {args.n} inspections, {settings.bootstrap_resamples} "
        "bootstrap resamples, gate on paired all precision@10 %"
    )
    print("| challenger | replaced, 95 % per area (none) | replaced, Bonferroni (99 %) |")
    print("|---|---|---|")
    scenarios = (
        ("equal", {}),
        ("better in one area (b)", {"b": BETTER_NOISE}),
        ("somewhat better in every area", dict.fromkeys(BASE_RATES, SOMEWHAT_BETTER_NOISE)),
    )
    for name, noise in scenarios:
        tally = {"none": 0, "bonferroni": 0}
        for _ in range(args.replicates):
            for family, replace in replaced(draw(rng, args.n, noise), settings).items():
                tally[family] += replace
        shares = {family: count / args.replicates for family, count in tally.items()}
        print(f"| {name} | {shares['none']:.3f} | {shares['bonferroni']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
