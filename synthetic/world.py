"""Orchestrates one synthetic world: structure → latent risk → observations → inspections (→ faults).

With inspection effects on (``WorldParams.has_feedback``, the realistic scenarios) the inspections are
simulated jointly with the risk they change (synthetic.feedback): the observations the selection
sees are redrawn as the risk changes, the others afterwards, and every table and the truth come from
the final risk.

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
from synthetic.attributes import attribute_table, value_indicator_table
from synthetic.core_indicators import core_indicator_table, is_core_source
from synthetic.events import (
    EventDraws,
    EventModel,
    draw_events,
    event_model,
    events_frame,
    received_by_month,
)
from synthetic.faults import Fault, inject_faults
from synthetic.feedback import Feedback, redraw_events, redraw_measure
from synthetic.indicators import (
    MeasureSeries,
    indicator_frame,
    reported_months,
    risk_slope,
    simulate_measure,
)
from synthetic.inspections import simulate_inspections
from synthetic.numeric import FloatArray
from synthetic.params import AREAS, WorldParams
from synthetic.reporting import availability_reporting, complaint_eservice_factor
from synthetic.risk import Risk, risk_truth_frame, simulate_risk
from synthetic.structure import Structure, build_structure, units_frame
from synthetic.visits import simulate_visits

logger = logging.getLogger(__name__)

# New streams go at the end: SeedSequence children depend on their position, so appending keeps every
# earlier stream (and so every table of an earlier generator version) the same.
_STREAMS = (
    "structure", "risk", "events", "indicators", "inspections", "visits", "faults", "covariates",
    "attributes", "scenario", "core_indicators", "feedback", "reporting",
)  # fmt: skip
_AVAILABILITY = ("phone_same_day_share", "assessment_3d_share")


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
    propensity = _complaint_propensity(structure.n_units, params, rng["scenario"])
    eservice = complaint_eservice_factor(structure, params, rng["reporting"])
    availability = availability_reporting(structure, params, rng["reporting"])
    changes = dict.fromkeys(_AVAILABILITY, availability) if availability is not None else {}
    models = {
        name: event_model(
            name,
            source,
            structure,
            risk,
            params=params,
            unit_propensity=propensity if name == "complaints" else None,
            reporting_factor=eservice if name == "complaints" else None,
        )
        for name, source in config.event_sources.items()
    }
    drawn = {
        name: draw_events(model, structure, risk.deviation, params=params, rng=rng["events"])
        for name, model in models.items()
    }
    measures: dict[str, MeasureSeries] = {}
    reported: dict[str, np.ndarray] = {}
    for source in config.indicator_sources.values():
        if is_core_source(source) or source.value_measures:
            continue
        for measure, spec in source.measures.items():
            measures[measure] = simulate_measure(
                measure,
                spec.risk_area,
                structure,
                risk,
                params=params,
                rng=rng["indicators"],
                reporting=changes.get(measure),
            )
        shown = reported_months(source.file, structure, params, rng["indicators"])
        reported.update(dict.fromkeys(source.measures, shown))
    phone = "phone_same_day_share"
    feedback = None
    if params.has_feedback:
        feedback = Feedback(
            structure,
            risk,
            complaints=models["complaints"],
            complaint_draws=drawn["complaints"],
            phone=measures[phone],
            phone_reported=reported[phone],
            params=params,
            rng=rng["feedback"],
            phone_tracking=availability.tracking if availability is not None else None,
        )
        complaints_received, phone_share = feedback.received, feedback.phone_share
    else:
        complaints_received = received_by_month(drawn["complaints"], structure)
        phone_share = _observed_share(_masked(measures[phone], reported[phone]))
    inspections, inspection_truth = simulate_inspections(
        structure,
        risk,
        complaints_received,
        phone_share,
        params=params,
        rng=rng["inspections"],
        covariate_rng=rng["covariates"],
        feedback=feedback,
    )
    if feedback is not None:
        drawn, measures = _after_feedback(
            feedback,
            models,
            drawn,
            measures,
            config=config,
            params=params,
            rng=rng["feedback"],
            tracking={m: c.tracking for m, c in changes.items() if c is not None},
        )
        risk = feedback.risk
    tables: dict[str, pl.DataFrame] = {
        "providers": structure.providers,
        "units": units_frame(structure, config.unit_types[0]),
    }
    for name, event_source in config.event_sources.items():
        tables[event_source.file] = events_frame(drawn[name], models[name], structure)
    series: dict[str, MeasureSeries] = {}
    for source in config.indicator_sources.values():
        if is_core_source(source):
            tables[source.file] = core_indicator_table(
                source, structure, risk, params, rng["core_indicators"]
            )
            continue
        if source.value_measures:
            tables[source.file] = value_indicator_table(source, structure, risk, params, rng["attributes"])
            continue
        own = {m: measures[m] for m in source.measures}
        shown = reported[next(iter(source.measures))]
        tables[source.file] = indicator_frame(source, own, shown, structure)
        series.update({m: _masked(s, shown) for m, s in own.items()})
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


def _after_feedback(
    feedback: Feedback,
    models: dict[str, EventModel],
    drawn: dict[str, EventDraws],
    measures: dict[str, MeasureSeries],
    *,
    config: Config,
    params: WorldParams,
    rng: np.random.Generator,
    tracking: dict[str, FloatArray],
) -> tuple[dict[str, EventDraws], dict[str, MeasureSeries]]:
    """Every observation the selection did not see, redrawn where the risk changed (``tracking``: the
    factor on a measure's risk slope after a reporting change, per unit and month)."""
    final = feedback.risk
    events = {
        name: feedback.complaint_draws()
        if name == "complaints"
        else redraw_events(
            drawn[name],
            models[name],
            feedback.structure,
            final=final,
            first_changed=feedback.first_changed,
            params=params,
            rng=rng,
        )
        for name in drawn
    }
    areas = {m: spec.risk_area for s in config.indicator_sources.values() for m, spec in s.measures.items()}
    series = {
        name: feedback.phone
        if name == "phone_same_day_share"
        else redraw_measure(
            values,
            AREAS.index(areas[name]),
            slope=risk_slope(name, params),
            base=feedback.base,
            final=final,
            rng=rng,
            tracking=tracking.get(name),
        )
        for name, values in measures.items()
    }
    return events, series


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
