"""The ranking target of each risk area: which outcome orders its units, and why.

Three targets (``engine.config.RankingTarget``):

- ``deficiency``: P(any deficiency), evaluated against the deficiency label;
- ``serious``: P(serious finding, föreläggande), evaluated against the serious label;
- ``ordinal``: the expected level of the finding, none 0 < deficiency 1 < serious 2. A serious finding is
  also a deficiency, so P(level ≥ 1) = P(deficiency), P(level ≥ 2) = P(serious) and the expected level is
  P(deficiency) + P(serious): deficiencies order the units, serious findings count twice. It is evaluated
  against the serious label (the level a ranking by any deficiency cannot separate where nearly every
  unit has one).

``auto`` (the default) resolves per area from the rows the model is fitted on (point in time: never a
test year's labels): ``serious`` where their share with any deficiency exceeds the threshold, else
``deficiency``. ``serious`` and ``ordinal`` need a fitted serious-finding model
(``models.training.MIN_SERIOUS_POSITIVES``); without one the area falls back to ``deficiency`` with the
reason stated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import polars as pl

from engine.config import ModelSettings, RankingTarget

TARGETS: tuple[RankingTarget, ...] = ("deficiency", "serious", "ordinal")
TARGETS_ARTIFACT = "targets.json"  # in each training run: the resolved targets and the evaluated ones
DEFAULT_TARGET: RankingTarget = "deficiency"  # models trained before targets existed ranked by it


@dataclass(frozen=True)
class TargetChoice:
    """One area's resolved ranking target and why (``RiskModel.metadata["targets"][area]``)."""

    target: RankingTarget
    configured: str
    base_rate: float
    serious_rate: float
    threshold: float
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve_target(
    configured: str, *, base_rate: float, serious_rate: float, threshold: float, serious_model: bool
) -> TargetChoice:
    """The target ``configured`` (``auto`` or a target) resolves to, given the training rows' rates.

    Parameters
    ----------
    configured
        ``auto``, ``deficiency``, ``serious`` or ``ordinal``.
    base_rate, serious_rate
        Shares of the training rows with any deficiency and with a serious finding.
    threshold
        ``auto`` chooses ``serious`` above this base rate.
    serious_model
        Whether a separate serious-finding model was fitted (``serious``/``ordinal`` need one).

    Examples
    --------
    >>> resolve_target("auto", base_rate=0.9, serious_rate=0.06, threshold=0.6, serious_model=True).target
    'serious'
    """
    if configured == "auto":
        wanted: RankingTarget = "serious" if base_rate > threshold else "deficiency"
        comparison = "above" if wanted == "serious" else "at or below"
        why = (
            f"auto: {base_rate:.0%} of the training inspections (weighted) found a deficiency, "
            f"{comparison} the threshold {threshold:.0%}"
        )
    elif configured in TARGETS:
        wanted = configured  # type: ignore[assignment]
        why = f"configured: {configured}"
    else:
        raise ValueError(f"target must be one of {('auto', *TARGETS)}, got {configured!r}")
    if wanted != "deficiency" and not serious_model:
        return TargetChoice(
            target="deficiency",
            configured=configured,
            base_rate=base_rate,
            serious_rate=serious_rate,
            threshold=threshold,
            reason=(
                f"{why}, so {wanted} was wanted; but the training rows hold too few serious findings "
                f"({serious_rate:.1%}) for a separate serious-finding model: ranked by deficiency instead"
            ),
        )
    return TargetChoice(
        target=wanted,
        configured=configured,
        base_rate=base_rate,
        serious_rate=serious_rate,
        threshold=threshold,
        reason=f"{why}: ranked by {wanted}",
    )


def resolve_targets(
    trained_on: pl.DataFrame,
    risk_areas: Sequence[str],
    settings: ModelSettings,
    serious_model: Mapping[str, bool],
) -> dict[str, TargetChoice]:
    """Every area's target, resolved from ``trained_on`` (the rows its model is fitted on).

    The rates are weighted by the rows' training weights (inverse inclusion probabilities where known),
    so they estimate the share of units with a finding rather than the share among the units chosen
    because they looked risky: on the default world the unweighted share of tillgänglighet was 62 %
    against 41 % among random selections. ``serious_model[area]`` says whether the area's model has a
    separate serious-finding model.
    """
    choices = {}
    for area in risk_areas:
        rows = trained_on.filter(pl.col("risk_area") == area)
        choices[area] = resolve_target(
            settings.targets.get(area, "auto"),
            base_rate=weighted_rate(rows, "deficiency"),
            serious_rate=weighted_rate(rows, "serious"),
            threshold=settings.target_auto_threshold,
            serious_model=serious_model.get(area, False),
        )
    return choices


def weighted_rate(rows: pl.DataFrame, label: str) -> float:
    """The ``weight``-weighted share of ``rows`` with ``label`` (unweighted without weights; 0 when empty)."""
    if rows.is_empty():
        return 0.0
    y = rows.get_column(label).cast(pl.Float64).to_numpy()
    if "weight" not in rows.columns:
        return float(y.mean())
    weights = rows.get_column("weight").cast(pl.Float64).to_numpy()
    return float(np.average(y, weights=weights)) if weights.sum() > 0 else float(y.mean())


def ranking_targets(metadata: Mapping[str, Any]) -> dict[str, str]:
    """Area → resolved target of a model's ``metadata`` (empty for models from before targets)."""
    return {area: str(entry["target"]) for area, entry in metadata.get("targets", {}).items()}


def target_of(metadata: Mapping[str, Any], area: str) -> RankingTarget:
    """The ranking target a model's ``metadata`` records for ``area`` (``deficiency`` when none)."""
    entry = metadata.get("targets", {}).get(area)
    return entry["target"] if entry else DEFAULT_TARGET


def label_column(target: str) -> str:
    """The 0/1 label a ranking by ``target`` is evaluated against (``ordinal``: the serious label)."""
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    return "deficiency" if target == "deficiency" else "serious"


RANKING_TARGET_SV = {
    "deficiency": "risk för brist",
    "serious": "risk för allvarlig brist",
    "ordinal": "förväntad nivå på fynden (risk för brist plus risk för allvarlig brist)",
}
MOST_HAVE_A_DEFICIENCY = 0.9  # from this base rate the sentence says "nästan alla" instead of "de flesta"


def target_basis_sv(entry: Any) -> str:
    """What ranks an area, short: ``efter risk för allvarlig brist`` (``entry``: its targets entry)."""
    target = entry.get("target", "deficiency") if isinstance(entry, dict) else "deficiency"
    return f"efter {RANKING_TARGET_SV.get(target, RANKING_TARGET_SV['deficiency'])}"


def target_sentence_sv(entry: Any) -> str:
    """What ranks an area and why, in one Swedish sentence for planners.

    ``entry`` is the area's ``ScoreMetadata.targets`` entry (target, configured, base_rate, threshold);
    None for a scoring from before ranking targets (ranked by risk för brist).
    """
    if not isinstance(entry, dict) or "target" not in entry:
        return "Rangordnas efter risk för brist."
    target, configured = entry["target"], entry.get("configured", "auto")
    base_rate = entry.get("base_rate")
    rate = f"andelen brister är {_percent_sv(base_rate)} i området" if base_rate is not None else ""
    threshold = entry.get("threshold")
    common = base_rate is not None and threshold is not None and base_rate > threshold
    if target != "deficiency" and common:
        most = "nästan alla" if float(base_rate or 0.0) >= MOST_HAVE_A_DEFICIENCY else "de flesta"
        why = f"{rate}, så {most} har någon brist"
    elif target == "deficiency" and (
        configured in {"serious", "ordinal"} or (configured == "auto" and common)
    ):
        why = f"{rate}, men historiken har för få allvarliga brister för en egen modell"
    else:
        why = rate
    chosen = "; vald i konfigurationen" if configured != "auto" else ""
    reason = f" ({why}{chosen})" if why or chosen else ""
    return f"Rangordnas efter {RANKING_TARGET_SV.get(target, target)}{reason}."


def _percent_sv(value: float) -> str:
    """``0.94`` → ``94 %`` (no-break space, as the planners' pages write it)."""
    return f"{round(value * 100):d}\u00a0%"


def target_label_sv(target: str) -> str:
    """What a random selection finds, in words, for the label ``target`` is evaluated against."""
    return "andel med brist" if target == "deficiency" else "andel med allvarlig brist"
