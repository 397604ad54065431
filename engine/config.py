"""The engine's domain configuration: risk areas, sources, category mapping and thresholds.

One TOML file (``engine/default_config.toml`` unless ``TILLSYNSRISK_CONFIG`` names another) is parsed
into a frozen :class:`Config`. Unknown keys and dangling references (a category mapped to a risk area
that does not exist) fail at load time with the offending key named, so a typo never silently drops a
source from the features.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DEFAULT_CONFIG_RESOURCE = "default_config.toml"
IDENTIFIER_PATTERN = r"^[a-z][a-z0-9_]*$"


class ConfigError(ValueError):
    """Raised when a configuration file cannot be read or does not validate."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RiskArea(_Frozen):
    """A riskområde the engine scores."""

    id: Annotated[str, Field(pattern=IDENTIFIER_PATTERN)]
    name_sv: str
    name_en: str
    description_sv: str = ""


class Measure(_Frozen):
    """One measure reported by an indicator source.

    ``kind = "share"`` (the default): reported as numerator / denominator, ``threshold`` a share in
    [0, 1]. ``kind = "value"``: reported as a number in ``value`` (a patient-survey index 0–100,
    readmissions per 1,000), in ``unit_sv``, inside ``[value_min, value_max]``; ``threshold`` (optional)
    is in the same unit.
    """

    kind: Literal["share", "value"] = "share"
    name_sv: str
    name_en: str
    risk_area: str
    higher_is_better: bool = True
    threshold: float | None = None
    unit_sv: str = ""
    value_min: float | None = None
    value_max: float | None = None

    @model_validator(mode="after")
    def _threshold_and_range(self) -> Measure:
        if self.kind == "share":
            if self.threshold is None or not 0.0 <= self.threshold <= 1.0:
                raise ValueError(f"a share measure needs a threshold in [0, 1], got {self.threshold}")
            if self.value_min is not None or self.value_max is not None:
                raise ValueError("value_min/value_max apply to measures of kind 'value' only")
            return self
        if self.value_min is None or self.value_max is None or self.value_min >= self.value_max:
            raise ValueError(
                f"a value measure needs value_min < value_max, got {self.value_min}, {self.value_max}"
            )
        if self.threshold is not None and not self.value_min <= self.threshold <= self.value_max:
            raise ValueError(f"threshold {self.threshold} lies outside [{self.value_min}, {self.value_max}]")
        return self


class EventSource(_Frozen):
    """A source of dated events (klagomål, lex Maria, lex Sarah, ...)."""

    kind: Literal["event"]
    file: Annotated[str, Field(pattern=IDENTIFIER_PATTERN)]
    name_sv: str
    name_en: str
    categories: dict[str, str]
    severities: dict[str, Annotated[float, Field(gt=0)]] = Field(default_factory=dict)
    free_text_columns: list[Annotated[str, Field(pattern=IDENTIFIER_PATTERN)]] = Field(default_factory=list)
    publication_lag_days: Annotated[int, Field(ge=0)] = 0
    required: bool = True


class IndicatorSource(_Frozen):
    """A source of monthly numerator/denominator measures per unit (Väntetidsdatabasen, ...)."""

    kind: Literal["indicator"]
    file: Annotated[str, Field(pattern=IDENTIFIER_PATTERN)]
    name_sv: str
    name_en: str
    measures: dict[str, Measure]
    publication_lag_months: Annotated[int, Field(ge=0)] = 1
    publication_lag_days: Annotated[int, Field(ge=0)] = 0
    required: bool = True

    @property
    def share_measures(self) -> list[str]:
        return [key for key, measure in self.measures.items() if measure.kind == "share"]

    @property
    def value_measures(self) -> list[str]:
        return [key for key, measure in self.measures.items() if measure.kind == "value"]


class Attribute(_Frozen):
    """One unit attribute carried by an attribute source, valid from its ``valid_from`` date.

    ``type``: ``numeric`` (``value`` is a number in ``[value_min, value_max]``), ``categorical``
    (``value`` is one of ``categories``: code → Swedish name) or ``change`` (a dated change such as a
    new owner or a new verksamhetschef; ``value`` is optional and never used by features).
    ``template_sv`` is the planner sentence for the attribute's main feature (``{value}`` placeholder).
    """

    type: Literal["numeric", "categorical", "change"]
    name_sv: str
    name_en: str
    risk_area: str | None = None
    higher_is_riskier: bool | None = None
    template_sv: str
    unit_sv: str = ""
    value_min: float | None = None
    value_max: float | None = None
    categories: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _type_settings(self) -> Attribute:
        if "{value}" not in self.template_sv:
            raise ValueError(f"template_sv must contain '{{value}}', got {self.template_sv!r}")
        if self.type == "categorical" and not self.categories:
            raise ValueError("a categorical attribute needs categories")
        if self.type != "categorical" and self.categories:
            raise ValueError("categories apply to categorical attributes only")
        if self.type == "numeric" and (
            self.value_min is None or self.value_max is None or self.value_min >= self.value_max
        ):
            raise ValueError(
                f"a numeric attribute needs value_min < value_max, got {self.value_min}, {self.value_max}"
            )
        return self


class AttributeSource(_Frozen):
    """A source of dated unit attributes (owner, verksamhetschef, staffing): one row per unit,
    attribute and ``valid_from`` date; the attribute holds that value until the unit's next row."""

    kind: Literal["attribute"]
    file: Annotated[str, Field(pattern=IDENTIFIER_PATTERN)]
    name_sv: str
    name_en: str
    attributes: dict[Annotated[str, Field(pattern=IDENTIFIER_PATTERN)], Attribute] = Field(min_length=1)
    publication_lag_days: Annotated[int, Field(ge=0)] = 0
    required: bool = False


Source = Annotated[EventSource | IndicatorSource | AttributeSource, Field(discriminator="kind")]


class InspectionSettings(_Frozen):
    """Allowed values of the optional inspection covariates (``[inspections]`` in the TOML file)."""

    teams: dict[Annotated[str, Field(pattern=IDENTIFIER_PATTERN)], str] = Field(
        default_factory=lambda: {
            "nord": "Avdelning nord",
            "mitt": "Avdelning mitt",
            "ost": "Avdelning öst",
            "sydost": "Avdelning sydost",
            "syd": "Avdelning syd",
            "vast": "Avdelning väst",
        },
        min_length=1,
    )
    methods: dict[Annotated[str, Field(pattern=IDENTIFIER_PATTERN)], str] = Field(
        default_factory=lambda: {
            "platsbesok": "Platsbesök",
            "dokumentgranskning": "Dokumentgranskning",
            "intervju": "Intervju",
        },
        min_length=1,
    )


class IngestSettings(_Frozen):
    """Bounds on what one ingest reads (``[ingest]`` in the TOML file; ``docs/data-quality.md``).

    Each is checked before a file is held in memory, and exceeding one is an error that names the
    file and the limit. ``max_table_mib`` is the memory budget of reading: a table is read in batches
    and the read stops as soon as the batches held pass it. ``max_failures_listed`` bounds the failures
    kept per file, rule and column (the rest are counted in one row).
    """

    max_file_mib: Annotated[float, Field(gt=0.0)] = 512.0
    max_rows: Annotated[int, Field(ge=1)] = 10_000_000
    max_columns: Annotated[int, Field(ge=1)] = 200
    max_table_mib: Annotated[float, Field(gt=0.0)] = 1024.0
    max_failures_listed: Annotated[int, Field(ge=1)] = 1000

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mib * MIB)

    @property
    def max_table_bytes(self) -> int:
        return int(self.max_table_mib * MIB)


MIB = 1 << 20


class QualitySettings(_Frozen):
    """Limits for the data-quality rules applied at ingest."""

    placeholder_values: list[int] = Field(default_factory=lambda: [9999, 99999, 999999, 9999999])
    magnitude_factor: Annotated[float, Field(gt=1.0)] = 200.0
    magnitude_min_history: Annotated[int, Field(ge=1)] = 6
    stop_reporting_months: Annotated[int, Field(ge=1)] = 3
    share_tolerance: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.011
    placeholder_context_factor: Annotated[float, Field(gt=1.0)] = 10.0
    listed_patients_factor: Annotated[float, Field(gt=1.0)] = 20.0


class LightGBMSettings(_Frozen):
    """Hyper-parameters of the per-area LightGBM classifiers (early stopping picks the tree count)."""

    n_estimators: Annotated[int, Field(ge=1)] = 600
    learning_rate: Annotated[float, Field(gt=0.0, le=1.0)] = 0.06
    num_leaves: Annotated[int, Field(ge=2)] = 7
    min_child_samples: Annotated[int, Field(ge=1)] = 50
    subsample: Annotated[float, Field(gt=0.0, le=1.0)] = 0.8
    colsample_bytree: Annotated[float, Field(gt=0.0, le=1.0)] = 0.8
    reg_lambda: Annotated[float, Field(ge=0.0)] = 1.0
    max_bin: Annotated[int, Field(ge=2)] = 63
    early_stopping_rounds: Annotated[int, Field(ge=1)] = 25
    num_threads: Annotated[int, Field(ge=1)] = 2


RankingTarget = Literal["deficiency", "serious", "ordinal"]
"""What ranks an area's units: P(any deficiency), P(serious finding), or the expected level
(none 0 < deficiency 1 < serious 2: P(deficiency) + P(serious), docs/models.md "Ranking targets")."""

ModelFamily = Literal["lightgbm", "elastic_net", "blend"]
MODEL_FAMILIES: tuple[ModelFamily, ...] = ("lightgbm", "elastic_net", "blend")


class ModelSettings(_Frozen):
    """How risk models are trained, evaluated and promoted (``[model]`` in the TOML file).

    ``targets`` names the ranking target per risk area (``auto`` for an area not named):
    ``auto`` resolves to ``serious`` where the share of the training rows with any deficiency exceeds
    ``target_auto_threshold`` (where nearly every unit has some deficiency, only the serious ones
    tell units apart), else ``deficiency``.
    """

    lead_time_days: Annotated[int, Field(ge=0)] = 60
    layout: Literal["per_area", "pooled"] = "pooled"
    calibration: Literal["isotonic", "sigmoid"] = "sigmoid"
    calibration_by_area: bool = True
    fit_on_all_labelled: bool = True
    region_with_team: Literal["keep", "drop"] = "drop"
    team_effect: Literal["offset", "feature"] = "offset"
    ece_threshold: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.03
    ece_bins: Annotated[int, Field(ge=2)] = 10
    ece_gate_population: Literal["random", "all", "weighted"] = "all"
    ece_gate_rule: Literal["point", "noise"] = "noise"
    bootstrap_resamples: Annotated[int, Field(ge=10, le=10_000)] = 200
    seed: int = 42
    top_fractions: list[Annotated[float, Field(gt=0.0, lt=1.0)]] = Field(
        default_factory=lambda: [0.05, 0.10, 0.20], min_length=1
    )
    evaluation_years: Annotated[int, Field(ge=1)] = 3
    min_train_years: Annotated[int, Field(ge=2)] = 3
    complaint_triggered_weight: Annotated[float, Field(gt=0.0)] = 1.0
    max_weight: Annotated[float, Field(ge=1.0)] = 20.0
    banding_rate_quantile: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.8
    unit_size_bands: list[Annotated[int, Field(gt=0)]] = Field(default_factory=lambda: [4000, 10000])
    disparity_bounds: tuple[float, float] = (0.8, 1.25)
    audit_min_group_size: Annotated[int, Field(ge=1)] = 30
    audit_level: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.95
    # Higher is better for every allowed metric (the gate's "worse" and "better" assume it).
    paired_gate_metric: Literal[
        "precision_at_5pct",
        "precision_at_10pct",
        "precision_at_20pct",
        "recall_at_10pct",
        "lift_at_10pct",
        "roc_auc",
        "average_precision",
    ] = "precision_at_10pct"
    paired_gate_population: Literal["random", "all", "weighted"] = "all"
    paired_gate_better: Literal["point", "interval"] = "interval"
    paired_gate_family: Literal["bonferroni", "none"] = "none"
    paired_gate_min_n: Annotated[int, Field(ge=1)] = 30
    prospective_since: Literal["as_of", "promoted"] = "as_of"
    targets: dict[str, Literal["auto", "deficiency", "serious", "ordinal"]] = Field(default_factory=dict)
    target_auto_threshold: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.6
    # The model families each risk area may be served by, chosen by temporal validation (models.family);
    # a single entry forces that family in every area.
    families: list[ModelFamily] = Field(default_factory=lambda: list(MODEL_FAMILIES), min_length=1)
    lightgbm: LightGBMSettings = Field(default_factory=LightGBMSettings)

    @model_validator(mode="after")
    def _families_distinct(self) -> ModelSettings:
        if len(set(self.families)) != len(self.families):
            raise ValueError(f"model families must be distinct, got {self.families}")
        return self


class ScoringSettings(_Frozen):
    """How ``tillsynsrisk score`` explains and combines per-area risks."""

    explanations_per_row: Annotated[int, Field(ge=1, le=20)] = 3
    min_contribution: Annotated[float, Field(ge=0.0, le=5.0)] = 0.1


class PlanningSettings(_Frozen):
    """The defaults of an inspection plan (``[planning]``): what a plan uses where its caller gives nothing.

    ``tillsynsrisk plan``, ``POST /v1/plans`` and the web plan form read them when the request leaves a
    parameter out (the form shows them pre-filled); ``tillsynsrisk simulate`` takes its exploration
    share and cooldown from here. The capacity and the seed have no default: every plan names its own.
    """

    design: Literal["top", "pps", "stratified"] = "top"
    exploration: Annotated[float, Field(ge=0.0, le=1.0)] = 0.15
    floor: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    cooldown_months: Annotated[int, Field(ge=0, le=120)] = 12


class Config(_Frozen):
    """The effective configuration of one deployment."""

    schema_version: Literal[1, 2] = 2
    unit_types: list[str] = Field(default_factory=lambda: ["vardcentral"], min_length=1)
    risk_areas: list[RiskArea] = Field(min_length=1)
    sources: dict[str, Source]
    inspections: InspectionSettings = Field(default_factory=InspectionSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    quality: QualitySettings = Field(default_factory=QualitySettings)
    model: ModelSettings = Field(default_factory=ModelSettings)
    scoring: ScoringSettings = Field(default_factory=ScoringSettings)
    planning: PlanningSettings = Field(default_factory=PlanningSettings)

    @model_validator(mode="after")
    def _references_resolve(self) -> Config:
        area_ids = [area.id for area in self.risk_areas]
        if len(set(area_ids)) != len(area_ids):
            raise ValueError(f"risk area ids must be unique, got {area_ids}")
        known = set(area_ids)
        unknown_targets = sorted(set(self.model.targets) - known)
        if unknown_targets:
            raise ValueError(
                f"model.targets names unknown risk areas {unknown_targets}; known: {sorted(known)}"
            )
        files = [source.file for source in self.sources.values()]
        if len(set(files)) != len(files):
            raise ValueError(f"source files must be unique, got {files}")
        reserved = {"providers", "units", "inspections", "visits"}
        for name, source in self.sources.items():
            if source.file in reserved:
                raise ValueError(f"source {name!r} uses the reserved file name {source.file!r}")
            targets: Iterable[tuple[str, str | None]]
            if isinstance(source, EventSource):
                targets = source.categories.items()
            elif isinstance(source, IndicatorSource):
                targets = ((key, measure.risk_area) for key, measure in source.measures.items())
            else:
                targets = ((key, attribute.risk_area) for key, attribute in source.attributes.items())
            for key, area in targets:
                if area is None:
                    continue
                if area not in known:
                    raise ValueError(
                        f"source {name!r}: {key!r} maps to unknown risk area {area!r}; known: {sorted(known)}"
                    )
        return self

    @property
    def risk_area_ids(self) -> list[str]:
        return [area.id for area in self.risk_areas]

    @property
    def risk_area_names_sv(self) -> dict[str, str]:
        """Risk area id → its Swedish name, in the configured order."""
        return {area.id: area.name_sv for area in self.risk_areas}

    def risk_area(self, area_id: str) -> RiskArea:
        for area in self.risk_areas:
            if area.id == area_id:
                return area
        raise KeyError(f"unknown risk area {area_id!r}; known: {self.risk_area_ids}")

    @property
    def event_sources(self) -> dict[str, EventSource]:
        return {name: src for name, src in self.sources.items() if isinstance(src, EventSource)}

    @property
    def indicator_sources(self) -> dict[str, IndicatorSource]:
        return {name: src for name, src in self.sources.items() if isinstance(src, IndicatorSource)}

    @property
    def attribute_sources(self) -> dict[str, AttributeSource]:
        return {name: src for name, src in self.sources.items() if isinstance(src, AttributeSource)}

    def content_hash(self) -> str:
        """Stable hash of the effective configuration (names every output's config)."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def default_config_text() -> str:
    """The packaged default configuration, as TOML text."""
    return resources.files("engine").joinpath(DEFAULT_CONFIG_RESOURCE).read_text(encoding="utf-8")


def config_from_mapping(data: dict[str, Any], origin: str = "<mapping>") -> Config:
    """Validate a parsed TOML mapping into a :class:`Config`."""
    try:
        return Config.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc']) or '<root>'}: {item['msg']}"
            for item in error.errors()
        )
        raise ConfigError(f"invalid configuration in {origin}: {problems}") from error


def load_config(path: Path | None = None) -> Config:
    """Load the configuration from ``path``, or the packaged default when ``path`` is None."""
    if path is None:
        text, origin = default_config_text(), "default_config.toml"
    else:
        try:
            text, origin = path.read_text(encoding="utf-8"), str(path)
        except OSError as error:
            raise ConfigError(f"cannot read configuration file {path}: {error.strerror}") from error
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"configuration file {origin} is not valid TOML: {error}") from error
    return config_from_mapping(data, origin)
