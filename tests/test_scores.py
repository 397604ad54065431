"""The scoring-snapshot contract and store: validate, write, publish atomically, open."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from engine.scores import (
    OVERALL,
    ScoreNotFoundError,
    ScoreStore,
    ScoreValidationError,
    ranked_scores,
    validated_scores,
)
from tests.scores_factory import make_scores, write_published


def test_ranked_scores_ranks_highest_probability_first_with_percentile_100() -> None:
    # given three units in one area
    frame = pl.LazyFrame(
        {"unit_id": ["b", "a", "c"], "risk_area": ["x"] * 3, "p_deficiency": [0.2, 0.9, 0.2]}
    )
    # when
    ranked = ranked_scores(frame).collect()
    # then ties break by unit id and the top unit sits at the 100th percentile
    assert ranked["unit_id"].to_list() == ["a", "b", "c"], "rank 1 must be the highest probability"
    assert ranked["rank"].to_list() == [1, 2, 3]
    assert ranked["percentile"].to_list() == pytest.approx([100.0, 200 / 3, 200 / 3])


def test_make_scores_factory_satisfies_the_contract() -> None:
    frame = make_scores(units=12)
    valid = validated_scores(frame)
    assert set(valid["risk_area"].unique()) >= {OVERALL, "tillganglighet"}
    assert valid.height == 12 * 6


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda f: f.with_columns(p_deficiency=pl.lit(1.5)), "p_deficiency"),
        (lambda f: f.with_columns(rank=pl.col("rank") * 2), "rank_is_a_permutation_within_area"),
        (lambda f: f.with_columns(rank=pl.col("rank").reverse().over("risk_area")), "rank_follows"),
        (lambda f: f.filter(pl.col("risk_area") != OVERALL), "overall_present"),
        (lambda f: f.with_columns(unit_id=pl.lit("not-an-hsa-id")), "unit_id"),
        (lambda f: f.drop("explanations"), "lacks columns"),
        (lambda f: f.with_columns(p_serious=pl.col("p_deficiency") + 0.01), "serious_not_above"),
    ],
    ids=["p-range", "rank-gaps", "rank-reversed", "no-overall", "bad-unit-id", "missing-col", "serious"],
)
def test_validated_scores_rejects_contract_violations(corrupt, message: str) -> None:  # type: ignore[no-untyped-def]
    frame = corrupt(make_scores(units=10))
    with pytest.raises(ScoreValidationError, match=message):
        validated_scores(frame)


def test_store_write_is_content_addressed_and_not_published(tmp_path: Path) -> None:
    store = ScoreStore(tmp_path)
    frame = make_scores(units=10)
    first = store.write(
        frame, model_name="m", model_version="1", feature_set_id="f", snapshot_id="s", config_hash="h"
    )
    second = store.write(
        frame.sample(fraction=1.0, shuffle=True, seed=3),
        model_name="m",
        model_version="1",
        feature_set_id="f",
        snapshot_id="s",
        config_hash="h",
    )
    assert first.score_id == second.score_id, "row order must not change the score id"
    assert first.score_id.startswith("20250601-")
    assert first.rows_per_area[OVERALL] == 10
    assert store.current_id() is None, "write must not publish"
    with pytest.raises(ScoreNotFoundError, match="no scoring snapshot has been published"):
        store.open()


def test_store_publish_then_open_returns_the_same_frame(tmp_path: Path) -> None:
    store = ScoreStore(tmp_path)
    frame = make_scores(units=10)
    score_id = write_published(store, frame)
    loaded = store.open()
    assert loaded.id == score_id == store.current_id() == store.current().id
    assert loaded.metadata.model_version == "1"
    expected = frame.select(loaded.frame.columns).sort("risk_area", "rank")
    assert loaded.frame.sort("risk_area", "rank").equals(expected), "the stored frame must round-trip"
    assert not list(tmp_path.glob(".*tmp")), "atomic writes must not leave temporary files"


def test_store_open_refuses_a_corrupt_file(tmp_path: Path) -> None:
    store = ScoreStore(tmp_path)
    score_id = write_published(store, make_scores(units=10))
    (tmp_path / f"{score_id}.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(ScoreValidationError, match="unreadable"):
        store.open()


def test_store_open_refuses_row_count_mismatch(tmp_path: Path) -> None:
    store = ScoreStore(tmp_path)
    score_id = write_published(store, make_scores(units=10))
    make_scores(units=9).write_parquet(tmp_path / f"{score_id}.parquet")
    with pytest.raises(ScoreValidationError, match="has 54 rows, its metadata says 60"):
        store.open(score_id)


def test_store_publish_refuses_unknown_id(tmp_path: Path) -> None:
    store = ScoreStore(tmp_path)
    with pytest.raises(ScoreNotFoundError, match="no scoring snapshot 'nope'"):
        store.publish("nope")
    with pytest.raises(ScoreNotFoundError, match="invalid score id"):
        store.open("../etc/passwd")


def test_store_list_orders_by_as_of(tmp_path: Path) -> None:
    store = ScoreStore(tmp_path)
    write_published(store, make_scores(units=5, as_of=dt.date(2025, 9, 1)))
    write_published(store, make_scores(units=5, as_of=dt.date(2025, 3, 1)))
    assert [meta.as_of for meta in store.list()] == [dt.date(2025, 3, 1), dt.date(2025, 9, 1)]


def _opposite_orders() -> pl.LazyFrame:
    """Two areas of three units whose P(deficiency) and P(serious) order them in opposite ways."""
    return pl.LazyFrame(
        {
            "unit_id": ["a", "b", "c"] * 2,
            "risk_area": ["x"] * 3 + ["y"] * 3,
            "p_deficiency": [0.9, 0.8, 0.7] * 2,
            "p_serious": [0.01, 0.05, 0.30] * 2,
        }
    )


@pytest.mark.parametrize(
    ("target", "expected"),
    [("serious", ["c", "b", "a"]), ("ordinal", ["c", "a", "b"]), ("deficiency", ["a", "b", "c"])],
    ids=["serious", "ordinal", "deficiency"],
)
def test_ranked_scores_ranks_each_area_by_its_target(target: str, expected: list[str]) -> None:
    # given two areas where P(deficiency) and P(serious) rank the units in opposite orders
    # when area x is ranked by its target and y is not named
    ranked = ranked_scores(_opposite_orders(), {"x": target}).collect()
    # then x follows its target's score and y stays ranked by P(deficiency)
    by_area = {
        area: group.sort("rank")["unit_id"].to_list() for (area,), group in ranked.group_by("risk_area")
    }
    assert by_area["x"] == expected, f"{target}: area x ranked {by_area['x']}"
    assert by_area["y"] == ["a", "b", "c"], (
        f"an area without a target must rank by P(deficiency): {by_area['y']}"
    )


def test_the_contract_accepts_an_area_ranked_by_serious_and_refuses_one_ranked_by_nothing() -> None:
    # given a valid scores frame whose P(serious) orders the units unlike P(deficiency)
    frame = make_scores(units=10).with_columns(
        p_serious=pl.col("p_deficiency") * (pl.col("listed_patients") % 7 + 1) / 10.0
    )
    # when the area is ranked by serious, then the frame satisfies the contract
    ranked = ranked_scores(frame.lazy(), {"samverkan": "serious"}).collect()
    validated_scores(ranked)
    # and when its ranks are reversed it follows no target, and is refused
    reversed_ranks = ranked.with_columns(
        rank=pl.when(pl.col("risk_area") == "samverkan")
        .then(pl.col("rank").max().over("risk_area") + 1 - pl.col("rank"))
        .otherwise(pl.col("rank"))
    )
    with pytest.raises(ScoreValidationError, match="rank_follows"):
        validated_scores(reversed_ranks)
