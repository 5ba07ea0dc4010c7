"""Pulling signals from systems that are asked rather than heard from (Prometheus)."""

from __future__ import annotations

import httpx

from arf.core.errors import InputError
from arf.runtime.container import Runtime
from arf.runtime.ingest import Ingestor, IngestReport
from arf.signals import prometheus
from arf.signals.alertmanager import ParseResult


def pull_prometheus(runtime: Runtime, base_url: str, client: httpx.Client) -> IngestReport:
    """Read Prometheus' active alerts, store the firing ones, resolve those now gone."""
    url = base_url.rstrip("/") + "/api/v1/alerts"
    try:
        response = client.get(url, timeout=10.0)
        response.raise_for_status()
        payload = response.json()
    except httpx.HTTPError as exc:
        raise InputError(f"cannot read {url}: {exc}") from exc
    except ValueError as exc:
        raise InputError(f"{url} did not answer JSON") from exc
    now = runtime.clock.now()
    parsed = prometheus.parse_alerts(payload, now)
    with runtime.store.unit_of_work() as uow:
        previous = [s.signal for s in uow.firing_signals_from(prometheus.SOURCE)]
    gone = prometheus.resolutions(previous, parsed.signals, now)
    return Ingestor(runtime).ingest_parsed(ParseResult(parsed.signals + gone, parsed.rejected))
