"""The feature catalog: what every column of the feature table means, in Swedish and English.

The catalog is derived from the configuration, exactly like the feature table itself: both use the
naming functions below, so a configured source (lex Sarah, a staffing indicator) appears in both
without code changes. Later layers turn model contributions into planner sentences with
``FeatureSpec.template_sv``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from engine.config import AttributeSource, Config, EventSource, IndicatorSource
from features.asof import EVENT_WINDOWS_MONTHS

FEATURE_CODE_VERSION = "2"
"""Bumped whenever a feature's definition changes; part of every feature set id."""

FeatureUnit = Literal[
    "count", "per_10k", "share", "days", "months", "ratio", "flag", "category", "patients", "value", "level"
]
FeatureKind = Literal["numeric", "categorical"]

CONTEXT_COLUMNS: tuple[str, ...] = (
    "provider_id",
    "region_code",
    "municipality_code",
    "unit_type",
    "ownership",
)
"""Identifying context carried on every row (some are also categorical features)."""

RATE_WINDOW_MONTHS = 12
SEVERITY_WINDOWS_MONTHS: tuple[int, ...] = (12, 24)
INDICATOR_WINDOWS_MONTHS: tuple[int, ...] = (3, 12)
HISTORY_WINDOWS_MONTHS: tuple[int, ...] = (12, 36)
"""Trailing windows for counts of earlier deficiencies and serious findings."""
ATTRIBUTE_CHANGE_WINDOW_MONTHS = 24
"""Window of the count of dated changes (owner, verksamhetschef) per change attribute."""
SHRINKAGE_MIN_CELL_UNITS = 10
"""A region × unit-type cell with fewer active units borrows the national prior instead."""


@dataclass(frozen=True)
class FeatureSpec:
    """One column of the feature table, described for models (direction) and planners (sentence)."""

    name: str
    description_sv: str
    description_en: str
    source: str
    window_months: int | None
    unit: FeatureUnit
    higher_is_riskier: bool | None
    risk_area: str | None
    kind: FeatureKind
    template_sv: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (the shape of ``catalog.json`` entries)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpec:
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        return cls(**data)


# --- column names (shared by the builders and the catalog) ---------------------------------------


def event_count_name(source: str, area: str | None, window_months: int) -> str:
    middle = f"_{area}" if area else ""
    return f"{source}{middle}_count_{window_months}m"


def event_rate_name(source: str, area: str | None) -> str:
    middle = f"_{area}" if area else ""
    return f"{source}{middle}_per_10k_{RATE_WINDOW_MONTHS}m"


def event_shrunk_rate_name(source: str, area: str | None) -> str:
    middle = f"_{area}" if area else ""
    return f"{source}{middle}_shrunk_per_10k_{RATE_WINDOW_MONTHS}m"


def event_trend_name(source: str, area: str | None) -> str:
    middle = f"_{area}" if area else ""
    return f"{source}{middle}_trend_12m"


def event_days_since_name(source: str) -> str:
    return f"{source}_days_since_last"


def event_has_any_name(source: str) -> str:
    return f"{source}_has_any"


def event_severity_name(source: str, window_months: int) -> str:
    return f"{source}_severity_weighted_{window_months}m"


def indicator_name(source: str, measure: str, statistic: str) -> str:
    """``<source>_<measure>_<statistic>``; statistics listed in :data:`INDICATOR_STATISTICS`."""
    return f"{source}_{measure}_{statistic}"


def indicator_not_reporting_name(source: str) -> str:
    return f"{source}_not_reporting"


def provider_other_rate_name(source: str) -> str:
    return f"provider_other_units_{source}_shrunk_per_10k_{RATE_WINDOW_MONTHS}m"


def history_area_name(area: str, statistic: str) -> str:
    return f"history_{area}_{statistic}"


def history_count_name(area: str | None, what: str, window_months: int) -> str:
    """``history[_<area>]_<deficiencies|serious>_<w>m``: findings decided in the trailing window."""
    middle = f"_{area}" if area else ""
    return f"history{middle}_{what}_{window_months}m"


def attribute_name(source: str, attribute: str, statistic: str | None = None) -> str:
    """``<source>_<attribute>`` (the value as of the planning date) or ``..._<statistic>``."""
    return f"{source}_{attribute}" + (f"_{statistic}" if statistic else "")


def source_areas(config: Config, source: EventSource) -> list[str]:
    """Risk areas a source's categories map to, in the configuration's risk-area order."""
    mapped = set(source.categories.values())
    return [area for area in config.risk_area_ids if area in mapped]


INDICATOR_STATISTICS: tuple[str, ...] = (
    "latest",
    "3m",
    "12m",
    "slope_12m",
    "months_below_threshold_12m",
    "gap_region_median",
    "gap_national",
    "months_since_report",
)


# --- the catalog ------------------------------------------------------------------------------------


def feature_catalog(config: Config, *, has_visits: bool = False) -> list[FeatureSpec]:
    """Every feature column the pipeline produces under ``config``, in table order.

    Parameters
    ----------
    config
        The domain configuration (sources, risk areas, measures).
    has_visits
        Whether a ``visits`` table is present (adds the visit-based continuity indices).
    """
    specs = _context_specs()
    for name, event_source in config.event_sources.items():
        specs += _event_specs(config, name, event_source)
    for name, indicator_source in config.indicator_sources.items():
        specs += _indicator_specs(config, name, indicator_source)
    for name, attribute_source in config.attribute_sources.items():
        specs += _attribute_specs(name, attribute_source)
    specs += _provider_specs(config)
    specs += _history_specs(config)
    if has_visits:
        specs += _visit_continuity_specs()
    return specs


def _spec(  # noqa: PLR0917 - a compact row constructor for the tables below
    name: str,
    sv: str,
    en: str,
    source: str,
    window: int | None,
    unit: FeatureUnit,
    riskier: bool | None,
    area: str | None,
    template: str,
    kind: FeatureKind = "numeric",
) -> FeatureSpec:
    return FeatureSpec(name, sv, en, source, window, unit, riskier, area, kind, template)


def _context_specs() -> list[FeatureSpec]:
    return [
        _spec("listed_patients", "Antal listade patienter", "Listed patients", "units", None,
              "patients", None, None, "Listade patienter: {value}"),
        _spec("unit_age_months", "Enhetens ålder i månader sedan start", "Months since the unit opened",
              "units", None, "months", None, None, "Enhetens ålder (månader): {value}"),
        _spec("region_code", "Region (länskod)", "Region (county code)", "units", None, "category",
              None, None, "Region: {value}", "categorical"),
        _spec("unit_type", "Enhetstyp", "Unit type", "units", None, "category", None, None,
              "Enhetstyp: {value}", "categorical"),
        _spec("ownership", "Driftsform (offentlig/privat)", "Ownership (public/private)", "providers",
              None, "category", None, None, "Driftsform: {value}", "categorical"),
    ]  # fmt: skip


def _event_specs(config: Config, name: str, source: EventSource) -> list[FeatureSpec]:
    areas: list[str | None] = [None, *source_areas(config, source)]
    src_sv, src_en = source.name_sv, source.name_en
    specs: list[FeatureSpec] = []

    def about(area: str | None) -> tuple[str, str]:
        if area is None:
            return "", ""
        risk_area = config.risk_area(area)
        return f" om {risk_area.name_sv.lower()}", f" about {risk_area.name_en.lower()}"

    for area in areas:
        sv, en = about(area)
        for window in EVENT_WINDOWS_MONTHS:
            specs.append(_spec(
                event_count_name(name, area, window),
                f"{src_sv}{sv} mottagna de senaste {window} månaderna",
                f"{src_en}{en} received in the last {window} months",
                name, window, "count", True, area,
                f"{src_sv}{sv} senaste {window} mån: {{value}}",
            ))  # fmt: skip
        specs.append(_spec(
            event_rate_name(name, area),
            f"{src_sv}{sv} senaste 12 månaderna per 10 000 listade",
            f"{src_en}{en} in the last 12 months per 10,000 listed patients",
            name, RATE_WINDOW_MONTHS, "per_10k", True, area,
            f"{src_sv}{sv} per 10 000 listade senaste 12 mån: {{value}}",
        ))  # fmt: skip
        specs.append(_spec(
            event_shrunk_rate_name(name, area),
            f"{src_sv}{sv} per 10 000 listade, krympt mot regionens och enhetstypens nivå (empirisk Bayes)",
            f"{src_en}{en} per 10,000 listed, shrunk toward the region × unit-type mean (empirical Bayes)",
            name, RATE_WINDOW_MONTHS, "per_10k", True, area,
            f"{src_sv}{sv} per 10 000 listade (justerad för enhetens storlek): {{value}}",
        ))  # fmt: skip
        specs.append(_spec(
            event_trend_name(name, area),
            f"Förändring av {src_sv.lower()}{sv}: log((senaste 12 mån + 1) / (12 mån dessförinnan + 1))",
            f"Trend of {src_en.lower()}{en}: log((last 12 months + 1) / (previous 12 months + 1))",
            name, 24, "ratio", True, area,
            f"Trend för {src_sv.lower()}{sv} (log-kvot, senaste 12 mån mot föregående): {{value}}",
        ))  # fmt: skip
    specs.append(_spec(
        event_days_since_name(name),
        f"Dagar sedan senast mottagna ({src_sv.lower()}); tomt om inga",
        f"Days since the last received ({src_en.lower()}); null when none",
        name, None, "days", False, None, f"Dagar sedan senaste ({src_sv.lower()}): {{value}}",
    ))  # fmt: skip
    specs.append(_spec(
        event_has_any_name(name),
        f"Enheten har minst en mottagen ({src_sv.lower()}) före planeringsdagen",
        f"The unit has at least one received ({src_en.lower()}) before the planning date",
        name, None, "flag", True, None, f"Har tidigare {src_sv.lower()}: {{value}}",
    ))  # fmt: skip
    if source.severities:
        for window in SEVERITY_WINDOWS_MONTHS:
            specs.append(_spec(
                event_severity_name(name, window),
                f"{src_sv} senaste {window} mån viktade efter allvarlighetsgrad",
                f"{src_en} in the last {window} months weighted by severity",
                name, window, "count", True, None,
                f"{src_sv} viktade efter allvarlighet senaste {window} mån: {{value}}",
            ))  # fmt: skip
    return specs


def _indicator_specs(config: Config, name: str, source: IndicatorSource) -> list[FeatureSpec]:
    specs: list[FeatureSpec] = []
    for key, measure in source.measures.items():
        worse = not measure.higher_is_better
        msv, men, area = measure.name_sv, measure.name_en, measure.risk_area
        is_value = measure.kind == "value"
        level: FeatureUnit = "value" if is_value else "share"
        gap: FeatureUnit = "value" if is_value else "ratio"
        pooled_sv = "medelvärde av månaderna" if is_value else "summa täljare / summa nämnare"
        pooled_en = "mean of the months" if is_value else "sum numerator / sum denominator"
        threshold = (
            "tröskel saknas"
            if measure.threshold is None
            else f"{measure.threshold:g} {measure.unit_sv}".strip()
            if is_value
            else f"{measure.threshold:.0%}"
        )
        rows: list[tuple[str, str, str, int | None, FeatureUnit, bool | None, str]] = [
            ("latest", f"{msv}, senast publicerade månad (inom 12 mån)",
             f"{men}, latest published month (within 12 months)", 1, level, worse,
             f"{msv} senaste månad: {{value}}"),
            ("3m", f"{msv}, senaste 3 publicerade månaderna ({pooled_sv})",
             f"{men}, last 3 published months ({pooled_en})", 3, level, worse,
             f"{msv} senaste 3 mån: {{value}}"),
            ("12m", f"{msv}, senaste 12 publicerade månaderna ({pooled_sv})",
             f"{men}, last 12 published months ({pooled_en})", 12, level, worse,
             f"{msv} senaste 12 mån: {{value}}"),
            ("slope_12m", f"{msv}, förändring per månad (minsta kvadrat, senaste 12 mån)",
             f"{men}, change per month (least squares, last 12 months)", 12, "ratio", worse,
             f"{msv}, förändring per månad: {{value}}"),
            ("months_below_threshold_12m",
             f"Månader av de senaste 12 med {msv.lower()} sämre än {threshold}",
             f"Months of the last 12 with {men.lower()} worse than {threshold}", 12, "months", True,
             f"Månader under målet {threshold} ({msv.lower()}) senaste 12 mån: {{value}}"),
            ("gap_region_median", f"{msv}, senaste månad minus regionens median samma månad",
             f"{men}, latest month minus the regional median of the same month", 1, gap, worse,
             f"{msv} jämfört med regionens median (differens): {{value}}"),
            ("gap_national", f"{msv}, senaste månad minus riksvärdet samma månad",
             f"{men}, latest month minus the national value of the same month", 1, gap, worse,
             f"{msv} jämfört med riket (differens): {{value}}"),
            ("months_since_report", f"Månader sedan senast rapporterade {msv.lower()}; tomt om aldrig",
             f"Months since {men.lower()} was last reported; null when never", None, "months", None,
             f"Månader sedan senaste rapport ({msv.lower()}): {{value}}"),
        ]  # fmt: skip
        for statistic, sv, en, window, unit, riskier, template in rows:
            specs.append(
                _spec(
                    indicator_name(name, key, statistic), sv, en, name, window, unit, riskier, area, template
                )
            )
    specs.append(_spec(
        indicator_not_reporting_name(name),
        f"Enheten har inte rapporterat till {source.name_sv} de senaste "
        f"{config.quality.stop_reporting_months} publicerade månaderna",
        f"The unit has not reported to {source.name_en} in the last "
        f"{config.quality.stop_reporting_months} published months",
        name, config.quality.stop_reporting_months, "flag", None, None,
        f"Rapporterar inte till {source.name_sv}: {{value}}",
    ))  # fmt: skip
    return specs


def _provider_specs(config: Config) -> list[FeatureSpec]:
    specs = [
        _spec("provider_other_units", "Vårdgivarens övriga aktiva enheter (antal)",
              "The provider's other active units (count)", "units", None, "count", None, None,
              "Vårdgivarens övriga enheter: {value}"),
        _spec("provider_other_units_deficiency_share",
              "Andel brister i tidigare beslut för vårdgivarens övriga enheter",
              "Share of earlier decisions with a deficiency at the provider's other units",
              "inspections", None, "share", True, None,
              "Andel brister vid vårdgivarens övriga enheter: {value}"),
    ]  # fmt: skip
    for name, source in config.event_sources.items():
        specs.append(_spec(
            provider_other_rate_name(name),
            f"{source.name_sv} per 10 000 listade (krympt), medel över vårdgivarens övriga enheter",
            f"{source.name_en} per 10,000 listed (shrunk), mean over the provider's other units",
            name, RATE_WINDOW_MONTHS, "per_10k", True, None,
            f"{source.name_sv} per 10 000 listade vid vårdgivarens övriga enheter: {{value}}",
        ))  # fmt: skip
    return specs


def _history_specs(config: Config) -> list[FeatureSpec]:
    specs = [
        _spec("history_inspections", "Tidigare tillsyner med beslut före planeringsdagen (antal)",
              "Earlier inspections decided before the planning date", "inspections", None, "count",
              None, None, "Tidigare tillsyner: {value}"),
        _spec("history_deficiency_share", "Andel bedömda riskområden med brist i tidigare beslut",
              "Share of assessed risk areas with a deficiency in earlier decisions", "inspections",
              None, "share", True, None, "Andel brister i tidigare tillsyner: {value}"),
        _spec("history_days_since_inspection", "Dagar sedan senaste tillsynsbeslut; tomt om aldrig",
              "Days since the last inspection decision; null when never", "inspections", None, "days",
              None, None, "Dagar sedan senaste tillsynsbeslut: {value}"),
        _spec("history_days_since_finding",
              "Dagar sedan senaste tillsynsbeslut med brist eller föreläggande; tomt om aldrig",
              "Days since the last decision with a deficiency or a serious finding; null when never",
              "inspections", None, "days", False, None,
              "Dagar sedan senaste beslut med brist: {value}"),
        _spec("history_last_finding_level",
              "Allvarligaste fyndet vid senaste tillsynen: 0 ingen brist, 1 brist, 2 föreläggande; "
              "tomt om aldrig inspekterad",
              "Most serious finding of the last inspection: 0 none, 1 deficiency, 2 serious; null "
              "when never inspected", "inspections", None, "level", True, None,
              "Fynd vid senaste tillsynen (0 ingen brist, 1 brist, 2 föreläggande): {value}"),
        _spec("history_last_was_follow_up",
              "Senaste tillsynen var en uppföljning (1) eller inte (0); tomt om aldrig inspekterad",
              "The last inspection was a follow-up (1) or not (0); null when never inspected",
              "inspections", None, "flag", None, None, "Senaste tillsynen var en uppföljning: {value}"),
    ]  # fmt: skip
    specs += _history_count_specs(None, "", "")
    for area in config.risk_areas:
        sv, en = area.name_sv.lower(), area.name_en.lower()
        specs += [
            _spec(history_area_name(area.id, "inspections"), f"Tidigare bedömningar av {sv} (antal)",
                  f"Earlier assessments of {en}", "inspections", None, "count", None, area.id,
                  f"Tidigare bedömningar av {sv}: {{value}}"),
            _spec(history_area_name(area.id, "deficiency_share"),
                  f"Andel tidigare bedömningar av {sv} med brist",
                  f"Share of earlier assessments of {en} with a deficiency", "inspections", None,
                  "share", True, area.id, f"Andel brister inom {sv} i tidigare tillsyner: {{value}}"),
            _spec(history_area_name(area.id, "last_deficiency"),
                  f"Senaste bedömningen av {sv} gav brist (1) eller inte (0); tomt om aldrig bedömd",
                  f"The last assessment of {en} found a deficiency (1) or not (0); null when never",
                  "inspections", None, "flag", True, area.id,
                  f"Brist inom {sv} vid senaste tillsynen: {{value}}"),
            _spec(history_area_name(area.id, "last_finding_level"),
                  f"Fynd inom {sv} vid senaste bedömningen: 0 ingen brist, 1 brist, 2 föreläggande; "
                  "tomt om aldrig bedömd",
                  f"Finding on {en} at its last assessment: 0 none, 1 deficiency, 2 serious; null "
                  "when never assessed", "inspections", None, "level", True, area.id,
                  f"Fynd inom {sv} vid senaste tillsynen (0 ingen brist, 1 brist, 2 föreläggande): "
                  "{value}"),
        ]  # fmt: skip
        specs += _history_count_specs(area.id, f" inom {sv}", f" on {en}")
    return specs


def _history_count_specs(area: str | None, sv: str, en: str) -> list[FeatureSpec]:
    """Deficiencies and serious findings (föreläggande) decided in each trailing window."""
    specs = []
    for window in HISTORY_WINDOWS_MONTHS:
        specs += [
            _spec(history_count_name(area, "deficiencies", window),
                  f"Brister{sv} i tillsynsbeslut de senaste {window} månaderna (antal; "
                  "deficiency_count när det rapporteras, annars en per bedömning med brist)",
                  f"Deficiencies{en} in inspection decisions of the last {window} months (count; "
                  "deficiency_count where reported, else one per assessment with a finding)",
                  "inspections", window, "count", True, area,
                  f"Brister{sv} i tillsynsbeslut senaste {window} mån: {{value}}"),
            _spec(history_count_name(area, "serious", window),
                  f"Förelägganden{sv} i tillsynsbeslut de senaste {window} månaderna (antal)",
                  f"Serious findings (föreläggande){en} in decisions of the last {window} months",
                  "inspections", window, "count", True, area,
                  f"Förelägganden{sv} senaste {window} mån: {{value}}"),
        ]  # fmt: skip
    return specs


def _attribute_specs(name: str, source: AttributeSource) -> list[FeatureSpec]:
    """Per attribute: its value as of the planning date (numeric, categorical), or for a change
    attribute the days since the last change and the changes in the trailing window."""
    specs: list[FeatureSpec] = []
    window = ATTRIBUTE_CHANGE_WINDOW_MONTHS
    for key, attribute in source.attributes.items():
        asv, aen, area = attribute.name_sv, attribute.name_en, attribute.risk_area
        riskier = attribute.higher_is_riskier
        if attribute.type == "change":
            specs += [
                _spec(attribute_name(name, key, "days_since"),
                      f"Dagar sedan senaste {asv.lower()}; tomt om ingen känd",
                      f"Days since the last {aen.lower()}; null when none is known", name, None,
                      "days", None if riskier is None else not riskier, area, attribute.template_sv),
                _spec(attribute_name(name, key, f"count_{window}m"),
                      f"{asv} de senaste {window} månaderna (antal)",
                      f"{aen} in the last {window} months (count)", name, window, "count",
                      attribute.higher_is_riskier, area,
                      f"{asv} senaste {window} mån (antal): {{value}}"),
            ]  # fmt: skip
        elif attribute.type == "numeric":
            is_share = attribute.value_min == 0.0 and attribute.value_max == 1.0
            unit: FeatureUnit = "share" if is_share else "value"
            specs.append(_spec(
                attribute_name(name, key), f"{asv}, senast kända värde före planeringsdagen",
                f"{aen}, latest value known before the planning date", name, None, unit,
                attribute.higher_is_riskier, area, attribute.template_sv,
            ))  # fmt: skip
        else:
            specs.append(_spec(
                attribute_name(name, key), f"{asv}, senast kända kategori före planeringsdagen",
                f"{aen}, latest category known before the planning date", name, None, "category",
                None, area, attribute.template_sv, "categorical",
            ))  # fmt: skip
    return specs


def _visit_continuity_specs() -> list[FeatureSpec]:
    area = "kontinuitet"
    return [
        _spec("visits_upc_12m", "UPC (andel läkarbesök hos patientens vanligaste läkare), medel över "
              "patienter med minst 2 läkarbesök senaste 12 mån",
              "Usual provider of care index (Breslau & Reeb), mean over patients with ≥ 2 doctor "
              "visits in the last 12 months", "visits", 12, "share", False, area,
              "Kontinuitet (UPC) senaste 12 mån: {value}"),
        _spec("visits_coc_12m", "COC-index (Bice & Boxerman), medel över patienter med minst 2 "
              "läkarbesök senaste 12 mån", "Continuity of care index (Bice & Boxerman), mean over "
              "patients with ≥ 2 doctor visits in the last 12 months", "visits", 12, "share", False,
              area, "Kontinuitet (COC) senaste 12 mån: {value}"),
        _spec("visits_same_doctor_majority_share_12m", "Andel patienter med minst 3 läkarbesök som "
              "träffat samma läkare vid mer än hälften av besöken",
              "Share of patients with ≥ 3 doctor visits who met the same doctor in more than half",
              "visits", 12, "share", False, area,
              "Andel patienter som oftast träffar samma läkare: {value}"),
        _spec("visits_patients_12m", "Patienter med minst 2 läkarbesök senaste 12 mån (underlag)",
              "Patients with ≥ 2 doctor visits in the last 12 months (basis of the indices)", "visits",
              12, "patients", None, area, "Patienter med minst 2 läkarbesök: {value}"),
    ]  # fmt: skip
