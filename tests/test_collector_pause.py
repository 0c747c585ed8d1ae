"""run.untracked_by_collector: a bucket is built without the cyclic collector, and what it made
is frozen (never scanned again); the collector's state is restored, whatever happens."""

import gc

import pytest

from leadscore.simulator.run import untracked_by_collector


@pytest.fixture(autouse=True)
def _collector_restored():
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    if enabled:
        gc.enable()
    else:
        gc.disable()


@pytest.mark.parametrize("enabled", [True, False])
def test_made_objects_are_frozen_and_the_collector_restored(enabled):
    gc.enable() if enabled else gc.disable()
    before = gc.get_freeze_count()
    with untracked_by_collector():
        assert not gc.isenabled()
        made = [{"n": i} for i in range(1000)]
    assert gc.isenabled() is enabled
    assert gc.get_freeze_count() >= before + len(made)
    # frozen: no generation the collector scans holds them
    scanned = {id(o) for o in gc.get_objects()}
    assert not any(id(d) in scanned for d in made)


def test_a_failure_restores_the_collector_and_freezes_nothing():
    gc.enable()
    before = gc.get_freeze_count()
    with pytest.raises(ValueError), untracked_by_collector():
        raise ValueError("bad bucket")
    assert gc.isenabled()
    assert gc.get_freeze_count() == before
