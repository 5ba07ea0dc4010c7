"""Real components shared by integration tests: kmock's Kubernetes emulator over HTTP, and a
real Prometheus (the Debian package) scraping a small real service every second."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import kmock
import pytest
import yaml
from kubernetes import client

DATA = Path(__file__).resolve().parents[1] / "data" / "kubernetes"


@dataclass
class Cluster:
    emulator: kmock.KubernetesEmulator
    api: client.ApiClient
    url: str

    @property
    def apps(self) -> client.AppsV1Api:
        return client.AppsV1Api(self.api)

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    def get(self, path: str) -> Any:
        """An object as the API serves it (raw JSON, independent of the driver)."""
        return httpx.get(f"{self.url}{path}").json()

    def deployment(self) -> Any:
        return self.get("/apis/apps/v1/namespaces/shop/deployments/checkout")

    def container(self) -> Any:
        return self.deployment()["spec"]["template"]["spec"]["containers"][0]

    def env(self) -> dict[str, str]:
        return {e["name"]: e["value"] for e in self.container()["env"]}

    def requests(self, method: str) -> list[Any]:
        """The requests the emulator received with this HTTP method, in order."""
        return list(self.emulator[method.lower()])


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    ready = threading.Event()
    box: dict[str, Any] = {}

    def serve() -> None:
        async def main() -> None:
            async with kmock.KubernetesEmulator() as emulator, kmock.Server(emulator) as server:
                emulator.resources["apps/v1/replicasets"] = {}  # type: ignore[assignment]
                box.update(url=str(server.url), emulator=emulator)
                box["loop"], box["stop"] = asyncio.get_running_loop(), asyncio.Event()
                ready.set()
                await box["stop"].wait()

        asyncio.run(main())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(15), "the emulator did not start"
    config = client.Configuration()
    config.host = box["url"].rstrip("/")
    api = client.ApiClient(config)
    try:
        yield Cluster(box["emulator"], api, config.host)
    finally:
        api.close()  # type: ignore[no-untyped-call]
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(10)


def load_fixture(name: str) -> Any:
    return yaml.safe_load((DATA / name).read_text("utf-8"))


def seed_cluster(cluster: Cluster) -> None:
    """The Deployment as applied, and the ReplicaSets its controller would have made."""
    cluster.apps.create_namespaced_deployment("shop", load_fixture("deployment.yaml"))
    for replicaset in load_fixture("replicasets.yaml")["items"]:
        cluster.apps.create_namespaced_replica_set("shop", replicaset)
    cluster.core.create_node(load_fixture("node.yaml"))


class Service(BaseHTTPRequestHandler):
    """A service exposing its error ratio in the Prometheus text format."""

    error_ratio = 0.01

    def do_GET(self) -> None:
        if self.path != "/metrics":
            self.send_error(404)
            return
        body = (
            "# HELP demo_error_ratio Share of failed requests.\n"
            "# TYPE demo_error_ratio gauge\n"
            f'demo_error_ratio{{service="checkout"}} {Service.error_ratio}\n'
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Lab:
    url: str
    http: httpx.Client


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is not installed: run `make test`, which installs it")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Service)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    folder = tmp_path_factory.mktemp("prometheus")
    config = folder / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: checkout\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{server.server_port}']}}]\n",
        "utf-8",
    )
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    http = httpx.Client(timeout=5)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # ready, and the first scrape has landed
            try:
                found = http.get(f"{url}/api/v1/query", params={"query": "demo_error_ratio"})
                if found.status_code == 200 and found.json()["data"]["result"]:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("Prometheus did not scrape the service within 60 s")
        yield Lab(url, http)
    finally:
        http.close()
        process.terminate()
        process.wait(10)
        server.shutdown()
        server.server_close()


def wait_for_scrape(http: httpx.Client, url: str, value: float) -> None:
    """Wait until Prometheus has scraped the service's current value (1 s interval)."""
    query = 'max(demo_error_ratio{service="checkout"})'
    deadline = time.monotonic() + 15
    seen: object = None
    while time.monotonic() < deadline:
        found = http.get(f"{url}/api/v1/query", params={"query": query}).json()
        result = found["data"]["result"]
        seen = float(result[0]["value"][1]) if result else None
        if seen == value:
            return
        time.sleep(0.25)
    raise AssertionError(f"Prometheus still reports {seen}, not {value}")
