"""Ingestion is idempotent over any sequence of deliveries: fire, resolve, repeat, out of
order, the same delivery from both peers of an HA Alertmanager pair. Nothing raises, a repeat
changes nothing, and whether a fingerprint is still firing does not depend on the order."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import JsonValue

from arf.core.clock import ManualClock
from arf.core.records import SignalStatus
from arf.runtime.container import Runtime
from arf.runtime.ingest import Ingestor
from tests.conftest import START, make_runtime

FINGERPRINTS = ("a1", "b2")
STARTS = (START - timedelta(minutes=30), START - timedelta(minutes=20), START)

# One alert instance's delivery: (fingerprint index, start index, firing?)
Event = tuple[int, int, bool]
events = st.tuples(
    st.integers(0, len(FINGERPRINTS) - 1), st.integers(0, len(STARTS) - 1), st.booleans()
)
deliveries = st.lists(st.lists(events, min_size=1, max_size=3), min_size=1, max_size=8)


def _body(batch: list[Event]) -> JsonValue:
    alerts: list[JsonValue] = []
    for fp, start, firing in batch:
        starts = STARTS[start]
        alerts.append(
            {
                "status": "firing" if firing else "resolved",
                "labels": {
                    "alertname": f"HighErrorRate{fp}",
                    "service": "payments" if fp == 0 else "auth",
                    "severity": "critical",
                },
                "annotations": {"summary": "errors"},
                "startsAt": starts.isoformat().replace("+00:00", "Z"),
                "endsAt": (
                    "0001-01-01T00:00:00Z"
                    if firing
                    else (starts + timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
                ),
                "fingerprint": FINGERPRINTS[fp],
            }
        )
    firing_any = any(firing for _, _, firing in batch)
    return {"version": "4", "status": "firing" if firing_any else "resolved", "alerts": alerts}


def _ingest_all(runtime: Runtime, batches: list[list[Event]]) -> None:
    ingestor = Ingestor(runtime)
    for batch in batches:
        runtime.clock.sleep(7)
        ingestor.ingest("alertmanager", _body(batch))


def _firing(runtime: Runtime) -> set[str]:
    with runtime.store.unit_of_work() as uow:
        found = uow.find_firing_signals(["am:" + fp for fp in FINGERPRINTS])
    return {key for key, row in found.items() if row.signal.status is SignalStatus.FIRING}


def _expected_firing(batches: list[list[Event]]) -> set[str]:
    """A fingerprint fires when some instance of it was delivered firing and no resolution of
    that instance or of a later one was delivered."""
    seen = [event for batch in batches for event in batch]
    firing = set()
    for fp, start, is_firing in seen:
        if is_firing and not any(f == fp and s >= start and not still for f, s, still in seen):
            firing.add("am:" + FINGERPRINTS[fp])
    return firing


def _state(runtime: Runtime) -> tuple[set[str], int, int]:
    with runtime.store.unit_of_work() as uow:
        incidents = len(uow.list_incidents())
        signals = uow.count_signals()
    return _firing(runtime), incidents, signals


def _fresh(factory: Any) -> Runtime:
    home: Path = factory.mktemp("home")
    return make_runtime(home, ManualClock(START + timedelta(minutes=1)))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batches=deliveries, order=st.randoms(use_true_random=False))
def test_any_sequence_of_deliveries_is_ingested_idempotently(
    tmp_path_factory: Any, batches: list[list[Event]], order: Any
) -> None:
    runtime = _fresh(tmp_path_factory)
    try:
        _ingest_all(runtime, batches)  # never raises (a UNIQUE violation used to, here)
        first = _state(runtime)
        assert first[0] == _expected_firing(batches)

        # Every delivery again, as the other peer of an HA pair or a retrying sender would,
        # in any order: nothing changes.
        again = list(batches)
        order.shuffle(again)
        _ingest_all(runtime, again)
        assert _state(runtime) == first
    finally:
        runtime.store.close()

    # The same deliveries in another order: the same fingerprints are still firing.
    shuffled = list(batches)
    order.shuffle(shuffled)
    other = _fresh(tmp_path_factory)
    try:
        _ingest_all(other, shuffled)
        assert _firing(other) == _expected_firing(batches)
    finally:
        other.store.close()


def test_an_alert_delivered_again_after_its_resolution_is_a_repeat(runtime: Runtime) -> None:
    """The reported case: fire, resolve, then the firing delivery once more (a retry)."""
    fire, resolve = _body([(0, 2, True)]), _body([(0, 2, False)])
    ingestor = Ingestor(runtime)
    opened = ingestor.ingest("alertmanager", fire)
    assert opened.accepted == 1 and len(opened.opened) == 1
    assert ingestor.ingest("alertmanager", resolve).resolved == 1
    late = ingestor.ingest("alertmanager", fire)
    assert (late.accepted, late.duplicates, late.opened) == (0, 1, [])
    with runtime.store.unit_of_work() as uow:
        assert len(uow.list_incidents()) == 1
    assert _firing(runtime) == set()


def test_a_resolution_that_arrives_before_its_firing_is_remembered(runtime: Runtime) -> None:
    ingestor = Ingestor(runtime)
    early = ingestor.ingest("alertmanager", _body([(1, 1, False)]))
    assert early.unmatched_resolutions == 1
    late = ingestor.ingest("alertmanager", _body([(1, 1, True)]))
    assert (late.accepted, late.duplicates, late.opened) == (0, 1, [])
    newer = ingestor.ingest("alertmanager", _body([(1, 2, True)]))
    assert newer.accepted == 1 and len(newer.opened) == 1  # a later instance is a new one
