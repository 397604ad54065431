"""Calibration targets (published figures) and what a generated world achieves against them.

:func:`ivo_design_shares` re-runs the design of IVO's 2024–25 national supervision of primary care on a
world: 43 providers (the 21 regions and 22 private companies drawn at random), 63 vårdcentraler by
stratified random sampling (two public units per region — one region contributes one — and one unit per
private provider); a provider has a deficiency in an area if any of its inspected units has. It returns
the expected provider-level share per area (``1 - Π(1 - p)`` over the provider's sampled units, averaged
over replicate samples), to compare with the published table.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl

from synthetic.params import AREAS, DEFAULT_SCALE_UNITS
from synthetic.regions import named_doctor_target, region_profiles
from synthetic.world import World

# IVO 2024–25: providers with a deficiency out of 43 (area level; for tillgänglighet and kontinuitet the
# largest sub-requirement share, a lower bound of the area's share, since the report gives no union).
PROVIDER_DEFICIENCY_TARGETS: dict[str, float] = {
    "personcentrering": 6 / 43,
    "tillganglighet": 23 / 43,
    "samverkan": 34 / 43,
    "kontinuitet": 40 / 43,
    "systematiskt_kvalitetsarbete": 42 / 43,
}
ALL_FIVE_AREAS_TARGET = 6 / 43
PROVIDER_SHARE_TOLERANCE = 0.06
IVO_REGIONS, IVO_PRIVATE_PROVIDERS, IVO_UNITS = 21, 22, 63
ACTIVE_UNITS_AT_DEFAULT_SCALE = 1150
LISTED_TOTAL_AT_DEFAULT_SCALE = 10_500_000


def ivo_design_shares(
    world: World, reference_month: dt.date | None = None, replicates: int = 200, seed: int = 0
) -> pl.DataFrame:
    """Expected share of providers with a deficiency per area under IVO's 2024–25 design.

    Columns: risk_area, provider_share (mean over replicates), replicate_sd, target. One extra row
    ``all_five_areas`` gives the share of providers with a deficiency in every area.
    """
    units = (
        world.tables["units"]
        .join(world.tables["providers"], on="provider_id")
        .select("unit_id", "provider_id", "ownership")
    )
    month = reference_month or _default_reference_month(world)
    risk = world.truth["risk"].filter(pl.col("month") == month)
    wide = (
        risk.pivot("risk_area", index="unit_id", values="p_deficiency")
        .join(units, on="unit_id")
        .sort("unit_id")
    )
    if wide.height == 0:
        raise ValueError(f"no unit is active in the reference month {month}")
    probabilities = wide.select(AREAS).to_numpy()
    provider = wide["provider_id"].to_numpy()
    public = (wide["ownership"] == "public").to_numpy()
    region_ids = np.unique(provider[public])
    private_ids = np.unique(provider[~public])
    rng = np.random.default_rng(seed)
    shares = np.zeros((replicates, len(AREAS)))
    all_five = np.zeros(replicates)
    for k in range(replicates):
        chosen_private = rng.choice(
            private_ids, size=min(IVO_PRIVATE_PROVIDERS, len(private_ids)), replace=False
        )
        single = rng.choice(region_ids)
        provider_any = []
        for provider_id in [*region_ids, *chosen_private]:
            members = np.flatnonzero(provider == provider_id)
            n_units = 1 if (provider_id == single or provider_id in chosen_private) else 2
            sampled = rng.choice(members, size=min(n_units, len(members)), replace=False)
            provider_any.append(1.0 - np.prod(1.0 - probabilities[sampled], axis=0))
        any_by_area = np.array(provider_any)
        shares[k] = any_by_area.mean(axis=0)
        all_five[k] = np.prod(any_by_area, axis=1).mean()
    rows = [
        {
            "risk_area": area,
            "provider_share": float(shares[:, a].mean()),
            "replicate_sd": float(shares[:, a].std()),
            "target": PROVIDER_DEFICIENCY_TARGETS[area],
        }
        for a, area in enumerate(AREAS)
    ]
    rows.append(
        {
            "risk_area": "all_five_areas",
            "provider_share": float(all_five.mean()),
            "replicate_sd": float(all_five.std()),
            "target": ALL_FIVE_AREAS_TARGET,
        }
    )
    return pl.DataFrame(rows)


def _default_reference_month(world: World) -> dt.date:
    months = world.truth["risk"]["month"]
    wanted = dt.date(2024, 9, 1)
    return wanted if (months == wanted).any() else months.max()  # type: ignore[return-value]


def national_indicator_levels(world: World) -> pl.DataFrame:
    """Reported numerator / denominator per measure and year, nationally and per region."""
    frames = [
        world.tables[table].select("unit_id", "period", "measure", "numerator", "denominator")
        for table in ("availability", "continuity")
        if table in world.tables
    ]
    regions = world.tables["units"].select("unit_id", "region_code")
    return (
        pl.concat(frames)
        .join(regions, on="unit_id")
        .group_by("measure", "region_code", year=pl.col("period").dt.year())
        .agg(numerator=pl.col("numerator").sum(), denominator=pl.col("denominator").sum())
        .sort("measure", "region_code", "year")
    )


def calibration_report(world: World) -> pl.DataFrame:
    """Every calibration target next to the value the world achieves, with its tolerance."""
    scale = world.params.n_units / DEFAULT_SCALE_UNITS
    units = world.tables["units"]
    end = world.params.end_month
    active = units.filter(pl.col("active_to").is_null() | (pl.col("active_to") >= end))
    owners = world.tables["providers"].select("provider_id", "ownership")
    private_share = (
        active.join(owners, on="provider_id").select((pl.col("ownership") == "private").mean()).item()
    )
    rows: list[tuple[str, float, float, float]] = [
        (
            "active vårdcentraler at end",
            ACTIVE_UNITS_AT_DEFAULT_SCALE * scale,
            active.height,
            0.05 * ACTIVE_UNITS_AT_DEFAULT_SCALE * scale,
        ),
        ("private share of active units", 0.46, private_share, 0.02),
        (
            "listed patients at end",
            LISTED_TOTAL_AT_DEFAULT_SCALE * scale,
            float(active["listed_patients"].sum()),
            0.05 * LISTED_TOTAL_AT_DEFAULT_SCALE * scale,
        ),
    ]
    levels = national_indicator_levels(world)
    national = levels.group_by("measure", "year").agg(
        share=pl.col("numerator").sum() / pl.col("denominator").sum()
    )
    published = {
        ("phone_same_day_share", 2021): 0.85,
        ("phone_same_day_share", 2022): 0.86,
        ("phone_same_day_share", 2023): 0.87,
        ("phone_same_day_share", 2024): 0.88,
        ("assessment_3d_share", 2020): 0.81,
        ("assessment_3d_share", 2024): 0.88,
    }
    for (measure, year), target in published.items():
        value = national.filter(pl.col("measure") == measure, pl.col("year") == year)["share"]
        if value.len():
            rows.append((f"{measure} national {year}", target, float(value.item()), 0.015))
    stockholm = levels.filter(
        pl.col("measure") == "assessment_3d_share", pl.col("year") == 2024, pl.col("region_code") == "01"
    )
    if stockholm.height:
        rows.append(
            (
                "assessment_3d_share Stockholm 2024",
                0.96,
                float((stockholm["numerator"] / stockholm["denominator"]).item()),
                0.015,
            )
        )
    named = levels.filter(pl.col("measure") == "named_doctor_share", pl.col("year") == 2024)
    if named.height:
        by_region = dict(
            zip(named["region_code"], (named["numerator"] / named["denominator"]).to_list(), strict=True)
        )
        targets = {p.code: named_doctor_target(p) for p in region_profiles()}
        published_regions = [
            p.code for p in region_profiles() if p.named_doctor_share is not None and p.code in by_region
        ]
        mean = float(np.mean([by_region[c] for c in published_regions]))
        worst = max(abs(by_region[c] - targets[c]) for c in by_region)
        rows.append(("named_doctor_share 2024, mean of regions", 0.59, mean, 0.02))
        rows.append(("named_doctor_share 2024, worst region error", 0.0, worst, 0.03))
    inspections = world.tables["inspections"].filter(pl.col("selection") == "random")
    deficient = inspections.filter(pl.col("finding") != "none")
    for area, share in world.params.serious_share_of_deficiencies.items():
        in_area = deficient.filter(pl.col("risk_area") == area)
        if in_area.height:
            # personcentrering has ~85 deficient random inspections on the default world: a share
            # measured on so few is within 0.02 of its truth only by luck, so three binomial standard
            # errors are allowed where they are wider.
            noise = 3.0 * math.sqrt(share * (1.0 - share) / in_area.height)
            rows.append(
                (
                    f"serious share of deficiencies: {area} (assumption)",
                    share,
                    float(in_area.select((pl.col("finding") == "serious").mean()).item()),
                    max(0.02, noise),
                )
            )  # type: ignore[arg-type]
    for row in ivo_design_shares(world).iter_rows(named=True):
        if row["risk_area"] != "all_five_areas":
            rows.append(
                (
                    f"providers with deficiency: {row['risk_area']}",
                    row["target"],
                    row["provider_share"],
                    PROVIDER_SHARE_TOLERANCE,
                )
            )
    frame = pl.DataFrame(rows, schema=["metric", "target", "achieved", "tolerance"], orient="row")
    return frame.with_columns(within=(pl.col("achieved") - pl.col("target")).abs() <= pl.col("tolerance"))


def expected_auc(scores: np.ndarray, probabilities: np.ndarray) -> float:
    """ROC AUC of ``scores`` against an outcome drawn from ``probabilities``, in expectation.

    Each row counts as a positive with weight p and a negative with weight 1 - p; ties count half.
    """
    order = np.argsort(scores, kind="stable")
    ranked, positive = scores[order], probabilities[order]
    negative = 1.0 - positive
    _, first = np.unique(ranked, return_index=True)
    group_negative = np.add.reduceat(negative, first)
    group_positive = np.add.reduceat(positive, first)
    below = np.concatenate([[0.0], np.cumsum(group_negative)[:-1]])
    concordant = np.sum(group_positive * (below + 0.5 * group_negative))
    return float(concordant / (positive.sum() * negative.sum()))


def complaint_ranking_auc(world: World, categories: dict[str, str], months: int = 12) -> pl.DataFrame:
    """Per area: how well the complaint rate ranks units by their true deficiency probability.

    At the world's last month, each active unit's complaints about the area received in the previous
    ``months`` months per listed patient are scored against its true ``p_deficiency`` (expected AUC),
    next to the oracle's own expected AUC. ``categories`` maps complaint categories to risk areas.
    """
    last = world.truth["risk"]["month"].max()
    assert isinstance(last, dt.date)
    since = dt.date(last.year - months // 12, last.month, 1) if months % 12 == 0 else None
    if since is None:
        raise ValueError("months must be a multiple of 12")
    truth = world.truth["risk"].filter(pl.col("month") == last)
    complaints = (
        world.tables["complaints"]
        .filter(pl.col("received_date") >= since)
        .with_columns(risk_area=pl.col("category").replace_strict(categories, default=None))
        .group_by("unit_id", "risk_area")
        .len("complaints")
    )
    rows = (
        truth.join(complaints, on=["unit_id", "risk_area"], how="left")
        .join(world.tables["units"].select("unit_id", "listed_patients"), on="unit_id")
        .with_columns(rate=pl.col("complaints").fill_null(0) / pl.col("listed_patients"))
    )
    out = []
    for area in AREAS:
        part = rows.filter(pl.col("risk_area") == area)
        p = part["p_deficiency"].to_numpy()
        out.append(
            {
                "risk_area": area,
                "complaint_auc": expected_auc(part["rate"].to_numpy(), p),
                "oracle_auc": expected_auc(p, p),
            }
        )
    return pl.DataFrame(out)
