"""The session's trained home (tests/trained_home.py): what a test writes into its copy stays there."""

from __future__ import annotations

from engine.settings import Settings
from models.registry import tracking_for
from tests.trained_home import TrainedHome


def test_an_artifact_logged_to_a_run_of_a_copy_lands_in_the_copy(
    trained_copy: TrainedHome, trained_home_template: TrainedHome
) -> None:
    # Given a copy of the trained home, in the process that trained the original (same run ids)
    tracking = tracking_for(Settings())
    # When an artifact is logged to the copy's champion run, as ingest does with the prospective record
    tracking.client.log_dict(trained_copy.champion_run, {"probe": True}, "probe/written.json")
    # Then it is in the copy's artifacts, and the original the other tests copy is unchanged
    written = list(trained_copy.artifact_root.rglob("probe/written.json"))
    leaked = list(trained_home_template.artifact_root.rglob("probe/written.json"))
    assert leaked == [], f"a copy's run wrote into the original trained home: {leaked}"
    assert len(written) == 1, "the artifact is not in the copy's artifact store"
    assert tracking.read_json(trained_copy.champion_run, "probe/written.json") == {"probe": True}
