"""Why a promotion gate said no: one sentence for the analyst (English), one for the planners (Swedish).

The analyst reads the English sentences on the command line and in the model version's ``forced_despite``
tag; the planners' Modell page shows the Swedish ones (tag ``forced_despite_sv``) when a version was
taken into use with ``--force`` despite its gates. The Swedish sentence names each risk area by its
configured Swedish name and writes its figures with a decimal comma and a real minus sign, as the pages do.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# The populations a gate reads, in the Modell page's words for them (not "slumpvis urval": on that page
# choosing at random is also a way of selecting, by lot, which is something else).
INSPECTED_SV = {
    "random": "slumpvis inspekterade enheter",
    "all": "alla inspekterade enheter",
    "weighted": "inspekterade enheter med känd urvalssannolikhet, viktade",
}
METRIC_SV = {
    "precision_at_5pct": "precision bland de 5 % högst rankade",
    "precision_at_10pct": "precision bland de 10 % högst rankade",
    "precision_at_20pct": "precision bland de 20 % högst rankade",
    "recall_at_10pct": "andel av bristerna bland de 10 % högst rankade",
    "lift_at_10pct": "lyft bland de 10 % högst rankade",
    "roc_auc": "ROC-AUC",
    "average_precision": "genomsnittlig precision",
    "brier": "Brier-poäng",
}
ECE_SV = "förväntat kalibreringsfel (ECE)"


@dataclass(frozen=True)
class GateRefusal:
    """One failed promotion gate with its figures: ``en`` for the analysts, ``sv`` for the planners."""

    en: str
    sv: str


def reasons_en(refusals: Sequence[GateRefusal]) -> list[str]:
    """The English sentences of ``refusals``, in order."""
    return [refusal.en for refusal in refusals]


def reasons_sv(refusals: Sequence[GateRefusal]) -> list[str]:
    """The Swedish sentences of ``refusals``, in order."""
    return [refusal.sv for refusal in refusals]


def area_sv(area: str, area_names: Mapping[str, str] | None) -> str:
    """The risk area's Swedish name from ``area_names`` (id → name), else its id."""
    return (area_names or {}).get(area, area)


def inspected_sv(population: str) -> str:
    """``random`` → ``slumpvis inspekterade enheter`` (an unknown population by its id)."""
    return INSPECTED_SV.get(population, population)


def metric_sv(metric: str) -> str:
    """``precision_at_10pct`` → ``precision bland de 10 % högst rankade`` (an unknown metric by its id)."""
    return METRIC_SV.get(metric, metric)


def decimal_sv(value: float | None, *, signed: bool = False) -> str:
    """``0.095`` → ``0,095``; ``-0.1`` with ``signed`` → ``−0,100``; missing or not finite → ``–``."""
    if value is None or not math.isfinite(value):
        return "–"
    text = f"{value:+.3f}" if signed else f"{value:.3f}"
    return text.replace(".", ",").replace("-", "\N{MINUS SIGN}")


def percent_sv(value: float | None) -> str:
    """A share as a percentage with one decimal: ``0.4`` → ``40,0 %`` (no-break space); missing → ``–``."""
    if value is None or math.isnan(value):
        return "–"
    return f"{100 * value:.1f}\u00a0%".replace(".", ",")
