"""`arf pull prometheus` against a local HTTP server answering in Prometheus' documented
/api/v1/alerts format (no Prometheus binary is needed for this test; the lab runs a real one)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from arf.core.clock import ManualClock
from arf.core.errors import InputError
from arf.runtime.pull import pull_prometheus
from tests.conftest import START, make_runtime


def alert(name: str, service: str, state: str = "firing") -> dict[str, object]:
    return {
        "labels": {"alertname": name, "service": service, "severity": "critical", "job": service},
        "annotations": {"summary": f"{name} on {service}"},
        "state": state,
        "activeAt": "2026-03-02T09:59:00.123456789Z",
        "value": "1e+00",
    }


class Prometheus(BaseHTTPRequestHandler):
    alerts: list[dict[str, object]] = []

    def do_GET(self) -> None:
        if self.path != "/api/v1/alerts":
            self.send_error(404)
            return
        body = json.dumps({"status": "success", "data": {"alerts": self.alerts}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        return


@pytest.fixture
def prometheus() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Prometheus)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_pull_stores_firing_alerts_and_resolves_the_ones_gone(
    tmp_path: Path, prometheus: str
) -> None:
    runtime = make_runtime(tmp_path, ManualClock(START))
    Prometheus.alerts = [
        alert("HighErrorRate", "checkout"),
        alert("ServiceDown", "cache"),
        alert("HighLatency", "auth", state="pending"),
    ]
    with httpx.Client() as client:
        first = pull_prometheus(runtime, prometheus, client)
        assert first.accepted == 2 and first.opened
        again = pull_prometheus(runtime, prometheus, client)
        assert again.accepted == 0 and again.duplicates == 2
        Prometheus.alerts = [alert("HighErrorRate", "checkout")]
        later = pull_prometheus(runtime, prometheus, client)
        assert later.resolved == 1
        with pytest.raises(InputError, match="cannot read"):
            pull_prometheus(runtime, prometheus + "/nothing-here", client)
    with runtime.store.unit_of_work() as uow:
        firing = [s.signal.title for s in uow.firing_signals_from("prometheus")]
    assert firing == ["HighErrorRate: HighErrorRate on checkout"]
    runtime.store.close()
