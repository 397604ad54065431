"""Event sources (klagomål, lex Maria): Poisson counts driven by size and risk, expanded to rows.

For source ``s``, unit ``u``, month ``t`` and risk area ``a`` the count is
``Poisson(listed[u, t] / 10_000 * rate[s][a] / 12 * exp(elasticity[s] * deviation[u, t, a]) / norm[s, a])``
where ``norm`` makes the mean multiplier 1 over active unit-months, so ``rate`` is the average yearly
rate per 10,000 listed. Each event gets a uniform day in its month (events outside the unit's active
period are dropped), a category among the area's categories in the configuration, a severity when the
source has severities (the heaviest with probability ``sigmoid(severe_share_intercept +
severe_share_slope * deviation)``), and a received date after a log-normal lag (complaints: days to
weeks; lex Maria: weeks to months). Events received after the extract date (the end of the last month)
are not in the extract: that is the right-censoring IVO's own data has.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from engine.config import EventSource
from synthetic.numeric import FloatArray, IntArray, sigmoid
from synthetic.params import AREAS, WorldParams
from synthetic.risk import Risk
from synthetic.structure import Structure

# Made-up complaint summaries per category (no digits: a summary never looks like an identifier).
_SUMMARIES: dict[str, tuple[str, str]] = {
    "bemotande": (
        "Patienten upplevde ett nonchalant bemötande vid besöket.",
        "Anhörig beskriver att personalen var otrevlig och inte lyssnade.",
    ),
    "information": (
        "Patienten fick inte information om behandlingen och dess biverkningar.",
        "Anhörig anser att informationen inte var anpassad till patientens behov.",
    ),
    "delaktighet": (
        "Patienten fick inte vara delaktig i beslut om sin vård.",
        "Patientens önskemål om behandling beaktades inte.",
    ),
    "telefontillganglighet": (
        "Patienten kom inte fram på telefon och hänvisades till akuten.",
        "Telefontiderna tog slut och patienten fick ringa nästa dag.",
    ),
    "vantetid": (
        "Lång väntetid till läkarbesök trots försämring.",
        "Patienten fick vänta flera veckor på en tid.",
    ),
    "bedomning": (
        "Ingen medicinsk bedömning gjordes inom tre dagar.",
        "Patienten bedömdes inte av legitimerad personal trots symtom.",
    ),
    "samordning": (
        "Ingen samordnad individuell plan upprättades.",
        "Bristande samordning mellan vårdcentralen och kommunen.",
    ),
    "remiss": (
        "Remissen till specialistvården skickades aldrig.",
        "Remissvaret följdes inte upp.",
    ),
    "utskrivning": (
        "Ingen uppföljning efter utskrivning från sjukhuset.",
        "Informationen från sjukhuset nådde inte vårdcentralen vid utskrivning.",
    ),
    "fast_lakarkontakt": (
        "Patienten har inte fått någon fast läkarkontakt trots begäran.",
        "Ingen läkare tar ansvar för uppföljningen av patientens kroniska sjukdom.",
    ),
    "byte_av_lakare": (
        "Patienten träffar en ny hyrläkare vid varje besök.",
        "Patientens läkare byts ofta utan att patienten informeras.",
    ),
    "journalforing": (
        "Journalanteckningar saknas från flera besök.",
        "Uppgifter i journalen är felaktiga.",
    ),
    "lakemedel": (
        "Fel läkemedel förskrevs och avvikelsen utreddes inte.",
        "Läkemedelslistan stämde inte och patienten fick dubbel dos.",
    ),
    "rutiner": (
        "Vårdcentralen följer inte sina egna rutiner för provsvar.",
        "Avvikelser rapporteras inte och följs inte upp.",
    ),
}
_GENERIC_SUMMARIES = ("Klagomål på vården vid vårdcentralen.", "Anhörig är missnöjd med vården.")


@dataclass(frozen=True)
class EventSpec:
    """How one configured event source is simulated."""

    rates: dict[str, float]
    elasticity: float
    lag_median_days: float
    lag_sigma: float
    id_prefix: str


def event_spec(name: str, params: WorldParams) -> EventSpec:
    """The simulation parameters of event source ``name``."""
    if name == "complaints":
        return EventSpec(
            params.complaint_rate,
            params.complaint_risk_elasticity,
            params.complaint_lag_median_days,
            params.complaint_lag_sigma,
            "KL",
        )
    if name == "lex_maria":
        return EventSpec(
            params.lex_maria_rate,
            params.lex_maria_risk_elasticity,
            params.lex_maria_lag_median_days,
            params.lex_maria_lag_sigma,
            "LM",
        )
    raise ValueError(
        f"the generator has no model for event source {name!r}; known: ['complaints', 'lex_maria']"
    )


@dataclass(frozen=True)
class EventDraws:
    """Drawn events as index arrays, before the active-period and extract-date filter."""

    unit: IntArray
    month: IntArray
    area: IntArray
    event_date: np.ndarray
    received_date: np.ndarray
    category: np.ndarray
    severity: np.ndarray
    template: IntArray

    def select(self, mask: np.ndarray | slice) -> EventDraws:
        """The events where ``mask`` holds."""
        return EventDraws(*(np.asarray(getattr(self, f))[mask] for f in _DRAW_FIELDS))

    @staticmethod
    def concat(parts: list[EventDraws]) -> EventDraws:
        """The events of every part, in order."""
        return EventDraws(*(np.concatenate([getattr(p, f) for p in parts]) for f in _DRAW_FIELDS))


_DRAW_FIELDS = ("unit", "month", "area", "event_date", "received_date", "category", "severity", "template")


@dataclass(frozen=True)
class EventModel:
    """What a source's expected counts need besides the risk: kept fixed when the risk later changes."""

    spec: EventSpec
    source: EventSource
    norm: FloatArray  # mean of exp(elasticity * deviation) over active unit-months per area (base risk)
    unit_month_factor: FloatArray | None  # complaint culture and reporting standard, (units, months)


def event_model(
    name: str,
    source: EventSource,
    structure: Structure,
    risk: Risk,
    *,
    params: WorldParams,
    unit_propensity: FloatArray | None = None,
    reporting_factor: FloatArray | None = None,
) -> EventModel:
    """The fixed parts of source ``name``'s expected counts, normalised on ``risk``.

    ``reporting_factor`` (complaints only, shape (units, months)) multiplies the expected counts by a
    reporting change unrelated to risk (synthetic.reporting).
    """
    spec = event_spec(name, params)
    multiplier = None
    if name == "complaints":
        multiplier = _complaint_multiplier(structure, params, unit_propensity, reporting_factor)
    norm = np.exp(spec.elasticity * risk.deviation)[structure.active].mean(axis=0)
    return EventModel(spec, source, np.asarray(norm), multiplier)


def draw_events(
    model: EventModel,
    structure: Structure,
    deviation: FloatArray,
    *,
    params: WorldParams,
    rng: np.random.Generator,
    units: IntArray | None = None,
    from_month: IntArray | None = None,
) -> EventDraws:
    """Events of ``units`` (all by default) in the months from ``from_month`` (per unit; 0 by default)."""
    spec, source = model.spec, model.source
    rows = np.arange(structure.n_units) if units is None else units
    counts = _event_counts(model, structure, deviation, rows, from_month=from_month, rng=rng)
    flat = np.repeat(np.arange(counts.size), counts.ravel())
    row, month, area = np.unravel_index(flat, counts.shape)
    unit = rows[row]
    days_in_month = (
        (structure.months[month] + 1).astype("datetime64[D]") - structure.month_starts[month]
    ).astype(np.int64)
    event_date = structure.month_starts[month] + (rng.random(len(flat)) * days_in_month).astype(
        "timedelta64[D]"
    )
    lag = np.floor(rng.lognormal(np.log(spec.lag_median_days), spec.lag_sigma, size=len(flat)))
    received_date = event_date + lag.astype("timedelta64[D]")
    category = _categories(source, area, rng)
    severity = _severities(source, deviation[unit, month, area], params, rng)
    template = rng.integers(0, 2, size=len(flat))
    return EventDraws(
        np.asarray(unit, dtype=np.int64),
        np.asarray(month, dtype=np.int64),
        np.asarray(area, dtype=np.int64),
        event_date,
        received_date,
        category,
        severity,
        template,
    )


def kept(draws: EventDraws, structure: Structure) -> np.ndarray:
    """Events inside the unit's active period and received by the extract date."""
    open_end = np.where(np.isnat(structure.active_to), structure.end_date, structure.active_to)
    return np.asarray(
        (draws.event_date >= structure.active_from[draws.unit])
        & (draws.event_date <= open_end[draws.unit])
        & (draws.received_date <= structure.end_date)
    )


def events_frame(draws: EventDraws, model: EventModel, structure: Structure) -> pl.DataFrame:
    """The contract table of the drawn events (sorted by received date, then unit)."""
    keep = kept(draws, structure)
    frame = pl.DataFrame(
        {
            "unit": draws.unit[keep],
            "event_date": draws.event_date[keep],
            "received_date": draws.received_date[keep],
            "category": draws.category[keep],
            "severity": draws.severity[keep],
            "area": draws.area[keep],
            "template": draws.template[keep],
        },
        schema_overrides={"event_date": pl.Date, "received_date": pl.Date, "severity": pl.Utf8},
    ).sort("received_date", "unit", "event_date", "category")
    events = frame.select(
        event_id=pl.format(
            "{}-{}", pl.lit(model.spec.id_prefix), (pl.int_range(pl.len()) + 1).cast(pl.Utf8).str.zfill(7)
        ),
        unit_id=pl.Series(structure.unit_ids).gather(frame["unit"]),
        event_date=pl.col("event_date"),
        received_date=pl.col("received_date"),
        category=pl.col("category"),
        severity=pl.col("severity"),
    )
    for column in model.source.free_text_columns:
        text = _summaries(frame) if column == "summary" else pl.Series(column, [None] * frame.height, pl.Utf8)
        events = events.with_columns(text.alias(column))
    return events


def received_by_month(draws: EventDraws, structure: Structure) -> IntArray:
    """Kept events per unit and month of receipt, shape (units, months)."""
    keep = kept(draws, structure)
    months = (draws.received_date[keep].astype("datetime64[M]") - structure.months[0]).astype(np.int64)
    counts = np.zeros((structure.n_units, structure.n_months), dtype=np.int64)
    np.add.at(counts, (draws.unit[keep], months), 1)
    return counts


def _complaint_multiplier(
    structure: Structure,
    params: WorldParams,
    unit_propensity: FloatArray | None,
    reporting_factor: FloatArray | None = None,
) -> FloatArray | None:
    """Per unit and month factor on the expected complaints, shape (units, months), or None for 1."""
    if unit_propensity is None and params.complaint_shift_month is None and reporting_factor is None:
        return None
    factor = np.ones((structure.n_units, structure.n_months))
    if unit_propensity is not None:
        factor *= unit_propensity[:, None]
    if reporting_factor is not None:
        factor *= reporting_factor
    if params.complaint_shift_month is not None:
        shift = np.datetime64(params.complaint_shift_month, "M")
        factor[:, structure.months >= shift] *= params.complaint_shift_factor
    return factor


def _event_counts(
    model: EventModel,
    structure: Structure,
    deviation: FloatArray,
    rows: IntArray,
    *,
    from_month: IntArray | None,
    rng: np.random.Generator,
) -> IntArray:
    rates = np.array([model.spec.rates[a] for a in AREAS]) / 12.0
    whole = len(rows) == structure.n_units and from_month is None
    dev = deviation if whole else deviation[rows]
    multiplier = np.exp(model.spec.elasticity * dev)
    active = structure.active if whole else structure.active[rows]
    listed = structure.listed if whole else structure.listed[rows]
    expected = (listed[:, :, None] / 10_000.0) * rates[None, None, :] * multiplier / model.norm[None, None, :]
    if model.unit_month_factor is not None:
        factor = model.unit_month_factor if whole else model.unit_month_factor[rows]
        expected = expected * factor[:, :, None]
    if from_month is not None:
        active = active & (np.arange(structure.n_months)[None, :] >= from_month[:, None])
    return np.asarray(rng.poisson(np.where(active[:, :, None], expected, 0.0)), dtype=np.int64)


def _categories(source: EventSource, area: IntArray, rng: np.random.Generator) -> np.ndarray:
    by_area = [sorted(c for c, target in source.categories.items() if target == a) for a in AREAS]
    missing = [a for a, cats in zip(AREAS, by_area, strict=True) if not cats]
    if missing:
        raise ValueError(f"event source {source.file!r} has no category for risk areas {missing}")
    lookup = np.array([c for cats in by_area for c in cats], dtype=object)
    first = np.cumsum([0] + [len(c) for c in by_area])[:-1]
    sizes = np.array([len(c) for c in by_area])
    pick = first[area] + (rng.random(len(area)) * sizes[area]).astype(np.int64)
    return lookup[pick].astype(str) if len(area) else np.array([], dtype=str)


def _severities(
    source: EventSource, deviation: FloatArray, params: WorldParams, rng: np.random.Generator
) -> np.ndarray:
    if not source.severities:
        return np.full(len(deviation), None, dtype=object)
    ordered = sorted(source.severities, key=lambda level: source.severities[level])
    heavy = rng.random(len(deviation)) < sigmoid(
        params.severe_share_intercept + params.severe_share_slope * deviation
    )
    return np.where(heavy, ordered[-1], ordered[0]).astype(object)


def _summaries(frame: pl.DataFrame) -> pl.Series:
    categories = frame["category"].unique().sort().to_list()
    lookup = [text for c in categories for text in _SUMMARIES.get(c, _GENERIC_SUMMARIES)]
    position = frame["category"].replace_strict(
        categories, list(range(len(categories))), return_dtype=pl.Int64
    )
    return pl.Series("summary", lookup, pl.Utf8).gather(position * 2 + frame["template"])
