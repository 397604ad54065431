"""Region profiles: the published facts per region that the synthetic world is calibrated to.

Sources are listed in ``/work/shared/CALIBRATION.md`` and ``docs/synthetic-world.md``. Population
(thousands, 2024, rounded) sets each region's share of units and listed patients; the municipality
counts are the real ones (290 in total). ``named_doctor_share`` is the registered share with a fast
läkarkontakt on 31 Dec 2024 (None where the region could not estimate it: the generator then uses the
national 59 %). ``assessment_2024`` and ``phone_2024`` are the region's level in Väntetidsdatabasen:
Stockholm's 96 % is published, the others are set to give the published national level (88 %) with
large regional variation. ``assessment_trend`` is the change in logit units from 2020 to 2024 relative
to the national trend; a negative value makes a region worse in 2024 than in 2020, as a few were.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.contract import REGIONS


@dataclass(frozen=True)
class RegionProfile:
    """Calibration facts for one region (county code ``code``)."""

    code: str
    name: str
    population_k: int
    municipalities: int
    private_share: float
    named_doctor_share: float | None
    assessment_2024: float
    phone_2024: float
    assessment_trend_reversed: bool = False


NATIONAL_NAMED_DOCTOR_SHARE = 0.59

IVO_DEPARTMENT_OF_REGION: dict[str, str] = {
    **dict.fromkeys(("22", "23", "24", "25"), "nord"),
    **dict.fromkeys(("03", "17", "18", "19", "20", "21"), "mitt"),
    **dict.fromkeys(("01", "04", "09"), "ost"),
    **dict.fromkeys(("05", "06", "08"), "sydost"),
    **dict.fromkeys(("07", "10", "12"), "syd"),
    **dict.fromkeys(("13", "14"), "vast"),
}
"""The IVO department (avdelning) that inspects a region's units by default in the synthetic world
(a geographic approximation of IVO's six departments; cross-department inspections also occur)."""

_PROFILES: tuple[tuple[str, int, int, float, float | None, float, float, bool], ...] = (
    # code, population (k), municipalities, private share, named doctor, assessment 2024, phone 2024, worse
    ("01", 2450, 26, 0.66, 0.72, 0.96, 0.91, False),
    ("03", 400, 8, 0.45, 0.38, 0.85, 0.87, False),
    ("04", 300, 9, 0.35, 0.57, 0.83, 0.86, False),
    ("05", 470, 13, 0.35, 0.74, 0.88, 0.89, False),
    ("06", 370, 13, 0.30, None, 0.90, 0.90, False),
    ("07", 205, 8, 0.40, 0.41, 0.84, 0.86, True),
    ("08", 247, 12, 0.35, 0.73, 0.87, 0.88, False),
    ("09", 61, 1, 0.15, 0.59, 0.80, 0.85, False),
    ("10", 157, 5, 0.30, 0.18, 0.78, 0.83, True),
    ("12", 1420, 33, 0.52, 0.79, 0.85, 0.87, False),
    ("13", 340, 6, 0.50, 0.68, 0.89, 0.89, False),
    ("14", 1760, 49, 0.48, 0.96, 0.86, 0.87, False),
    ("17", 283, 16, 0.30, None, 0.81, 0.85, False),
    ("18", 306, 12, 0.35, 0.46, 0.84, 0.86, False),
    ("19", 280, 10, 0.40, 0.87, 0.84, 0.87, False),
    ("20", 288, 15, 0.20, 0.85, 0.86, 0.88, False),
    ("21", 288, 10, 0.30, 0.38, 0.79, 0.84, True),
    ("22", 245, 7, 0.25, 0.61, 0.82, 0.86, False),
    ("23", 132, 8, 0.15, None, 0.77, 0.84, False),
    ("24", 275, 15, 0.20, 0.18, 0.82, 0.86, False),
    ("25", 249, 14, 0.15, None, 0.76, 0.83, False),
)


def region_profiles() -> tuple[RegionProfile, ...]:
    """The 21 region profiles in county-code order."""
    profiles = tuple(
        RegionProfile(code, REGIONS[code], pop, munis, private, named, assessment, phone, worse)
        for code, pop, munis, private, named, assessment, phone, worse in _PROFILES
    )
    if [p.code for p in profiles] != list(REGIONS):
        raise RuntimeError("region profiles must cover engine.contract.REGIONS in order")
    return profiles


def named_doctor_target(profile: RegionProfile) -> float:
    """The region's named-regular-doctor share, or the national level where none was published."""
    return NATIONAL_NAMED_DOCTOR_SHARE if profile.named_doctor_share is None else profile.named_doctor_share
