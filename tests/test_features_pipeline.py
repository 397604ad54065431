"""The whole feature table: point-in-time as a property, determinism, schema, catalog, config-only sources."""

from __future__ import annotations

import datetime as dt
import tomllib
from typing import Any

import pandera.errors
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from engine.config import Config, config_from_mapping, default_config_text, load_config
from features.asof import as_of_grid
from features.catalog import feature_catalog
from features.pipeline import build_features, feature_columns
from features.schema import feature_table_schema
from tests.test_features_world import event_row, small_world, tiny_world, unit_row


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config()


@pytest.fixture(scope="module")
def world(config: Config) -> dict[str, pl.DataFrame]:
    return {name: frame.collect() for name, frame in small_world(config, visits=True).items()}


def lazy(tables: dict[str, pl.DataFrame]) -> dict[str, pl.LazyFrame]:
    return {name: frame.lazy() for name, frame in tables.items()}


def month_index(date: dt.date) -> int:
    return date.year * 12 + date.month - 1


def first_of(index: int) -> dt.date:
    return dt.date(index // 12, index % 12 + 1, 1)


def with_late_records(
    tables: dict[str, pl.DataFrame], config: Config, as_of: dt.date, draw: Any
) -> dict[str, pl.DataFrame]:
    """Add and change records that became known only on or after ``as_of``."""
    changed = dict(tables)
    units = tables["units"]["unit_id"].to_list()
    unit = st.sampled_from(units)
    later = st.integers(0, 400).map(lambda days: as_of + dt.timedelta(days=days))
    for name, source in config.event_sources.items():
        frame = changed[source.file]
        late = pl.col("received_date") >= as_of
        frame = frame.with_columns(  # rewrite every late record: other unit, other category
            pl.when(late).then(pl.lit(draw(unit))).otherwise(pl.col("unit_id")).alias("unit_id"),
            pl.when(late)
            .then(pl.lit(draw(st.sampled_from(sorted(source.categories)))))
            .otherwise("category"),
        )
        received = draw(later)
        extra = event_row(
            draw(unit), received, draw(st.sampled_from(sorted(source.categories))), event_id=f"{name}-late"
        )
        extra["severity"] = draw(st.sampled_from(sorted(source.severities))) if source.severities else None
        extra.update({column: "text" for column in source.free_text_columns})
        changed[source.file] = pl.concat([frame, pl.DataFrame([extra], schema=frame.schema)])
    for indicator in config.indicator_sources.values():
        frame = changed[indicator.file]
        # a month is published lag months after it ends plus lag days (features.asof)
        published_by = as_of - dt.timedelta(days=indicator.publication_lag_days)
        known = month_index(published_by) - 1 - indicator.publication_lag_months
        unpublished = (pl.col("period").dt.year() * 12 + pl.col("period").dt.month() - 1) > known
        factor = draw(st.sampled_from([0, 2, 5]))
        frame = frame.with_columns(
            pl.when(unpublished)
            .then(pl.col("numerator") // (factor or 1))
            .otherwise("numerator")
            .alias("numerator")
        )
        if "value" in frame.columns:
            frame = frame.with_columns(
                pl.when(unpublished).then(pl.col("value") * factor).otherwise("value").alias("value")
            )
        month = first_of(known + draw(st.integers(1, 6)))
        extra_rows = [
            (draw(unit), month, key, None, None, float(draw(st.integers(0, 100))))
            if measure.kind == "value"
            else (draw(unit), month, key, draw(st.integers(0, 50)), 50, None)
            for key, measure in indicator.measures.items()
        ]
        extra_frame = pl.DataFrame(
            [row[: frame.width] for row in extra_rows], schema=frame.schema, orient="row"
        )
        changed[indicator.file] = pl.concat([frame, extra_frame]).unique(
            ["unit_id", "period", "measure"], keep="last"
        )
    for attribute_source in config.attribute_sources.values():
        frame = changed[attribute_source.file]
        # known iff valid_from + lag < as_of: everything else is rewritten, and new rows are added
        unknown = pl.col("valid_from") + pl.duration(days=attribute_source.publication_lag_days) >= pl.lit(
            as_of
        )
        frame = frame.with_columns(
            pl.when(unknown).then(pl.lit(draw(unit))).otherwise(pl.col("unit_id")).alias("unit_id"),
            pl.when(unknown).then(pl.lit("0.99")).otherwise(pl.col("value")).alias("value"),
        )
        first_unknown = as_of - dt.timedelta(days=attribute_source.publication_lag_days)
        extra_attribute_rows = [
            (draw(unit), first_unknown + dt.timedelta(days=draw(st.integers(0, 400))), key,
             None if attribute.type == "change" else "0.55")
            for key, attribute in attribute_source.attributes.items()
        ]  # fmt: skip
        changed[attribute_source.file] = pl.concat(
            [frame, pl.DataFrame(extra_attribute_rows, schema=frame.schema, orient="row")]
        ).unique(["unit_id", "attribute", "valid_from"], keep="last")
    inspections = changed["inspections"]
    decided = draw(later)
    late_inspection = {
        "inspection_id": "I-late",
        "unit_id": draw(unit),
        "start_date": decided - dt.timedelta(days=draw(st.integers(0, 200))),
        "decision_date": decided,
        "risk_area": draw(st.sampled_from(config.risk_area_ids)),
        "finding": draw(st.sampled_from(["none", "deficiency", "serious"])),
        "selection": draw(st.sampled_from(["risk_based", "follow_up"])),
        "inclusion_probability": None,
        "team": draw(st.sampled_from(sorted(config.inspections.teams))),
        "method": draw(st.sampled_from(sorted(config.inspections.methods))),
        "deficiency_count": draw(st.integers(0, 5)),
        "serious_count": draw(st.integers(0, 2)),
    }
    changed["inspections"] = pl.concat(
        [inspections, pl.DataFrame([late_inspection], schema=inspections.schema)]
    )
    visits = changed["visits"]
    late_visits = pl.DataFrame(
        [
            ("P-late", draw(unit), draw(st.sampled_from(["D0", "D1", "D9"])), "lakare", draw(later))
            for _ in range(3)
        ],
        schema=visits.schema,
        orient="row",
    )
    changed["visits"] = pl.concat([visits, late_visits])
    return changed


@pytest.mark.slow
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), as_of=st.dates(dt.date(2018, 6, 1), dt.date(2022, 3, 1)))
def test_records_known_only_after_as_of_never_change_features(
    config: Config, world: dict[str, pl.DataFrame], data: st.DataObject, as_of: dt.date
) -> None:
    # given features at as_of (and at an earlier date) on the small world
    dates = [as_of - dt.timedelta(days=97), as_of]
    before = build_features(lazy(world), dates, config).collect()
    # when records received, published, decided or visited on/after as_of are added or changed
    mutated = with_late_records(world, config, as_of, data.draw)
    after = build_features(lazy(mutated), dates, config).collect()
    # then no feature at either date changes
    assert_frame_equal(before, after)


def test_a_record_known_the_day_before_as_of_does_change_features(config: Config) -> None:
    # guards the property above against passing vacuously
    as_of = dt.date(2021, 6, 15)
    base = tiny_world(config, [unit_row("U1")])
    added = tiny_world(
        config,
        [unit_row("U1")],
        events={"complaints": [event_row("U1", as_of - dt.timedelta(days=1), "vantetid")]},
    )
    before = build_features(base, [as_of], config).collect()
    after = build_features(added, [as_of], config).collect()
    assert before["complaints_count_3m"].item() == 0.0
    assert after["complaints_count_3m"].item() == 1.0


def test_build_is_deterministic_and_independent_of_input_row_order(
    config: Config, world: dict[str, pl.DataFrame]
) -> None:
    dates = [dt.date(2019, 1, 1), dt.date(2020, 7, 1), dt.date(2021, 2, 17)]
    first = build_features(lazy(world), dates, config).collect()
    shuffled = {name: frame.sample(fraction=1.0, shuffle=True, seed=11) for name, frame in world.items()}
    second = build_features(lazy(shuffled), list(reversed(dates)), config).collect()
    assert_frame_equal(first, second)
    assert second.equals(second.sort("unit_id", "as_of")), "rows not in (unit_id, as_of) order"


def test_feature_table_matches_catalog_and_validates_against_its_schema(
    config: Config, world: dict[str, pl.DataFrame]
) -> None:
    frame = build_features(lazy(world), [dt.date(2019, 1, 1), dt.date(2021, 1, 1)], config).collect()
    catalog = feature_catalog(config, has_visits=True)
    assert frame.columns == feature_columns(config, has_visits=True)
    assert {spec.name for spec in catalog} <= set(frame.columns)
    feature_table_schema(config, has_visits=True).validate(frame)
    assert frame.select(pl.struct("unit_id", "as_of").is_unique().all()).item(), "one row per unit and date"


def test_pairs_give_the_rows_of_the_full_build_bit_for_bit(
    config: Config, world: dict[str, pl.DataFrame]
) -> None:
    # given a scoring date for every unit and (unit, as-of) pairs at other dates: a few units of a
    # date (their shrunk rates' priors and provider rollups depend on the units left out), a unit
    # at the scoring date, a duplicate and a unit that is no longer active at its date
    scoring, first, second = dt.date(2021, 3, 1), dt.date(2019, 5, 17), dt.date(2020, 2, 1)
    units = world["units"]
    closed = units.filter(pl.col("active_to").is_not_null()).get_column("unit_id")[0]
    open_units = units.filter(pl.col("active_to").is_null()).get_column("unit_id").to_list()
    pairs = pl.DataFrame(
        {
            "unit_id": [*open_units[:3], open_units[3], open_units[3], open_units[0], closed],
            "as_of": [first] * 3 + [second, second, scoring, dt.date(2022, 1, 1)],
        },
        schema={"unit_id": pl.String, "as_of": pl.Date},
    )
    # when the build is asked for the scoring date and the pairs
    built = build_features(lazy(world), [scoring], config, pairs=pairs).collect()
    # then its rows are the full build's at those dates, filtered to the pairs and the scoring date
    full = build_features(lazy(world), [scoring, first, second, dt.date(2022, 1, 1)], config).collect()
    wanted = full.join(pairs.unique(), on=["unit_id", "as_of"], how="semi").vstack(
        full.filter(pl.col("as_of") == scoring)
    )
    expected = wanted.unique(["unit_id", "as_of"]).sort("unit_id", "as_of")
    assert built.height == full.filter(pl.col("as_of") == scoring).height + 4, "pairs rows missing or extra"
    assert_frame_equal(built, expected)


def test_pairs_without_unit_id_and_as_of_are_refused(config: Config) -> None:
    pairs = pl.DataFrame({"unit_id": ["U1"], "as_of": ["2021-01-01"]})
    with pytest.raises(TypeError, match="pairs must have columns unit_id"):
        build_features(tiny_world(config, [unit_row("U1")]), [dt.date(2021, 1, 1)], config, pairs=pairs)


def test_schema_rejects_a_negative_count(config: Config, world: dict[str, pl.DataFrame]) -> None:
    frame = build_features(lazy(world), [dt.date(2020, 1, 1)], config).collect()
    broken = frame.with_columns(pl.lit(-1.0).alias("complaints_count_12m"))
    with pytest.raises(pandera.errors.SchemaError, match="complaints_count_12m"):
        feature_table_schema(config, has_visits=True).validate(broken)


def test_catalog_entries_are_unique_and_complete(config: Config) -> None:
    catalog = feature_catalog(config, has_visits=True)
    names = [spec.name for spec in catalog]
    assert len(names) == len(set(names)), "duplicate feature names"
    for spec in catalog:
        assert "{value}" in spec.template_sv, f"{spec.name}: template lacks {{value}}"
        assert spec.description_sv and spec.description_en, f"{spec.name}: missing description"
        assert spec.risk_area is None or spec.risk_area in config.risk_area_ids, spec.name
    sentence = next(s for s in catalog if s.name == "complaints_tillganglighet_count_12m").template_sv
    assert sentence.format(value=9) == "Klagomål om tillgänglighet senaste 12 mån: 9"


def test_a_configured_lex_sarah_source_yields_features_without_code_changes() -> None:
    # given lex Sarah added to the configuration only
    mapping = tomllib.loads(default_config_text())
    mapping["sources"]["lex_sarah"] = {
        "kind": "event",
        "file": "lex_sarah",
        "name_sv": "Lex Sarah-rapporter",
        "name_en": "Lex Sarah reports",
        "categories": {"missforhallande": "personcentrering", "risk_for_missforhallande": "samverkan"},
        "severities": {"risk": 1.0, "allvarligt": 4.0},
    }
    config = config_from_mapping(mapping)
    reports = [
        event_row("U1", dt.date(2020, 11, 1), "missforhallande", "allvarligt"),
        event_row("U1", dt.date(2020, 12, 1), "risk_for_missforhallande", "risk"),
    ]
    world = tiny_world(config, [unit_row("U1", 5_000)], events={"lex_sarah": reports})
    # when features are built
    row = build_features(world, [dt.date(2021, 1, 1)], config).collect().row(0, named=True)
    # then lex Sarah has its counts, areas, rate, severity and catalog entries
    assert row["lex_sarah_count_12m"] == 2.0
    assert row["lex_sarah_personcentrering_count_3m"] == 1.0
    assert row["lex_sarah_per_10k_12m"] == pytest.approx(4.0)
    assert row["lex_sarah_severity_weighted_12m"] == pytest.approx(5.0)
    catalog_names = {spec.name for spec in feature_catalog(config)}
    assert {"lex_sarah_count_12m", "provider_other_units_lex_sarah_shrunk_per_10k_12m"} <= catalog_names


def test_missing_source_table_is_named(config: Config) -> None:
    world = tiny_world(config, [unit_row("U1")])
    del world["lex_maria"]
    with pytest.raises(KeyError, match="lex_maria"):
        build_features(world, [dt.date(2021, 1, 1)], config)


def test_no_as_of_dates_is_an_error(config: Config) -> None:
    with pytest.raises(ValueError, match="at least one as_of date"):
        build_features(tiny_world(config, [unit_row("U1")]), [], config)


@pytest.mark.parametrize(
    ("start", "end", "every", "expected"),
    [
        (dt.date(2020, 1, 1), dt.date(2020, 12, 31), "quarter",
         [dt.date(2020, 1, 1), dt.date(2020, 4, 1), dt.date(2020, 7, 1), dt.date(2020, 10, 1)]),
        (dt.date(2020, 2, 15), dt.date(2020, 7, 1), "quarter", [dt.date(2020, 4, 1), dt.date(2020, 7, 1)]),
        (dt.date(2020, 11, 2), dt.date(2021, 1, 1), "month", [dt.date(2020, 12, 1), dt.date(2021, 1, 1)]),
        (dt.date(2019, 1, 1), dt.date(2021, 6, 1), "year",
         [dt.date(2019, 1, 1), dt.date(2020, 1, 1), dt.date(2021, 1, 1)]),
    ],
    ids=["quarters", "mid-quarter-start", "months", "years"],
)  # fmt: skip
def test_as_of_grid_lists_period_starts_within_range(
    start: dt.date, end: dt.date, every: str, expected: list[dt.date]
) -> None:
    assert as_of_grid(start, end, every) == expected  # type: ignore[arg-type]


def test_as_of_grid_rejects_unknown_step() -> None:
    with pytest.raises(ValueError, match="unknown grid step 'week'"):
        as_of_grid(dt.date(2020, 1, 1), dt.date(2021, 1, 1), "week")  # type: ignore[arg-type]
