"""How ``make pytest`` shares the suite between its two worker processes (``-n 2 --dist loadfile``).

- A work unit is a whole test file, so that module and session fixtures (trained runs, the browser) are
  built once per worker, as with xdist's own ``loadfile``; the tests named in :data:`UNIT_OF_TEST` form
  units of their own instead: the tests on the trained home (tests/trained_home.py), so that one worker
  builds it, and each long test of a file that holds two. (xdist's ``loadgroup`` and its ``xdist_group``
  mark would do this, but with pytest 9.2 it no longer groups anything: xdist issue #1386.)
- The long units start first: those of :data:`UNIT_OF_TEST`, then the files that hold slow tests, then
  the rest. xdist orders units by their number of tests, which put the few long files (one or two
  end-to-end tests each) last, where one of them could keep a worker busy alone after the other finished.
- A worker is given its next unit when one test of its current unit is left (xdist: two), so that two
  long units are not queued on one worker while the other takes the short ones.
"""

from __future__ import annotations

from collections import Counter

import pytest
from xdist.scheduler import LoadScopeScheduling
from xdist.workermanage import WorkerController

TRAINED_HOME = "trained_home"
# Tests (by function name) that form a work unit with the others of the same name, whatever their file.
UNIT_OF_TEST = {
    # They read the session's trained home: one worker builds it, once.
    "test_train_evaluate_and_promote_on_a_generated_world": TRAINED_HOME,
    "test_backtest_prospective_record_and_promotion_evidence_on_a_generated_world": TRAINED_HOME,
    "test_an_artifact_logged_to_a_run_of_a_copy_lands_in_the_copy": TRAINED_HOME,
    "test_train_and_evaluate_show_the_minimum_detectable_difference_on_both_populations": TRAINED_HOME,
    # Each trains twice on a scenario world of its own (tests/test_models_scenarios_cli.py).
    "test_on_a_weak_world_a_challenger_that_is_not_better_is_refused_on_the_paired_interval": "weak",
    "test_on_a_shifted_world_compare_flags_the_complaint_features": "shifted",
}


def _name(nodeid: str) -> str:
    """The test function's name in ``nodeid`` (without parameters)."""
    return nodeid.rsplit("::", 1)[-1].split("[", 1)[0]


def _file(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def unit_of(nodeid: str) -> str:
    """The work unit of the test ``nodeid``: its name's entry in :data:`UNIT_OF_TEST`, else its file."""
    return UNIT_OF_TEST.get(_name(nodeid), _file(nodeid))


class FileOrUnitScheduling(LoadScopeScheduling):
    """xdist's scope scheduling with :func:`unit_of` as the scope, in the order of the collection."""

    def __init__(self, config: pytest.Config, log: object = None) -> None:
        super().__init__(config, log)  # type: ignore[arg-type]
        # The units in the order of the collection (long ones first, see long_units_first) rather than
        # xdist's largest number of tests first.
        config.option.loadscopereorder = False

    def _split_scope(self, nodeid: str) -> str:
        return unit_of(nodeid)

    def _reschedule(self, node: WorkerController) -> None:
        # A worker runs a test only once it knows the next one (or is told to stop), so one pending test
        # is "almost done"; xdist's own threshold of two hands a two-test unit a second unit at once.
        if node.shutting_down:
            return
        if not self.workqueue:
            node.shutdown()
            return
        if self._pending_of(self.assigned_work[node]) > 1:
            return
        self._assign_work_unit(node)


def misplaced(items: list[pytest.Item]) -> list[str]:
    """Why the collected ``items`` and :data:`UNIT_OF_TEST` disagree (empty when they agree).

    A test on the trained home outside its unit would build the home on a second worker; a name of the
    table held by two collected tests would join them by accident.
    """
    faults = [
        f"{item.nodeid} uses the trained home: name it in tests/scheduling.py's UNIT_OF_TEST"
        for item in items
        if "trained_copy" in getattr(item, "fixturenames", ()) and unit_of(item.nodeid) != TRAINED_HOME
    ]
    files = Counter(
        (_name(item.nodeid), _file(item.nodeid)) for item in items if _name(item.nodeid) in UNIT_OF_TEST
    )
    twice = Counter(name for name, _ in files)
    return faults + [f"{name} in UNIT_OF_TEST names tests in two files" for name, n in twice.items() if n > 1]


def _rank(item: pytest.Item, slow_files: set[str]) -> int:
    """0 for a test of :data:`UNIT_OF_TEST`, 1 for a test in a file with slow tests, 2 for the others."""
    if _name(item.nodeid) in UNIT_OF_TEST:
        return 0
    return 1 if _file(item.nodeid) in slow_files else 2


def long_units_first(items: list[pytest.Item]) -> list[pytest.Item]:
    """``items`` with the tests of :data:`UNIT_OF_TEST` first, then the files that hold slow tests."""
    slow_files = {_file(item.nodeid) for item in items if item.get_closest_marker("slow") is not None}
    return sorted(items, key=lambda item: _rank(item, slow_files))
