"""Alert storms: one failure makes one incident; two independent failures at once make two."""

from __future__ import annotations

from itertools import zip_longest
from pathlib import Path

from arf.runtime.ingest import Ingestor
from benchmarks.storm import ONE_FAILURE, SECOND_FAILURE, runtime_at, storm


def incidents_after(home: Path, *storms: tuple[str, ...], alerts: int) -> list[tuple[str, ...]]:
    runtime = runtime_at(home)
    ingestor = Ingestor(runtime)
    streams = [storm(services, alerts, 500) for services in storms]
    for batches in zip_longest(*streams):  # interleaved deliveries: the storms overlap
        for payload in batches:
            if payload is not None:
                ingestor.ingest("alertmanager", payload)
                runtime.clock.sleep(0.5)
    with runtime.store.unit_of_work() as uow:
        found = [tuple(sorted(i.services)) for i in uow.list_incidents()]
        stored = uow.count_signals()
    runtime.store.close()
    assert stored == alerts * len(storms)
    return found


def test_a_storm_of_ten_thousand_alerts_from_one_failure_is_one_incident(tmp_path: Path) -> None:
    assert incidents_after(tmp_path, ONE_FAILURE, alerts=10_000) == [tuple(sorted(ONE_FAILURE))]


def test_two_independent_failures_at_once_are_two_incidents(tmp_path: Path) -> None:
    found = incidents_after(tmp_path, ONE_FAILURE, SECOND_FAILURE, alerts=5_000)
    assert sorted(found) == sorted([tuple(sorted(ONE_FAILURE)), tuple(sorted(SECOND_FAILURE))])
