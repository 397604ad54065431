"""Visit-based continuity indices against hand computations from their published definitions.

Breslau & Reeb (1975): UPC = visits to the usual (most-seen) provider / all visits.
Bice & Boxerman (1977): COC = (Σ n_j² − n) / (n (n − 1)) over the providers j seen n_j times.
"""

from __future__ import annotations

import datetime as dt

import pytest

from engine.config import Config, load_config
from features.pipeline import build_features
from tests.test_features_world import tiny_world, unit_row

AS_OF = dt.date(2021, 1, 1)
DAY = dt.date(2020, 6, 1)


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config()


def visits_for(
    unit: str, patient: str, doctors: str, when: dt.date = DAY
) -> list[tuple[str, str, str, str, dt.date]]:
    """One doctor visit per letter of ``doctors`` (e.g. "AAB": twice A, once B)."""
    return [(patient, unit, doctor, "lakare", when) for doctor in doctors]


def continuity(
    config: Config, visits: list[tuple[str, str, str, str, dt.date]]
) -> dict[str, dict[str, object]]:
    world = tiny_world(config, [unit_row("U1"), unit_row("U2"), unit_row("U3")], visits=visits)
    return {str(row["unit_id"]): row for row in build_features(world, [AS_OF], config).collect().to_dicts()}


@pytest.mark.parametrize(
    ("doctors", "upc", "coc"),
    [
        ("AB", 1 / 2, 0.0),  # (1 + 1 − 2) / (2·1)
        ("AAB", 2 / 3, 1 / 3),  # (4 + 1 − 3) / (3·2)
        ("AABB", 1 / 2, 1 / 3),  # (4 + 4 − 4) / (4·3)
        ("AAAA", 1.0, 1.0),  # (16 − 4) / (4·3)
        ("AAABC", 3 / 5, 3 / 10),  # (9 + 1 + 1 − 5) / (5·4)
        ("ABCD", 1 / 4, 0.0),
    ],
    ids=["AB", "AAB", "AABB", "AAAA", "AAABC", "ABCD"],
)
def test_upc_and_coc_match_published_definitions(
    config: Config, doctors: str, upc: float, coc: float
) -> None:
    row = continuity(config, visits_for("U1", "p1", doctors))["U1"]
    assert row["visits_upc_12m"] == pytest.approx(upc), "UPC (Breslau & Reeb)"
    assert row["visits_coc_12m"] == pytest.approx(coc), "COC (Bice & Boxerman)"


def test_unit_indices_average_patients_with_two_or_more_doctor_visits(config: Config) -> None:
    visits = [
        *visits_for("U1", "p1", "AAB"),  # UPC 2/3, COC 1/3, majority yes
        *visits_for("U1", "p2", "AB"),  # UPC 1/2, COC 0, too few for the majority share
        *visits_for("U1", "p3", "ABC"),  # UPC 1/3, COC 0, majority no
        *visits_for("U1", "p4", "A"),  # one visit: excluded everywhere
        ("p2", "U1", "N", "sjukskoterska", DAY),  # nurse visits do not count
        *visits_for("U1", "p3", "AA", dt.date(2021, 1, 1)),  # on the planning date: unknown
        *visits_for("U1", "p3", "A", dt.date(2020, 1, 1)),  # first day of the window: counts
        *visits_for("U1", "p3", "B", dt.date(2019, 12, 31)),  # before the window
    ]
    row = continuity(config, visits)["U1"]
    # p3 in the window: A on 2020-01-01 plus A, B, C -> n = 4, UPC 2/4, COC (4+1+1−4)/(4·3) = 1/6
    assert row["visits_patients_12m"] == 3.0
    assert row["visits_upc_12m"] == pytest.approx((2 / 3 + 1 / 2 + 2 / 4) / 3)
    assert row["visits_coc_12m"] == pytest.approx((1 / 3 + 0.0 + 1 / 6) / 3)
    # majority among p1 (2/3 > 1/2: yes) and p3 (2/4: not more than half)
    assert row["visits_same_doctor_majority_share_12m"] == pytest.approx(0.5)


def test_unit_without_doctor_visits_has_null_continuity(config: Config) -> None:
    rows = continuity(config, [*visits_for("U1", "p1", "AB"), ("p9", "U2", "N", "sjukskoterska", DAY)])
    for unit in ("U2", "U3"):
        values = [rows[unit][c] for c in ("visits_upc_12m", "visits_coc_12m", "visits_patients_12m")]
        assert values == [None, None, None], f"{unit}: no doctor visits must give nulls, got {values}"


def test_visit_features_absent_without_visits_table(config: Config) -> None:
    world = tiny_world(config, [unit_row("U1")])
    columns = build_features(world, [AS_OF], config).collect_schema().names()
    assert not [c for c in columns if c.startswith("visits_")], "no visits table: no visit columns"
