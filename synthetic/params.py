"""Every parameter of the synthetic world, with its documented default.

Defaults reproduce the published figures in ``docs/synthetic-world.md`` (calibration targets) at the
default scale (1,200 units of which about 1,150 are active at the end, 6 years ending 2025-12). Rates
are per 10,000 listed patients and year; effects on the logit scale. Per-year inspection counts are
given at the default scale and scale with ``n_units``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from engine.contract import REGIONS

AREAS = ("personcentrering", "tillganglighet", "samverkan", "kontinuitet", "systematiskt_kvalitetsarbete")
DEFAULT_SCALE_UNITS = 1200

Probability = Annotated[float, Field(gt=0.0, lt=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]


def _per_area(**values: float) -> dict[str, float]:
    return dict(zip(AREAS, values.values(), strict=True))


class WorldParams(BaseModel):
    """Parameters of one synthetic supervision world (frozen; JSON-serialisable into truth/params.json)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # --- scale and period -------------------------------------------------------------------------
    scenario: str = "default"  # the named parameter set (synthetic.scenarios) this world came from
    seed: int = 0
    n_units: Annotated[int, Field(ge=30, le=100_000)] = DEFAULT_SCALE_UNITS
    years: Annotated[int, Field(ge=1, le=30)] = 6
    end: str = "2025-12"
    with_visits: bool = False
    with_faults: bool = False

    # --- structure ----------------------------------------------------------------------------------
    private_share: Probability = 0.46
    listed_total_per_active_unit: Annotated[float, Field(gt=0)] = 10_500_000 / 1150
    listed_sigma: Annotated[float, Field(gt=0)] = 0.55
    urban_listing_factor: Annotated[float, Field(gt=0)] = 1.6
    listed_min: Annotated[int, Field(ge=1)] = 600
    listed_max: Annotated[int, Field(ge=1)] = 25_000
    opening_share: Probability = 0.06
    closing_share: Probability = 0.045
    provider_size_exponent: Annotated[float, Field(gt=1.0)] = 1.9
    provider_max_units: Annotated[int, Field(ge=1)] = 60

    # --- latent risk (logit scale) ---------------------------------------------------------------------
    deficiency_rate: dict[str, Probability] = Field(
        default_factory=lambda: _per_area(pc=0.10, ti=0.43, sa=0.69, ko=0.875, sk=0.955)
    )
    # Assumption (no published figure): the share of an area's deficiencies that are serious
    # (föreläggande), per area; a single number applies to every area (docs/synthetic-world.md).
    # The defaults are the shares the earlier single 7 % (one intercept for all areas) gave each area.
    serious_share_of_deficiencies: dict[str, Probability] = Field(
        default_factory=lambda: _per_area(pc=0.16, ti=0.095, sa=0.07, ko=0.06, sk=0.055)
    )
    serious_risk_slope: NonNegative = 0.8
    area_loading: Annotated[float, Field(ge=0.0, le=1.0)] = 0.985
    sigma_region: NonNegative = 0.15
    sigma_provider: NonNegative = 0.45
    sigma_unit: NonNegative = 1.6
    sigma_drift: NonNegative = 0.2
    drift_persistence: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.98
    crisis_hazard_per_month: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.004
    crisis_mean_months: Annotated[float, Field(ge=1.0)] = 9.0
    crisis_effect: dict[str, NonNegative] = Field(
        default_factory=lambda: _per_area(pc=0.6, ti=1.2, sa=0.4, ko=1.0, sk=0.5)
    )

    # --- events ---------------------------------------------------------------------------------------------
    complaint_rate: dict[str, NonNegative] = Field(
        default_factory=lambda: _per_area(pc=5.0, ti=3.0, sa=1.2, ko=1.0, sk=0.8)
    )
    complaint_risk_elasticity: NonNegative = 0.8
    complaint_lag_median_days: Annotated[float, Field(gt=0)] = 9.0
    complaint_lag_sigma: Annotated[float, Field(gt=0)] = 0.7
    lex_maria_rate: dict[str, NonNegative] = Field(
        default_factory=lambda: _per_area(pc=0.06, ti=0.14, sa=0.14, ko=0.08, sk=0.22)
    )
    lex_maria_risk_elasticity: NonNegative = 0.8
    lex_maria_lag_median_days: Annotated[float, Field(gt=0)] = 55.0
    lex_maria_lag_sigma: Annotated[float, Field(gt=0)] = 0.6
    # a new reporting standard from this month (YYYY-MM) multiplies every complaint rate by the factor
    # (the ``shifted`` scenario); None leaves complaints as they are
    complaint_shift_month: str | None = None
    complaint_shift_factor: Annotated[float, Field(gt=0)] = 1.0
    # a complaint e-service adopted by some providers from this month (YYYY-MM): complaints to each unit
    # of a ``complaint_eservice_share`` of providers are multiplied by the unit's own
    # exp(N(0, complaint_eservice_noise)) (how visibly the unit points patients to the service; unrelated
    # to risk), drawn from the ``reporting`` stream; None changes nothing and draws nothing
    complaint_eservice_month: str | None = None
    complaint_eservice_share: Probability = 0.5
    complaint_eservice_noise: NonNegative = 0.0
    # unreported noise in complaints: each unit's complaint propensity is multiplied by
    # exp(N(0, complaint_unit_noise)) (drawn from its own stream; 0 draws nothing)
    complaint_unit_noise: NonNegative = 0.0
    severe_share_intercept: float = -1.4
    severe_share_slope: NonNegative = 0.5

    # --- indicators ------------------------------------------------------------------------------------
    phone_national: dict[int, Probability] = Field(
        default_factory=lambda: {2020: 0.86, 2021: 0.85, 2022: 0.86, 2023: 0.87, 2024: 0.88, 2025: 0.88}
    )
    assessment_national: dict[int, Probability] = Field(
        default_factory=lambda: {2020: 0.81, 2021: 0.83, 2022: 0.84, 2023: 0.86, 2024: 0.88, 2025: 0.88}
    )
    same_doctor_visit_national: Probability = 0.50
    availability_risk_slope: NonNegative = 0.55
    continuity_risk_slope: NonNegative = 0.5
    summer_dip: dict[int, NonNegative] = Field(default_factory=lambda: {6: 0.15, 7: 0.45, 8: 0.2})
    unit_reporting_noise: NonNegative = 0.15
    monthly_noise: NonNegative = 0.08
    calls_per_listed_month: Annotated[float, Field(gt=0)] = 0.05
    assessments_per_listed_month: Annotated[float, Field(gt=0)] = 0.02
    doctor_visits_per_listed_month: Annotated[float, Field(gt=0)] = 0.1
    missing_month_share: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.02
    # a region's reporting changes from this month (YYYY-MM): its units' reported same-day phone share
    # moves by ``region_reporting_effect`` on the logit (the true risk does not); None changes nothing
    region_reporting_region: str | None = None
    region_reporting_month: str | None = None
    region_reporting_effect: float = 0.0
    # regions that move to a call-back telephony platform from this month (YYYY-MM): in their units the
    # reported same-day phone share and 3-day assessment share keep ``availability_reporting_tracking``
    # of their risk slope (1: as before, 0: stop tracking availability, negative: inverted) and get a
    # unit-specific logit offset N(0, availability_reporting_unit_noise) (how each unit configured the
    # platform), drawn from the ``reporting`` stream; the region-year levels stay calibrated. No regions
    # or no month changes nothing and draws nothing
    availability_reporting_regions: tuple[str, ...] = ()
    availability_reporting_month: str | None = None
    availability_reporting_tracking: float = 1.0
    availability_reporting_unit_noise: NonNegative = 0.0
    public_only_regions: tuple[str, ...] = ("10", "23")
    record_switch_region: str | None = "17"
    record_switch_year: int = 2022

    # --- inspections -----------------------------------------------------------------------------------
    random_inspections_per_year: Annotated[int, Field(ge=0)] = 150
    complaint_inspections_per_year: Annotated[int, Field(ge=0)] = 150
    risk_based_inspections_per_year: Annotated[int, Field(ge=0)] = 25
    complaint_window_months: Annotated[int, Field(ge=1)] = 3
    inspection_cooldown_months: Annotated[int, Field(ge=0)] = 12
    decision_median_days: Annotated[float, Field(gt=0)] = 80.0

    # --- effect of inspections on the later risk (synthetic/feedback.py) -------------------------
    # logit change in an area from ``enforcement_delay_months`` after the decision month of an inspection
    # with a serious finding (föreläggande) in that area, decaying by ``effect_persistence`` a month; the
    # same after a (non-serious) deficiency with ``deficiency_effect``. Both 0 (the default) keep the risk
    # independent of inspections and draw nothing (risk, observations and inspections drawn one after
    # the other, as before).
    enforcement_effect: Annotated[float, Field(le=0.0)] = 0.0
    deficiency_effect: Annotated[float, Field(le=0.0)] = 0.0
    enforcement_delay_months: Annotated[int, Field(ge=1, le=24)] = 3
    effect_persistence: Annotated[float, Field(ge=0.0, le=1.0)] = 0.95

    # --- inspection covariates, finding counts (contract version 2) -----------------------------------
    team_effects: dict[str, float] = Field(
        default_factory=lambda: {
            "nord": -0.25, "mitt": 0.0, "ost": 0.15, "sydost": -0.1, "syd": 0.25, "vast": -0.05
        }
    )  # fmt: skip
    home_team_share: Annotated[float, Field(ge=0.0, le=1.0)] = 0.8
    method_shares: dict[str, Probability] = Field(
        default_factory=lambda: {"platsbesok": 0.6, "dokumentgranskning": 0.3, "intervju": 0.1}
    )
    extra_deficiencies_mean: NonNegative = 0.6
    extra_serious_mean: NonNegative = 0.2

    # --- attributes and the value indicator (contract version 2) ----------------------------------------
    ownership_change_per_year: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.05
    # units in trouble are sold more often: the hazard is multiplied by exp(slope * deviation of the
    # mean of the areas) (renormalised to keep the mean); 0 makes an ownership change pure noise
    ownership_change_risk_slope: NonNegative = 0.0
    manager_change_per_year: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.12
    manager_change_crisis_factor: Annotated[float, Field(ge=1.0)] = 3.0
    temporary_doctor_intercept: float = -2.2
    temporary_doctor_risk_slope: NonNegative = 0.5
    temporary_doctor_crisis_effect: NonNegative = 1.0
    participation_index_level: Annotated[float, Field(gt=0.0, lt=100.0)] = 78.0
    participation_index_risk_slope: NonNegative = 3.0
    participation_index_noise: NonNegative = 2.5

    # --- national core indicators (synthetic/core_indicators.py) ---------------------------------
    core_indicator_risk_slope: NonNegative = 1.0
    core_indicator_noise_factor: NonNegative = 1.0
    survey_region_share: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5

    # --- visits ---------------------------------------------------------------------------------------------
    visit_patients_per_unit: Annotated[int, Field(ge=1)] = 120
    visits_per_patient_year: Annotated[float, Field(gt=0)] = 3.0
    doctor_visit_share: Probability = 0.45
    listed_per_doctor: Annotated[float, Field(gt=0)] = 1100.0
    locum_doctors_per_unit: Annotated[int, Field(ge=0)] = 6

    @field_validator("method_shares")
    @classmethod
    def _shares_sum_to_one(cls, value: dict[str, float]) -> dict[str, float]:
        if abs(sum(value.values()) - 1.0) > 1e-9:
            raise ValueError(f"method_shares must sum to 1, got {sum(value.values())}")
        return value

    @field_validator(
        "end",
        "complaint_shift_month",
        "complaint_eservice_month",
        "region_reporting_month",
        "availability_reporting_month",
    )
    @classmethod
    def _is_a_month(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return value
        try:
            dt.date.fromisoformat(f"{value}-01")
        except ValueError as error:
            raise ValueError(f"{info.field_name} must be YYYY-MM, got {value!r}") from error
        return value

    @field_validator("region_reporting_region")
    @classmethod
    def _is_a_region(cls, value: str | None) -> str | None:
        if value is not None and value not in REGIONS:
            raise ValueError(
                f"region_reporting_region must be a county code, got {value!r}; known: {sorted(REGIONS)}"
            )
        return value

    @field_validator("availability_reporting_regions")
    @classmethod
    def _are_regions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(REGIONS))
        if unknown:
            raise ValueError(
                f"availability_reporting_regions must be county codes, got {unknown}; "
                f"known: {sorted(REGIONS)}"
            )
        if len(set(value)) != len(value):
            raise ValueError(f"availability_reporting_regions has duplicates: {list(value)}")
        return value

    @field_validator("serious_share_of_deficiencies", mode="before")
    @classmethod
    def _one_share_for_every_area(cls, value: object) -> object:
        # A single number (worlds generated before the share was per area) applies to every area.
        return dict.fromkeys(AREAS, value) if isinstance(value, int | float) else value

    @field_validator(
        "deficiency_rate",
        "crisis_effect",
        "complaint_rate",
        "lex_maria_rate",
        "serious_share_of_deficiencies",
    )
    @classmethod
    def _covers_every_area(cls, value: dict[str, float]) -> dict[str, float]:
        if set(value) != set(AREAS):
            raise ValueError(f"per-area parameters must cover exactly {list(AREAS)}, got {sorted(value)}")
        return value

    @property
    def has_feedback(self) -> bool:
        """Whether inspection findings change the later risk (a joint month-by-month simulation)."""
        return self.enforcement_effect != 0.0 or self.deficiency_effect != 0.0

    @property
    def scale(self) -> float:
        """Units relative to the default scale (inspection counts scale with it)."""
        return self.n_units / DEFAULT_SCALE_UNITS

    @property
    def end_month(self) -> dt.date:
        return dt.date.fromisoformat(f"{self.end}-01")

    @property
    def start_month(self) -> dt.date:
        end = self.end_month
        index = end.year * 12 + end.month - 1 - (self.years * 12 - 1)
        return dt.date(index // 12, index % 12 + 1, 1)
