"""Reporting changes (the ``shifted`` scenario): from a month on, what is reported about some units stops
following the care it describes, while the true risk is unchanged.

Both changes move units *relative to each other* (a uniform change leaves every ranking as it was):

- a complaint e-service adopted by some providers: each adopting unit's complaints get its own factor
  ``exp(N(0, complaint_eservice_noise))`` (how visibly the unit points patients to the service);
- a call-back telephony platform adopted by some regions: in their units the reported availability
  shares keep only ``availability_reporting_tracking`` of their risk slope (a queued call becomes a
  booked call-back, counted as same-day contact, so the busiest units no longer report the lowest
  shares) and get a unit-specific offset (how each unit configured the platform).

Every draw comes from the world's ``reporting`` stream and only when the change is configured, so worlds
without it are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthetic.numeric import BoolArray, FloatArray
from synthetic.params import WorldParams
from synthetic.structure import Structure


@dataclass(frozen=True)
class AvailabilityReporting:
    """How the reported availability shares depart from the care they measure, shape (units, months)."""

    tracking: FloatArray  # factor on the measure's risk slope (1: tracks risk as before)
    offset: FloatArray  # logit added to the reported share, unrelated to risk


def after_month(structure: Structure, month: str) -> BoolArray:
    """Which months of the world lie at or after ``month`` (YYYY-MM), shape (months,)."""
    return np.asarray(structure.months >= np.datetime64(month, "M"))


def complaint_eservice_factor(
    structure: Structure, params: WorldParams, rng: np.random.Generator
) -> FloatArray | None:
    """Per unit and month factor on the expected complaints from the e-service, or None (no draw)."""
    if params.complaint_eservice_month is None or params.complaint_eservice_noise == 0:
        return None
    n_providers = int(structure.provider_index.max()) + 1
    adopting_provider = rng.random(n_providers) < params.complaint_eservice_share
    adopting = adopting_provider[structure.provider_index]
    unit_factor = np.exp(rng.normal(0.0, params.complaint_eservice_noise, structure.n_units))
    if not adopting.any():
        return None
    # mean 1 over the adopters: the change moves units against each other, not the overall level
    factor = np.where(adopting, unit_factor / unit_factor[adopting].mean(), 1.0)
    after = after_month(structure, params.complaint_eservice_month)
    return np.asarray(np.where(after[None, :], factor[:, None], 1.0), dtype=np.float64)


def availability_reporting(
    structure: Structure, params: WorldParams, rng: np.random.Generator
) -> AvailabilityReporting | None:
    """The availability reporting change of the adopting regions' units, or None (no draw)."""
    if not params.availability_reporting_regions or params.availability_reporting_month is None:
        return None
    codes = np.array([region.code for region in structure.regions])
    adopting = np.isin(codes[structure.region_index], params.availability_reporting_regions)
    changed = adopting[:, None] & after_month(structure, params.availability_reporting_month)[None, :]
    unit_offset = rng.normal(0.0, params.availability_reporting_unit_noise, structure.n_units)
    return AvailabilityReporting(
        tracking=np.where(changed, params.availability_reporting_tracking, 1.0),
        offset=np.where(changed, unit_offset[:, None], 0.0),
    )
