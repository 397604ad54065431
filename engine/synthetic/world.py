"""Orchestrates one synthetic world: structure → latent risk → observations → inspections (→ faults).

Every component draws from its own child of ``numpy.random.SeedSequence(seed)``, so the world is
deterministic per seed and switching ``with_visits`` or ``with_faults`` leaves every other table
unchanged (faults then differ from the clean world in exactly the recorded cells).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from engine.config import Config
from engine.synthetic.attributes import attribute_table, value_indicator_table
from engine.synthetic.core_indicators import core_indicator_table, is_core_source
from engine.synthetic.events import received_counts, simulate_events
from engine.synthetic.faults import Fault, inject_faults
from engine.synthetic.indicators import MeasureSeries, indicator_frame, reported_months, simulate_measure
from engine.synthetic.inspections import simulate_inspections
from engine.synthetic.params import AREAS, WorldParams
from engine.synthetic.risk import Risk, risk_truth_frame, simulate_risk
from engine.synthetic.structure import Structure, build_structure, units_frame
from engine.synthetic.visits import simulate_visits

logger = logging.getLogger(__name__)

# New streams go at the end: SeedSequence children depend on their position, so appending keeps every
# earlier stream (and so every table of an earlier generator version) the same.
_STREAMS = (
    "structure", "risk", "events", "indicators", "inspections", "visits", "faults", "covariates",
    "attributes", "scenario", "core_indicators",
)  # fmt: skip


@dataclass(frozen=True)
class World:
    """A generated world: the contract tables, the truth behind them and the injected faults."""

    params: WorldParams
    tables: dict[str, pl.DataFrame]
    truth: dict[str, pl.DataFrame]
    faults: list[Fault] = field(default_factory=list)


def generate_world(params: WorldParams, config: Config) -> World:
    """Generate the world described by ``params`` for the sources and risk areas of ``config``."""
    _check_config(config, params)
    streams = dict(zip(_STREAMS, np.random.SeedSequence(params.seed).spawn(len(_STREAMS)), strict=True))
    rng = {name: np.random.default_rng(seq) for name, seq in streams.items()}
    structure = build_structure(params, rng["structure"])
    risk = simulate_risk(structure, params, rng["risk"])
    tables: dict[str, pl.DataFrame] = {
        "providers": structure.providers,
        "units": units_frame(structure, config.unit_types[0]),
    }
    propensity = _complaint_propensity(structure.n_units, params, rng["scenario"])
    for name, event_source in config.event_sources.items():
        tables[event_source.file] = simulate_events(
            name,
            event_source,
            structure,
            risk,
            params=params,
            rng=rng["events"],
            unit_propensity=propensity if name == "complaints" else None,
        )
    series: dict[str, MeasureSeries] = {}
    for source in config.indicator_sources.values():
        if is_core_source(source):
            core_rng = rng["core_indicators"]
            tables[source.file] = core_indicator_table(source, structure, risk, params, core_rng)
            continue
        if source.value_measures:
            tables[source.file] = value_indicator_table(source, structure, risk, params, rng["attributes"])
            continue
        measures = {
            measure: simulate_measure(
                measure, spec.risk_area, structure, risk, params=params, rng=rng["indicators"]
            )
            for measure, spec in source.measures.items()
        }
        reported = reported_months(source.file, structure, params, rng["indicators"])
        tables[source.file] = indicator_frame(source, measures, reported, structure)
        series.update({m: _masked(s, reported) for m, s in measures.items()})
    complaints_file = config.event_sources["complaints"].file
    inspections, inspection_truth = simulate_inspections(
        structure,
        risk,
        received_counts(tables[complaints_file], structure),
        _observed_share(series["phone_same_day_share"]),
        params=params,
        rng=rng["inspections"],
        covariate_rng=rng["covariates"],
    )
    tables["inspections"] = inspections
    for attribute_source in config.attribute_sources.values():
        tables[attribute_source.file] = attribute_table(
            attribute_source, structure, risk, params, rng["attributes"]
        )
    truth = {"risk": risk_truth_frame(structure, risk), "inspections": inspection_truth}
    if params.with_visits:
        visits, continuity_truth = simulate_visits(structure, risk, series, params, rng["visits"])
        tables["visits"] = visits
        truth["continuity"] = continuity_truth
    faults: list[Fault] = []
    if params.with_faults:
        tables, faults = inject_faults(tables, config, structure, rng["faults"])
    logger.info("generated world seed=%s: %s", params.seed, {k: v.height for k, v in tables.items()})
    return World(params=params, tables=tables, truth=truth, faults=faults)


def _check_config(config: Config, params: WorldParams) -> None:
    for what, drawn, allowed in (
        ("teams", params.team_effects, config.inspections.teams),
        ("methods", params.method_shares, config.inspections.methods),
    ):
        if set(drawn) - set(allowed):
            raise ValueError(
                f"the generator draws inspection {what} {sorted(drawn)}; "
                f"the configuration allows {sorted(allowed)}"
            )
    if config.risk_area_ids != list(AREAS):
        raise ValueError(
            f"the generator simulates the risk areas {list(AREAS)}; "
            f"the configuration has {config.risk_area_ids}"
        )
    if "complaints" not in config.event_sources:
        raise ValueError(
            f"the generator needs an event source 'complaints'; configured: {sorted(config.event_sources)}"
        )
    measures = {m for source in config.indicator_sources.values() for m in source.measures}
    if "phone_same_day_share" not in measures:
        raise ValueError(
            f"the generator needs the measure 'phone_same_day_share'; configured: {sorted(measures)}"
        )


def _complaint_propensity(n_units: int, params: WorldParams, rng: np.random.Generator) -> np.ndarray | None:
    """Each unit's complaint culture, exp(N(0, sigma)) normalised to mean 1; None (no draw) for sigma 0."""
    if params.complaint_unit_noise == 0:
        return None
    propensity = np.exp(rng.normal(0.0, params.complaint_unit_noise, n_units))
    return np.asarray(propensity / propensity.mean())


def _masked(series: MeasureSeries, reported: np.ndarray) -> MeasureSeries:
    return MeasureSeries(series.true_share, np.where(reported, series.numerator, -1), series.denominator)


def _observed_share(series: MeasureSeries) -> np.ndarray:
    reported = (series.numerator >= 0) & (series.denominator > 0)
    return np.where(reported, series.numerator / np.maximum(series.denominator, 1), np.nan)


__all__ = ["Risk", "Structure", "World", "generate_world"]
