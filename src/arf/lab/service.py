"""A small real service for the lab: `python -m arf.lab.service --name N --port P --dir D`.

It serves `/metrics` (Prometheus text format: `http_requests_total{service,code}` and the
`http_request_duration_seconds` histogram) and `/healthz`, and plays its own traffic (about
50 requests a second). Every second it re-reads its release (`D/release`, written by the deploy
API) and its configuration (`D/config.yaml`, flat `key: value` lines managed by Ansible). How
it behaves follows from them, as a real service's would:

- a release listed as faulty in `D/releases.yaml` fails that share of its requests;
- `max_connections` below 5 exhausts the connection pool: half the requests fail, slowly.

It writes its pid to `D/pid` so a restart playbook can find it.
"""

from __future__ import annotations

import argparse
import os
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

REQUESTS_PER_TICK = 5
TICK_S = 0.1


class Behaviour:
    """What the service's files say, re-read every second."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self.error_rate = 0.0
        self.slow = False
        self.reload()

    def _read(self, name: str) -> object:
        try:
            return yaml.safe_load((self._folder / name).read_text("utf-8"))
        except (OSError, yaml.YAMLError):
            return None

    def reload(self) -> None:
        try:
            release = (self._folder / "release").read_text("utf-8").strip()
        except OSError:
            release = ""
        releases = self._read("releases.yaml")
        faults = releases if isinstance(releases, dict) else {}
        config = self._read("config.yaml")
        settings = config if isinstance(config, dict) else {}
        error_rate = float(faults.get(str(release), 0.0) or 0.0)
        try:
            pool = int(settings.get("max_connections", 50))
        except (TypeError, ValueError):
            pool = 0
        self.slow = pool < 5
        if self.slow:
            error_rate = max(error_rate, 0.5)
        self.error_rate = error_rate


def _traffic(
    name: str, behaviour: Behaviour, stop: threading.Event, registry: CollectorRegistry
) -> None:
    requests = Counter("http_requests", "Requests served", ["service", "code"], registry=registry)
    latency = Histogram(
        "http_request_duration_seconds",
        "Request latency",
        ["service"],
        buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
        registry=registry,
    )
    for code in ("200", "500"):
        requests.labels(name, code)  # both series exist from the start: rates are never absent
    draw = random.Random(os.getpid())
    last_reload = 0.0
    while not stop.wait(TICK_S):
        now = time.monotonic()
        if now - last_reload >= 1.0:
            behaviour.reload()
            last_reload = now
        for _ in range(REQUESTS_PER_TICK):
            failed = draw.random() < behaviour.error_rate
            requests.labels(name, "500" if failed else "200").inc()
            base = 0.6 if behaviour.slow else 0.02
            latency.labels(name).observe(base + draw.random() * base)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", type=Path, required=True)
    args = parser.parse_args()
    registry = CollectorRegistry()
    behaviour = Behaviour(args.dir)
    stop = threading.Event()
    threading.Thread(
        target=_traffic, args=(args.name, behaviour, stop, registry), daemon=True
    ).start()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                body, kind = generate_latest(registry), CONTENT_TYPE_LATEST
            elif self.path == "/healthz":
                body, kind = b"ok\n", "text/plain"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    (args.dir / "pid").write_text(str(os.getpid()), "utf-8")
    try:
        server.serve_forever()
    finally:
        stop.set()


if __name__ == "__main__":
    main()
