"""The simulated platform's feature-flag service, over real HTTP.

A contract fake of a flag management API (the write side that OpenFeature providers such as
flagd, Unleash or LaunchDarkly read from): the simulated services' flags
(`ServiceState.flags`) switched by HTTP, so an action whose HTTP step calls a flag service
is exercised end to end on the simulator. It is not flagd: flagd evaluates flags and has no
write API; teams change flags through their flag platform's management API, which this
stands in for.

    GET /api/v1/services/{service}/flags/{flag}   -> {"service", "flag", "enabled"}
    PUT /api/v1/services/{service}/flags/{flag}   body {"enabled": true|false}

With a token, every request needs `Authorization: Bearer <token>` (401 otherwise). A PUT
with an `Idempotency-Key` it has seen answers as the first did and changes nothing. A switch
is announced as a `feature_flag` change, as a flag platform's audit webhook would.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from arf.sim.platform import SimPlatform

_PATH = re.compile(r"^/api/v1/services/([A-Za-z0-9_.-]+)/flags/([A-Za-z0-9_.-]+)$")


@dataclass(frozen=True)
class Seen:
    """One request as the service saw it (for tests and demos)."""

    method: str
    path: str
    idempotency_key: str | None
    authorized: bool
    status: int


class FlagService:
    def __init__(self, platform: SimPlatform, token: str | None = None) -> None:
        self._platform = platform
        self._token = token
        self._answers: dict[str, tuple[int, dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.seen: list[Seen] = []

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve in a daemon thread; returns the base URL."""
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                service._handle(self, "GET")

            def do_PUT(self) -> None:
                service._handle(self, "PUT")

            def log_message(self, *_args: object) -> None:
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        bound_host, bound_port = self._server.server_address[:2]
        return f"http://{bound_host!s}:{bound_port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        key = request.headers.get("Idempotency-Key")
        authorized = self._token is None or (
            request.headers.get("Authorization") == f"Bearer {self._token}"
        )
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        with self._lock:
            status, body = self._answer(method, request.path, raw, key, authorized)
            self.seen.append(Seen(method, request.path, key, authorized, status))
        payload = json.dumps(body).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)

    def _answer(
        self, method: str, path: str, raw: bytes, key: str | None, authorized: bool
    ) -> tuple[int, dict[str, Any]]:
        if not authorized:
            return 401, {"error": "unauthorized"}
        match = _PATH.match(path)
        if match is None:
            return 404, {"error": "no such path"}
        service, flag = match.groups()
        state = self._platform.state.services.get(service)
        if state is None:
            return 404, {"error": f"no service {service}"}
        if method == "GET":
            return 200, {"service": service, "flag": flag, "enabled": state.flags.get(flag, False)}
        if key is not None and key in self._answers:
            return self._answers[key]
        try:
            enabled = json.loads(raw or b"null")["enabled"]
        except (ValueError, TypeError, KeyError):
            enabled = None
        if not isinstance(enabled, bool):
            return 400, {"error": 'the body must be {"enabled": true|false}'}
        self._platform.set_flag(service, flag, enabled, "flag-api")
        answer = (200, {"service": service, "flag": flag, "enabled": enabled})
        if key is not None:
            self._answers[key] = answer
        return answer
