"""Driving the lifecycle by hand in integration tests: crafted Alertmanager deliveries, and
stepping incidents up to the point a test wants to act."""

from __future__ import annotations

from pydantic import JsonValue

from arf.core.records import IncidentState
from arf.runtime.container import Runtime
from arf.runtime.demo import DemoDriver


def firing_alert(runtime: Runtime, service: str, name: str) -> JsonValue:
    """An Alertmanager webhook delivery with one critical alert firing now."""
    now = runtime.clock.now().isoformat().replace("+00:00", "Z")
    return {
        "version": "4",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": name, "service": service, "severity": "critical"},
                "annotations": {"summary": f"{name} on {service}"},
                "startsAt": now,
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": f"{name}-{service}",
            }
        ],
    }


def drive_to_ready(runtime: Runtime, driver: DemoDriver, ticks: int = 40) -> str:
    """Tick the world, stepping each incident no further than `ready`; the first incident
    that gets there."""
    for _ in range(ticks):
        runtime.clock.sleep(15)
        runtime.platform.tick()
        driver.deliver()
        with runtime.store.unit_of_work() as uow:
            incidents = uow.list_incidents()
        for incident in incidents:
            while incident.state is not IncidentState.READY and driver.orchestrator.step(
                incident.incident_id
            ):
                with runtime.store.unit_of_work() as uow:
                    incident = uow.get_incident(incident.incident_id)
            if incident.state is IncidentState.READY:
                return incident.incident_id
    raise AssertionError("no incident became ready")
