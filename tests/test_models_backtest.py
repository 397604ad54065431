"""Backtest: versions scored on the same inspections, paired intervals, in-sample marking, the paired gate."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

import numpy as np
import polars as pl
import pytest

from engine.config import Config
from engine.contract import REGIONS
from models.artifact import RiskModel
from models.backtest import (
    BacktestResult,
    VersionToScore,
    checked_regions,
    in_sample_refusal,
    paired_metrics,
    paired_verdict,
    run_backtest,
    version_scores,
)

AREAS = ("tillganglighet", "kontinuitet")


class TableModel:
    """A stand-in model: P(deficiency) = a fixed column of the feature frame (or a constant)."""

    def __init__(self, column: str) -> None:
        self.column = column

    def predict_frame(self, features: pl.DataFrame, *, contributions: bool = True) -> pl.DataFrame:
        return pl.concat(
            [
                features.select(
                    "unit_id",
                    "as_of",
                    pl.lit(area).alias("risk_area"),
                    pl.col(self.column).alias("p_deficiency"),
                )
                for area in AREAS
            ]
        )


def _version(name: str, column: str, as_of: dt.date, stored: pl.DataFrame | None = None) -> VersionToScore:
    return VersionToScore(
        version=name,
        run_id=f"{name:0>32}",
        as_of=as_of,
        lead_time_days=60,
        model=cast(RiskModel, TableModel(column)),
        stored_scores=stored,
    )


def _world(n_units: int = 400, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Inspections decided in 2024–2025 and features where ``truth`` is the real risk, ``noise`` is not."""
    rng = np.random.default_rng(seed)
    units = [f"SE2321000016-{i:04d}" for i in range(n_units)]
    risk = rng.uniform(0.05, 0.9, n_units)
    rows, features = [], []
    for index, unit in enumerate(units):
        start = dt.date(2024 + index % 2, 3 + index % 9, 10)
        as_of = (start - dt.timedelta(days=60)).replace(day=1)
        features.append({"unit_id": unit, "as_of": as_of, "truth": risk[index], "noise": rng.random()})
        for area in AREAS:
            finding = "deficiency" if rng.random() < risk[index] else "none"
            rows.append(
                {
                    "inspection_id": f"I{index:05d}",
                    "unit_id": unit,
                    "risk_area": area,
                    "start_date": start,
                    "decision_date": start + dt.timedelta(days=30),
                    "selection": "random" if index % 3 == 0 else "risk_based",
                    "inclusion_probability": 0.1 if index % 3 == 0 else None,
                    "finding": finding,
                }
            )
    return pl.DataFrame(rows), pl.DataFrame(features)


def test_a_better_model_shows_a_positive_paired_difference_and_equal_models_show_none(
    models_config: Config,
) -> None:
    # Given inspections decided in 2025 and three versions: the truth, a copy of it, and noise
    inspections, features = _world()
    versions = [
        _version("1", "truth", dt.date(2024, 1, 1)),
        _version("2", "truth", dt.date(2024, 1, 1)),
        _version("3", "noise", dt.date(2024, 1, 1)),
    ]

    # When backtested on the window 2025-01-01 – 2025-12-31
    result = run_backtest(
        {"inspections": inspections.lazy()},
        models_config,
        versions,
        since=dt.date(2025, 1, 1),
        until=dt.date(2026, 1, 1),
        features=features,
    )

    # Then the window and the n per area and population are reported
    assert result.window_text() == "2025-01-01 – 2025-12-31"
    counts = {(r["population"], r["risk_area"]): r["n"] for r in result.counts.iter_rows(named=True)}
    decided_2025 = inspections.filter(pl.col("decision_date") >= dt.date(2025, 1, 1))
    assert (
        counts[("all", "tillganglighet")]
        == decided_2025.filter(pl.col("risk_area") == "tillganglighet").height
    )
    assert 0 < counts[("random", "tillganglighet")] < counts[("all", "tillganglighet")]
    # And the copy's paired difference is exactly zero (same rows, same resamples), interval included
    diffs = result.differences.filter((pl.col("population") == "all") & (pl.col("metric") == "roc_auc"))
    copy = diffs.filter(pl.col("version") == "2")
    assert copy["value"].abs().max() == 0.0 and copy["lower"].abs().max() == 0.0
    # And the noise model is worse than the truth beyond its paired interval in every area
    noise = diffs.filter(pl.col("version") == "3")
    assert (noise["upper"] < 0).all(), noise
    assert all(not v["in_sample"] for v in result.versions), "trained before the window: out of sample"


def test_a_version_trained_after_the_window_starts_is_marked_in_sample(models_config: Config) -> None:
    # Given one version trained before 2025 and one trained at 2026-01-01 (its labels include 2025's)
    inspections, features = _world()
    versions = [_version("1", "truth", dt.date(2025, 1, 1)), _version("2", "truth", dt.date(2026, 1, 1))]

    # When backtested on inspections decided in 2025
    result = run_backtest(
        {"inspections": inspections.lazy()},
        models_config,
        versions,
        since=dt.date(2025, 1, 1),
        until=dt.date(2026, 1, 1),
        features=features,
    )

    # Then only the second is in sample, with every window inspection counted as seen in training
    first, second = result.versions
    assert not first["in_sample"] and first["in_sample_inspections"] == 0
    assert second["in_sample"] and second["in_sample_inspections"] == second["inspections"] > 0
    refusals = in_sample_refusal(result)
    assert len(refusals) == 1 and "version 2" in refusals[0] and "in sample" in refusals[0]


def _units(inspections: pl.DataFrame) -> pl.DataFrame:
    """The units table of ``_world``: every third unit in Stockholm (01), Skåne (12) and Norrbotten (25)."""
    units = inspections.select("unit_id").unique(maintain_order=True)
    return units.with_columns(
        pl.Series("region_code", [("01", "12", "25")[i % 3] for i in range(units.height)])
    )


def test_a_region_restricted_backtest_counts_only_that_regions_inspections(models_config: Config) -> None:
    # Given inspections decided in 2025 at units in three regions, and two versions (truth and noise)
    inspections, features = _world()
    units = _units(inspections)
    versions = [_version("1", "truth", dt.date(2024, 1, 1)), _version("2", "noise", dt.date(2024, 1, 1))]
    tables = {"inspections": inspections.lazy(), "units": units.lazy()}
    window = {"since": dt.date(2025, 1, 1), "until": dt.date(2026, 1, 1), "features": features}

    # When backtested on all regions and on Stockholm and Norrbotten only (given in any order, repeated)
    everywhere = run_backtest(tables, models_config, versions, **window)
    restricted = run_backtest(tables, models_config, versions, regions=["25", "01", "25"], **window)

    # Then the restricted n per area is the number of those regions' units' inspections decided in 2025
    chosen = units.filter(pl.col("region_code").is_in(["01", "25"])).get_column("unit_id")
    decided = inspections.filter(pl.col("decision_date") >= dt.date(2025, 1, 1))
    expected = decided.filter(
        pl.col("unit_id").is_in(chosen.implode()) & (pl.col("risk_area") == "kontinuitet")
    )
    counts = {(r["population"], r["risk_area"]): r["n"] for r in restricted.counts.iter_rows(named=True)}
    assert counts[("all", "kontinuitet")] == expected.height > 0
    assert counts[("all", "kontinuitet")] < everywhere.counts.filter(pl.col("population") == "all")["n"][0]
    assert set(restricted.scores.get_column("unit_id")) <= set(chosen)
    # And each inspection keeps the score it has in the unrestricted backtest
    same = restricted.scores.join(everywhere.scores, on=["inspection_id", "risk_area"], suffix="_all")
    assert same.height == restricted.scores.height
    assert (same["p_1"] == same["p_1_all"]).all() and (same["p_2"] == same["p_2_all"]).all()
    # And the output says which regions were used
    assert restricted.regions == ("01", "25")
    assert restricted.regions_text() == "01 Stockholm, 25 Norrbotten"
    assert restricted.to_dict()["regions"] == [
        {"region_code": "01", "name": "Stockholm"},
        {"region_code": "25", "name": "Norrbotten"},
    ]
    assert restricted.versions[0]["inspections"] == expected.height


def test_the_unrestricted_backtest_is_unchanged_by_the_region_option(models_config: Config) -> None:
    # Given the same world and versions
    inspections, features = _world()
    tables = {"inspections": inspections.lazy(), "units": _units(inspections).lazy()}
    versions = [_version("1", "truth", dt.date(2024, 1, 1)), _version("2", "noise", dt.date(2024, 1, 1))]
    window = {"since": dt.date(2025, 1, 1), "until": dt.date(2026, 1, 1), "features": features}

    # When backtested without regions and restricted to every region there is
    plain = run_backtest(tables, models_config, versions, **window)
    every = run_backtest(tables, models_config, versions, regions=list(REGIONS), **window)

    # Then the unrestricted output has the keys it always had and no regions
    assert plain.regions == () and plain.regions_text() == ""
    assert list(plain.to_dict()) == ["since", "until", "reference", "versions", "counts", "metrics",
                                     "differences"]  # fmt: skip
    # And restricting to every region changes no count, metric or difference
    assert plain.counts.equals(every.counts)
    assert plain.metrics.equals(every.metrics, null_equal=True)
    assert plain.differences.equals(every.differences, null_equal=True)


def test_an_unknown_region_code_is_refused_with_the_valid_codes(models_config: Config) -> None:
    # Given a region code that is no county code today (02)
    inspections, features = _world()
    tables = {"inspections": inspections.lazy(), "units": _units(inspections).lazy()}

    # When it is asked for, then it is refused with every valid code named
    with pytest.raises(ValueError, match="unknown region code") as refused:
        run_backtest(
            tables,
            models_config,
            [_version("1", "truth", dt.date(2024, 1, 1))],
            since=dt.date(2025, 1, 1),
            features=features,
            regions=["01", "02"],
        )
    message = str(refused.value)
    assert "02" in message and all(f"{code} ({name})" in message for code, name in REGIONS.items())
    assert checked_regions(["14", "01", "14"]) == ("01", "14")


def test_stored_scores_are_used_where_they_hold_the_unit_at_its_planning_date() -> None:
    # Given features for two units and a stored score for only the first one at its planning date
    as_of = dt.date(2025, 1, 1)
    features = pl.DataFrame(
        {"unit_id": ["A", "B"], "as_of": [as_of, as_of], "truth": [0.2, 0.3], "noise": [0.0, 0.0]}
    )
    window = pl.DataFrame(
        {
            "inspection_id": ["I1", "I2"],
            "risk_area": ["tillganglighet", "tillganglighet"],
            "unit_id": ["A", "B"],
            "start_date": [dt.date(2025, 3, 5), dt.date(2025, 3, 20)],
        }
    )
    stored = pl.DataFrame(
        {"unit_id": ["A"], "as_of": [as_of], "risk_area": ["tillganglighet"], "p_deficiency": [0.9]}
    )

    # When the version scores the window
    scored = version_scores(_version("7", "truth", dt.date(2024, 1, 1), stored), window, features)

    # Then unit A keeps its stored score as it was and unit B is scored now by the model
    by_id = {r["inspection_id"]: r for r in scored.iter_rows(named=True)}
    assert by_id["I1"]["p_7"] == 0.9 and by_id["I1"]["stored_7"]
    assert by_id["I2"]["p_7"] == 0.3 and not by_id["I2"]["stored_7"]


def _result(differences: list[dict[str, Any]], n: int = 200) -> BacktestResult:
    counts = pl.DataFrame(
        [{"population": "all", "risk_area": r["risk_area"], "n": n, "base_rate": 0.4} for r in differences]
    )
    frame = pl.DataFrame(
        [{"population": "all", "version": "run:b", "reference": "1", "metric": "precision_at_10pct",
          "family_lower": r["lower"], "family_upper": r["upper"], **r}
         for r in differences]
    )  # fmt: skip
    versions = [{"version": "1"}, {"version": "run:b"}]
    return BacktestResult(dt.date(2026, 1, 1), None, versions, counts, pl.DataFrame(), frame)


@pytest.mark.parametrize(
    ("differences", "replace", "worse"),
    [
        ([{"risk_area": "a", "value": 0.05, "lower": -0.02, "upper": 0.12},
          {"risk_area": "b", "value": -0.01, "lower": -0.08, "upper": 0.06}], True, None),
        ([{"risk_area": "a", "value": 0.20, "lower": 0.10, "upper": 0.30},
          {"risk_area": "b", "value": -0.10, "lower": -0.18, "upper": -0.02}], False, "b"),
        ([{"risk_area": "a", "value": -0.01, "lower": -0.05, "upper": 0.03},
          {"risk_area": "b", "value": 0.0, "lower": -0.05, "upper": 0.05}], False, None),
    ],
    ids=["better-somewhere-worse-nowhere", "worse-beyond-interval", "better-nowhere"],
)  # fmt: skip
def test_the_paired_gate_replaces_only_when_worse_nowhere_and_better_somewhere(
    models_config: Config, differences: list[dict[str, Any]], replace: bool, worse: str | None
) -> None:
    # When the paired gate judges the challenger on the differences by the "point" rule
    point = models_config.model.model_copy(update={"paired_gate_better": "point"})
    verdict = paired_verdict(_result(differences), "run:b", point)

    # Then it replaces the champion only when worse in no area and better in at least one
    assert verdict is not None
    assert verdict.replace is replace, verdict.reasons
    if worse is not None:
        assert verdict.per_area[worse] == "worse"
        assert any(reason.startswith(f"{worse}:") for reason in verdict.reasons)
    # And it names its evidence in Swedish and English, with the window and the n per area
    assert "parad jämförelse" in verdict.evidence_sv and "2026-01-01" in verdict.evidence_sv
    assert "paired comparison" in verdict.evidence_en and "a 200" in verdict.evidence_en
    assert "Utfall: a " in verdict.evidence_sv and "Outcome: a " in verdict.evidence_en


def test_the_paired_gate_stands_aside_below_the_minimum_n_and_follows_the_interval_rule(
    models_config: Config,
) -> None:
    differences = [{"risk_area": "a", "value": 0.05, "lower": -0.02, "upper": 0.12}]
    # Given too few inspections per area, there is no paired evidence
    assert paired_verdict(_result(differences, n=5), "run:b", models_config.model) is None
    # And with the "interval" rule (the default), a positive difference whose interval reaches zero is
    # not "better": the refusal names the rule and the difference with its interval
    assert models_config.model.paired_gate_better == "interval"
    verdict = paired_verdict(_result(differences), "run:b", models_config.model)
    assert verdict is not None and not verdict.replace
    assert verdict.reasons == [
        "better than the champion in no area on paired all precision_at_10pct (rule 'interval': the whole "
        "95 % interval of the difference above zero); challenger − champion: a +0.050 (-0.020 to +0.120)"
    ]


def test_better_in_one_of_five_areas_must_clear_the_bonferroni_interval(models_config: Config) -> None:
    # Given five areas where the challenger is level in four and, in "a", better on its own 95 % interval
    # but not on the 99 % one the family of five areas needs (1 - 0.05 / 5)
    level = [{"risk_area": area, "value": 0.0, "lower": -0.05, "upper": 0.05,
              "family_lower": -0.07, "family_upper": 0.07} for area in "bcde"]  # fmt: skip
    lucky = {
        "risk_area": "a",
        "value": 0.10,
        "lower": 0.02,
        "upper": 0.18,
        "family_lower": -0.01,
        "family_upper": 0.2,
    }
    settings = models_config.model.model_copy(update={"paired_gate_family": "bonferroni"})
    assert settings.paired_gate_better == "interval"
    # When the paired gate judges it with the Bonferroni family
    verdict = paired_verdict(_result([lucky, *level]), "run:b", settings)
    # Then "a" is no clear difference and the champion stays, and the refusal names the family interval
    assert verdict is not None and not verdict.replace
    assert verdict.per_area["a"] == "no clear difference"
    assert "99 % interval of the difference above zero: 95 % for the family of 5 areas" in verdict.reasons[0]
    assert "a +0.100 (95 %: +0.020 to +0.180; 99 %: -0.010 to +0.200)" in verdict.reasons[0]
    assert "99 % för bättre: Bonferroni över 5 områden" in verdict.evidence_sv
    # While without the correction the same evidence replaces the champion
    none = settings.model_copy(update={"paired_gate_family": "none"})
    uncorrected = paired_verdict(_result([lucky, *level]), "run:b", none)
    assert uncorrected is not None and uncorrected.replace and uncorrected.per_area["a"] == "better"
    # And a challenger whose 99 % interval clears zero replaces it with the correction too
    clear = {**lucky, "family_lower": 0.01}
    corrected = paired_verdict(_result([clear, *level]), "run:b", settings)
    assert corrected is not None and corrected.replace


def test_the_paired_gates_refusals_read_in_swedish_with_the_areas_names_and_figures(
    models_config: Config,
) -> None:
    # Given a challenger better nowhere and, in "b", worse than the champion beyond the interval, judged on
    # the Bonferroni family of two areas (97.5 % intervals for "better")
    differences = [
        {"risk_area": "a", "value": 0.01, "lower": -0.05, "upper": 0.07, "family_lower": -0.06,
         "family_upper": 0.08},
        {"risk_area": "b", "value": -0.10, "lower": -0.18, "upper": -0.02, "family_lower": -0.19,
         "family_upper": -0.01},
    ]  # fmt: skip
    settings = models_config.model.model_copy(update={"paired_gate_family": "bonferroni"})
    names = {"a": "Område A", "b": "Område B"}

    # When the paired gate judges it, naming the areas in Swedish
    verdict = paired_verdict(_result(differences), "run:b", settings, names)

    # Then both refusals read in Swedish, with the areas' names and the figures in decimal commas
    assert verdict is not None and not verdict.replace
    worse, nowhere = (refusal.sv for refusal in verdict.refusals)
    assert worse == (
        "Område B: sämre än championen i den parade jämförelsen (alla inspekterade enheter): skillnaden i "
        "precision bland de 10 % högst rankade är −0,100 och hela 95 %-intervallet (−0,180 till −0,020) "
        "ligger under noll"
    ), worse
    assert "hela 97,5 %-intervallet för skillnaden ligger över noll" in nowhere, nowhere
    assert "Område A +0,010 (95 %: −0,050 till +0,070, 97,5 %: −0,060 till +0,080)" in nowhere, nowhere
    english = ("paired", "difference", "interval ", "worse", "better", "rule", "challenger", "precision_at",
               "inspections", " to ", "no area")  # fmt: skip
    leaked = [text for text in english for sentence in (worse, nowhere) if text in sentence.lower()]
    assert not leaked, f"English gate text in the Swedish refusals: {leaked}"
    # And the analyst's English reasons are as they were
    assert [reason[:50] for reason in verdict.reasons] == [
        "b: paired all precision_at_10pct difference -0.100",
        "better than the champion in no area on paired all ",
    ], verdict.reasons


def test_paired_metrics_widen_the_family_interval_by_the_areas_compared(models_config: Config) -> None:
    # Given a challenger that ranks better than the champion in each of three areas of 200 inspections
    rng = np.random.default_rng(4)
    parts = []
    for area in ("a", "b", "c"):
        truth = rng.random(200)
        parts.append(
            pl.DataFrame(
                {
                    "risk_area": [area] * 200,
                    "is_random": [True] * 200,
                    "deficiency": (rng.random(200) < truth).astype(int),
                    "p_1": truth + rng.normal(0, 0.6, 200),
                    "p_2": truth + rng.normal(0, 0.2, 200),
                }
            )
        )
    frame = pl.concat(parts)
    # When the paired metrics are computed with the Bonferroni family and without it (the default)
    bonferroni = models_config.model.model_copy(update={"paired_gate_family": "bonferroni"})
    _, _, family = paired_metrics(frame, ["1", "2"], bonferroni)
    assert models_config.model.paired_gate_family == "none"
    _, _, plain = paired_metrics(frame, ["1", "2"], models_config.model)
    auc = pl.col("metric") == "roc_auc"
    family, plain = family.filter(auc), plain.filter(auc)
    # Then the family interval (98.3 % for three areas) contains the 95 % one and is wider in every area
    assert (family["family_lower"] <= family["lower"]).all()
    assert (family["family_upper"] >= family["upper"]).all()
    assert ((family["family_upper"] - family["family_lower"]) > (family["upper"] - family["lower"])).all()
    # And without the correction it is the 95 % interval itself, which does not depend on the setting
    assert plain["family_lower"].to_list() == plain["lower"].to_list() == family["lower"].to_list()
    assert plain["family_upper"].to_list() == plain["upper"].to_list()


def test_paired_metrics_bootstrap_every_version_on_the_same_resamples(models_config: Config) -> None:
    # Given two versions whose scores differ by a constant shift (identical ranking)
    rng = np.random.default_rng(1)
    p = rng.random(300)
    frame = pl.DataFrame(
        {
            "risk_area": ["a"] * 300,
            "is_random": [True] * 300,
            "deficiency": (rng.random(300) < p).astype(int),
            "p_1": p,
            "p_2": p * 0.5,
        }
    )
    _, metrics, differences = paired_metrics(frame, ["1", "2"], models_config.model)
    # Then every ranking metric's paired difference is exactly zero in every resample
    ranking = differences.filter(pl.col("metric").is_in(["precision_at_10pct", "roc_auc"]))
    assert (ranking["lower"] == 0).all() and (ranking["upper"] == 0).all()
    # While the unpaired intervals of each version are wide, and Brier tells them apart
    auc = metrics.filter((pl.col("metric") == "roc_auc") & (pl.col("population") == "all"))
    assert (auc["upper"] - auc["lower"] > 0.02).all()
    brier = differences.filter((pl.col("metric") == "brier") & (pl.col("population") == "all"))
    assert brier["value"].item() != 0.0
