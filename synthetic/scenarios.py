"""Named scenarios: parameter sets over the one generator (``tillsynsrisk generate --scenario NAME``).

A scenario only overrides :class:`~synthetic.params.WorldParams` fields; every calibrated level
(deficiency shares per area, phone access, 3-day assessment, private share) is solved for by the
generator whatever the scenario, so every scenario reproduces the published figures. What changes is how
much the observations say about the hidden risk. Every override is listed in docs/synthetic-world.md.

- ``default``: today's world (byte-identical tables to earlier generator versions for the same seed).
- ``realistic``: complaints weakly related to risk (a unit's complaint culture varies far more than its
  risk moves complaints), inspecting-team effects of about ±10 percentage points, ownership changes and
  hyrläkare that go with risk, noisier indicators with more missing months.
- ``weak``: every signal barely above noise (what a planner should expect in the first year).
- ``shifted``: ``realistic`` plus reporting changes from 2023-07 that a model trained before them must
  survive, all in what is reported (the true risk is ``realistic``'s): a new reporting standard that
  raises every complaint rate by 80 % (uniform: drifts the complaint features, keeps their ranking);
  a complaint e-service linked to by half the providers, whose units' complaints each move by their own
  factor (their complaint ranking becomes mostly noise); Östergötland's new counting, +1.0 on the logit
  of its reported phone share (uniform within the region); and a call-back telephony platform in the
  three metropolitan regions (Stockholm, Skåne, Västra Götaland, about half the units) that inverts the
  relation between their units' reported availability shares (same-day phone, 3-day assessment) and
  their real availability. The last two move units *relative to each other* in signals the model uses,
  which is what makes a pre-change model's ranking worse (synthetic.reporting).
"""

from __future__ import annotations

from typing import Any

from synthetic.params import WorldParams

_REALISTIC: dict[str, Any] = {
    "complaint_risk_elasticity": 0.2,
    "complaint_unit_noise": 0.8,
    "lex_maria_risk_elasticity": 0.4,
    "severe_share_slope": 0.25,
    "team_effects": {"nord": -1.1, "mitt": 0.0, "ost": 0.6, "sydost": -0.45, "syd": 1.1, "vast": -0.2},
    "ownership_change_risk_slope": 0.8,
    "temporary_doctor_risk_slope": 0.8,
    "availability_risk_slope": 0.4,
    "continuity_risk_slope": 0.4,
    "unit_reporting_noise": 0.3,
    "monthly_noise": 0.15,
    "missing_month_share": 0.06,
    "participation_index_risk_slope": 5.0,
    "participation_index_noise": 1.5,
    "core_indicator_risk_slope": 1.0,
    "core_indicator_noise_factor": 1.0,
    "enforcement_effect": -0.8,
    "deficiency_effect": -0.1,
    "enforcement_delay_months": 3,
    "effect_persistence": 0.95,
}

_WEAK: dict[str, Any] = {
    **_REALISTIC,
    "complaint_risk_elasticity": 0.08,
    "complaint_unit_noise": 1.0,
    "lex_maria_risk_elasticity": 0.1,
    "severe_share_slope": 0.05,
    "ownership_change_risk_slope": 0.1,
    "temporary_doctor_risk_slope": 0.1,
    "availability_risk_slope": 0.1,
    "continuity_risk_slope": 0.1,
    "unit_reporting_noise": 0.4,
    "monthly_noise": 0.2,
    "missing_month_share": 0.1,
    "participation_index_risk_slope": 0.5,
    "participation_index_noise": 5.0,
    "core_indicator_risk_slope": 0.2,
    "core_indicator_noise_factor": 1.6,
    # little persistent difference between units, so a unit's history says little about its future
    "sigma_region": 0.05,
    "sigma_provider": 0.1,
    "sigma_unit": 0.35,
    "sigma_drift": 1.0,
    "drift_persistence": 0.8,
}

_SHIFTED: dict[str, Any] = {
    **_REALISTIC,
    "complaint_shift_month": "2023-07",
    "complaint_shift_factor": 1.8,
    # Östergötland's new telephony counts a call-back booked the same day as same-day contact
    "region_reporting_region": "05",
    "region_reporting_month": "2023-07",
    "region_reporting_effect": 1.0,
    # a complaint e-service that half the providers link to from 2023-07: each of their units' complaints
    # move by its own factor (how visibly it points patients there), so their complaint ranking is noise
    "complaint_eservice_month": "2023-07",
    "complaint_eservice_share": 0.5,
    "complaint_eservice_noise": 1.2,
    # the three metropolitan regions move to a call-back telephony platform from 2023-07: a queued call
    # becomes a booked call-back counted as same-day contact, so the busiest units now report the
    # highest shares (the slope inverts), and each unit's configuration moves its level
    "availability_reporting_regions": ("01", "12", "14"),
    "availability_reporting_month": "2023-07",
    "availability_reporting_tracking": -1.0,
    "availability_reporting_unit_noise": 0.5,
}

SCENARIOS: dict[str, dict[str, Any]] = {
    "default": {},
    "realistic": _REALISTIC,
    "weak": _WEAK,
    "shifted": _SHIFTED,
}


def scenario_params(name: str, **overrides: Any) -> WorldParams:
    """The parameters of scenario ``name``; ``overrides`` (seed, scale, …) win over the scenario's own."""
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; known: {sorted(SCENARIOS)}")
    return WorldParams(**{**SCENARIOS[name], **overrides, "scenario": name})
