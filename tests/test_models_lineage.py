"""A trained model's lineage names its feature set by the id the feature store gives the same inputs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from engine.config import load_config
from features.catalog import feature_catalog
from features.pipeline import build_features
from features.store import FeatureStore
from tests.history_factory import real_shaped_history

AS_OF = dt.date(2024, 1, 1)


def test_the_training_sets_feature_set_id_is_the_id_the_feature_store_gives(tmp_path: Path) -> None:
    from models.jobs import build_training_data

    # Given the hand-built history and the training set the training job builds from it
    config = load_config()
    tables = real_shaped_history(config)
    data = build_training_data(tables, config, as_of=AS_OF, snapshot_id="hand-built")
    # When the feature store stores the features of the same snapshot, dates and configuration
    stored = FeatureStore(tmp_path / "features").write(
        build_features(tables, data.as_of_dates, config).collect(),
        feature_catalog(config, has_visits="visits" in tables),
        snapshot_id="hand-built",
        as_of_dates=data.as_of_dates,
        config_hash=config.content_hash(),
    )
    # Then the training set names that stored set
    assert data.feature_set_id == stored.id, (
        f"the training job names its feature set {data.feature_set_id}, the feature store {stored.id}"
    )
    assert FeatureStore(tmp_path / "features").exists(data.feature_set_id)
