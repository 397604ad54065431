"""Regions, municipalities, providers (vårdgivare) and units (vårdcentraler) with their active periods.

Units are allocated to regions by population, ownership per region so that the national private share
is ``private_share``; private units are grouped into companies of 1–``provider_max_units`` units with a
heavy-tailed (discrete power-law) size distribution, regionally clustered. Listing sizes are log-normal,
larger in each region's urban seat, and drift slowly per unit; openers ramp up over 18 months.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from engine.identifiers import hsa_id, organisation_number
from engine.places import municipality_codes_in
from synthetic.numeric import BoolArray, FloatArray, IntArray
from synthetic.params import WorldParams
from synthetic.regions import RegionProfile, region_profiles

_PLACE_STEMS = (
    "Björk", "Ek", "Gran", "Lind", "Al", "Ask", "Hassel", "Sol", "Sjö", "Äng", "Berg", "Dal", "Strand",
    "Hög", "Norr", "Sö", "Väst", "Öst", "Kvarn", "Brunn", "Skogs", "Tall", "Rosen", "Lilje", "Fjäll",
)  # fmt: skip
_PLACE_ENDINGS = ("hagen", "torp", "berga", "viken", "dalen", "by", "lund", "holmen", "näs", "åsen", "backa")
_COMPANY_FIRST = (
    "Nord", "Hälsa", "Capio", "Kvalitets", "Famil", "Trygg", "Linné", "Vital", "Medi", "Omsorgs", "Primär",
    "Cura", "Kustens", "Dalarnas", "Läns", "Stads", "Bygdens", "Mitt", "Samhälls", "Aros",
)  # fmt: skip
_COMPANY_SECOND = ("vård", "läkarna", "hälsan", "medicin", "doktorn", "kliniken", "vårdcentraler", "care")
_HISTORY_START = np.datetime64("1985-01-01")


@dataclass(frozen=True)
class Structure:
    """The world's entities as numpy arrays (index = unit) plus the provider table."""

    months: np.ndarray  # datetime64[M], shape (T,)
    month_starts: np.ndarray  # datetime64[D], shape (T,)
    end_date: np.datetime64  # last day of the last month (the extract date)
    regions: tuple[RegionProfile, ...]
    providers: pl.DataFrame
    unit_ids: np.ndarray  # str
    unit_names: np.ndarray  # str
    provider_index: IntArray  # row in ``providers``
    region_index: IntArray
    private: BoolArray
    municipality_codes: np.ndarray  # str
    active_from: np.ndarray  # datetime64[D]
    active_to: np.ndarray  # datetime64[D], NaT = still active
    listed: IntArray  # (U, T) listed patients per month
    active: BoolArray  # (U, T) the month overlaps the active period
    reporting: BoolArray  # (U, T) the month's first day lies in the active period

    @property
    def n_units(self) -> int:
        return len(self.unit_ids)

    @property
    def n_months(self) -> int:
        return len(self.months)

    def year_of_month(self) -> IntArray:
        return np.asarray(self.months.astype("datetime64[Y]").astype(np.int64) + 1970)

    def listed_at_end(self) -> IntArray:
        """Listed patients in each unit's last active month (what units.csv reports)."""
        last = np.where(
            self.active.any(axis=1), self.active.shape[1] - 1 - np.argmax(self.active[:, ::-1], 1), 0
        )
        return np.asarray(self.listed[np.arange(self.n_units), last])


def build_structure(params: WorldParams, rng: np.random.Generator) -> Structure:
    """Draw regions' units, ownership, providers, municipalities, listing and active periods."""
    regions = region_profiles()
    months = np.arange(
        np.datetime64(params.start_month, "M"),
        np.datetime64(params.end_month, "M") + 1,
        dtype="datetime64[M]",
    )
    month_starts = months.astype("datetime64[D]")
    end_date = (months[-1] + 1).astype("datetime64[D]") - 1
    region_index = _units_per_region(params.n_units, regions)
    private = _ownership(region_index, regions, params.private_share, rng)
    municipality_codes, urban = _municipalities(region_index, regions, rng)
    providers, provider_index = _providers(region_index, private, regions, params, rng)
    unit_ids, unit_names = _unit_identifiers(providers, provider_index, private, rng)
    active_from, active_to = _active_periods(len(region_index), month_starts, end_date, params, rng)
    listed = _listing(urban, active_from, month_starts, params, rng)
    month_ends = (months + 1).astype("datetime64[D]") - 1
    open_end = np.where(np.isnat(active_to), end_date, active_to)
    active = (active_from[:, None] <= month_ends[None, :]) & (open_end[:, None] >= month_starts[None, :])
    reporting = (active_from[:, None] <= month_starts[None, :]) & (open_end[:, None] >= month_starts[None, :])
    return Structure(
        months=months,
        month_starts=month_starts,
        end_date=end_date,
        regions=regions,
        providers=providers,
        unit_ids=unit_ids,
        unit_names=unit_names,
        provider_index=provider_index,
        region_index=region_index,
        private=private,
        municipality_codes=municipality_codes,
        active_from=active_from,
        active_to=active_to,
        listed=np.where(active, listed, 0),
        active=active,
        reporting=reporting,
    )


def _units_per_region(n_units: int, regions: tuple[RegionProfile, ...]) -> IntArray:
    population = np.array([r.population_k for r in regions], dtype=np.float64)
    counts = _largest_remainder(n_units * population / population.sum(), n_units)
    counts = np.maximum(counts, 1)
    while counts.sum() > n_units:
        counts[np.argmax(counts)] -= 1
    return np.repeat(np.arange(len(regions)), counts)


def _largest_remainder(quotas: FloatArray, total: int) -> IntArray:
    """Integers summing to ``total`` closest to ``quotas`` (Hamilton's method)."""
    floors = np.floor(quotas).astype(np.int64)
    remainder = total - int(floors.sum())
    if remainder > 0:
        order = np.argsort(-(quotas - floors), kind="stable")
        floors[order[:remainder]] += 1
    return floors


def _ownership(
    region_index: IntArray, regions: tuple[RegionProfile, ...], private_share: float, rng: np.random.Generator
) -> BoolArray:
    shares = np.array([r.private_share for r in regions])
    per_region = np.bincount(region_index, minlength=len(regions)).astype(np.float64)
    scale = private_share * per_region.sum() / float((per_region * shares).sum())
    n_private = _largest_remainder(
        per_region * np.clip(shares * scale, 0, 0.95), round(private_share * per_region.sum())
    )
    private = np.zeros(len(region_index), dtype=bool)
    for r, count in enumerate(n_private):
        members = np.flatnonzero(region_index == r)
        private[rng.choice(members, size=min(int(count), len(members)), replace=False)] = True
    return private


def _local_municipalities(profile: RegionProfile) -> list[str]:
    """The region's SCB kommun codes, its central kommun (code ending in 80) first.

    Real codes, so the pages can show real names; the order of the others is SCB's code order.
    """
    central = f"{profile.code}80"
    others = [code for code in municipality_codes_in(profile.code) if code != central]
    if len(others) != profile.municipalities - 1:
        raise ValueError(
            f"region {profile.code} has {profile.municipalities} municipalities in its profile but "
            f"{len(others) + 1} in SCB's list"
        )
    return [central, *others]


def _municipalities(
    region_index: IntArray, regions: tuple[RegionProfile, ...], rng: np.random.Generator
) -> tuple[np.ndarray, BoolArray]:
    codes = np.empty(len(region_index), dtype=object)
    urban = np.zeros(len(region_index), dtype=bool)
    for r, profile in enumerate(regions):
        members = np.flatnonzero(region_index == r)
        local = _local_municipalities(profile)
        weights = np.array(
            [0.35 * max(profile.municipalities - 1, 1) ** 0.5]
            + [1.0 / (k + 1) ** 0.8 for k in range(profile.municipalities - 1)]
        )
        picks = rng.choice(len(local), size=len(members), p=weights / weights.sum())
        codes[members] = np.array(local, dtype=object)[picks]
        urban[members] = picks == 0
    return codes.astype(str), urban


def _company_sizes(n_private: int, params: WorldParams, rng: np.random.Generator) -> IntArray:
    support = np.arange(1, params.provider_max_units + 1)
    weights = support.astype(np.float64) ** -params.provider_size_exponent
    sizes: list[int] = []
    while sum(sizes) < n_private:
        sizes.extend(rng.choice(support, size=64, p=weights / weights.sum()).tolist())
    cumulative = np.cumsum(sizes)
    cut = int(np.searchsorted(cumulative, n_private))
    result = np.array(sizes[: cut + 1], dtype=np.int64)
    result[-1] -= int(cumulative[cut]) - n_private
    return result[result > 0]


def _providers(
    region_index: IntArray,
    private: BoolArray,
    regions: tuple[RegionProfile, ...],
    params: WorldParams,
    rng: np.random.Generator,
) -> tuple[pl.DataFrame, IntArray]:
    region_ids = [organisation_number(f"2321000{k + 1:02d}") for k in range(len(regions))]
    provider_index = region_index.copy()
    private_units = np.flatnonzero(private)
    # regionally clustered companies: private units ordered by region, then cut into consecutive chunks
    order = private_units[np.lexsort((rng.random(len(private_units)), region_index[private_units]))]
    sizes = rng.permutation(_company_sizes(len(order), params, rng))
    company_of_position = np.repeat(np.arange(len(sizes)), sizes)
    provider_index[order] = len(regions) + company_of_position
    numbers = rng.choice(1_000_000, size=len(sizes), replace=False)
    prefixes = rng.choice(["556", "559"], size=len(sizes))
    company_ids = [organisation_number(f"{p}{n:06d}") for p, n in zip(prefixes, numbers, strict=True)]
    first = rng.choice(_COMPANY_FIRST, size=len(sizes))
    second = rng.choice(_COMPANY_SECOND, size=len(sizes))
    company_names = _distinct_names([f"{a}{b}" for a, b in zip(first, second, strict=True)])
    providers = pl.DataFrame(
        {
            "provider_id": region_ids + company_ids,
            "name": [f"Region {r.name}" for r in regions] + company_names,
            "ownership": ["public"] * len(regions) + ["private"] * len(sizes),
        }
    )
    return providers, provider_index


def _distinct_names(stems: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    names = []
    for stem in stems:
        seen[stem] = seen.get(stem, 0) + 1
        names.append(f"{stem} AB" if seen[stem] == 1 else f"{stem} {seen[stem]} AB")
    return names


def _unit_identifiers(
    providers: pl.DataFrame, provider_index: IntArray, private: BoolArray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    provider_ids = providers["provider_id"].to_numpy()
    ids = np.array(
        [hsa_id(provider_ids[p], f"E{k + 1:05d}") for k, p in enumerate(provider_index)], dtype=object
    )
    stems = rng.choice(_PLACE_STEMS, size=len(ids))
    endings = rng.choice(_PLACE_ENDINGS, size=len(ids))
    places = np.char.add(stems.astype(str), endings.astype(str))
    prefix = np.where(private, "Läkarhuset", "Vårdcentralen")
    names = np.char.add(np.char.add(prefix.astype(str), " "), places)
    return ids.astype(str), names


def _active_periods(
    n_units: int,
    month_starts: np.ndarray,
    end_date: np.datetime64,
    params: WorldParams,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    start = month_starts[0]
    history_days = int((start - _HISTORY_START).astype(np.int64))
    period_days = int((end_date - start).astype(np.int64))
    active_from = start - 1 - rng.integers(0, history_days, size=n_units).astype("timedelta64[D]")
    opener = rng.random(n_units) < params.opening_share
    active_from[opener] = start + rng.integers(0, max(period_days - 90, 1), size=int(opener.sum())).astype(
        "timedelta64[D]"
    )
    active_to = np.full(n_units, np.datetime64("NaT"), dtype="datetime64[D]")
    closer = (rng.random(n_units) < params.closing_share) & ~opener
    earliest = np.maximum(active_from[closer] + 365, start)
    span = np.maximum((end_date - 31 - earliest).astype(np.int64), 1)
    active_to[closer] = earliest + (rng.random(int(closer.sum())) * span).astype("timedelta64[D]")
    active_to[closer] = np.minimum(active_to[closer], end_date - 31)
    return active_from, active_to


def _listing(
    urban: BoolArray,
    active_from: np.ndarray,
    month_starts: np.ndarray,
    params: WorldParams,
    rng: np.random.Generator,
) -> IntArray:
    n_units = len(urban)
    base = rng.lognormal(0.0, params.listed_sigma, size=n_units) * np.where(
        urban, params.urban_listing_factor, 1.0
    )
    for _ in range(4):  # rescale after clipping so the mean stays at the target
        base = np.clip(
            base / base.mean() * params.listed_total_per_active_unit, params.listed_min, params.listed_max
        )
    growth = rng.normal(0.0, 0.03, size=n_units)
    years_to_end = (np.arange(len(month_starts)) - (len(month_starts) - 1)) / 12.0
    trajectory = base[:, None] * np.exp(growth[:, None] * years_to_end[None, :])
    months_open = (month_starts[None, :] - active_from[:, None]).astype(np.int64) / 30.44
    ramp = np.clip(0.4 + 0.6 * months_open / 18.0, 0.4, 1.0)
    return np.asarray(
        np.round(np.clip(trajectory * ramp, params.listed_min * 0.4, params.listed_max)), dtype=np.int64
    )


def units_frame(structure: Structure, unit_type: str) -> pl.DataFrame:
    """The units table of the contract."""
    providers = structure.providers["provider_id"].to_numpy()
    return pl.DataFrame(
        {
            "unit_id": structure.unit_ids,
            "provider_id": providers[structure.provider_index],
            "name": structure.unit_names,
            "region_code": [structure.regions[r].code for r in structure.region_index],
            "municipality_code": structure.municipality_codes,
            "unit_type": [unit_type] * structure.n_units,
            "listed_patients": structure.listed_at_end(),
            "active_from": structure.active_from,
            "active_to": structure.active_to,
        },
        schema_overrides={"listed_patients": pl.Int64, "active_from": pl.Date, "active_to": pl.Date},
    )
