"""Promotion evidence: the paired comparison of a challenger with the champion on the same inspections.

The one use-case function behind ``tillsynsrisk promote``'s paired gate (:func:`paired_evidence`); the gates
themselves and the registry live in :mod:`models.registry`.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.config import Config
from engine.snapshots import Snapshot
from models.backtest import BacktestResult, PairedVerdict, paired_verdict, run_backtest, window_inspections
from models.registry import current_champion_run, load_run, load_version
from models.tracking import Tracking


@dataclass(frozen=True)
class PairedEvidence:
    """The champion and the challenger scored on their newest common window, and the gate's reading."""

    backtest: BacktestResult
    verdict: PairedVerdict | None
    """None when the window has no area the gate can read."""


@dataclass(frozen=True)
class NoPairedEvidence:
    """Why there is no paired comparison (no champion, no window large enough, the champion cannot score)."""

    reason: str


def paired_evidence(
    tracking: Tracking, run_id: str, snapshot: Snapshot | None, config: Config
) -> PairedEvidence | NoPairedEvidence:
    """The paired comparison of run ``run_id`` with the champion on their newest common window.

    The window is every inspection in ``snapshot`` decided on or after the later of the two training
    cut-offs (both models are out of sample there); it must hold ``config.model.paired_gate_min_n``
    inspections.
    """
    current = current_champion_run(tracking)
    if current is None:
        return NoPairedEvidence("there is no champion to compare with")
    if current[1] == run_id:
        return NoPairedEvidence("the run is the champion already")
    if snapshot is None:
        return NoPairedEvidence("there is no current snapshot to compare on")
    champion = load_version(tracking, current[0])
    challenger = load_run(tracking, run_id)
    since = max(champion.as_of, challenger.as_of)
    tables = snapshot.tables()
    window = window_inspections(
        tables["inspections"], since=since, until=None, lead_time_days=config.model.lead_time_days
    ).collect()
    if window.height < config.model.paired_gate_min_n:
        return NoPairedEvidence(
            f"{window.height} inspections since {since}, fewer than the {config.model.paired_gate_min_n} "
            "the paired gate needs"
        )
    try:
        result = run_backtest(tables, config, [champion, challenger], since=since)
    except Exception as error:  # e.g. the champion needs features this configuration lacks: no evidence
        return NoPairedEvidence(f"no paired comparison with the champion: {error}")
    verdict = paired_verdict(result, challenger.version, config.model, config.risk_area_names_sv)
    return PairedEvidence(backtest=result, verdict=verdict)
