"""Notifications reach people: a Slack-format webhook, a signed generic webhook and email
(through Apprise to a real SMTP server), each against a local receiver on loopback."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from arf.core.clock import ManualClock
from arf.runtime.container import Runtime
from arf.runtime.demo import DemoDriver
from arf.runtime.notifications import MAX_ATTEMPTS, deliver_pending
from arf.sim.faults import datastore_disk_failure
from tests.conftest import START, make_runtime

SECRET = "hook-secret"


class Receiver:
    """A loopback HTTP server that records POSTs and answers with `status`."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.status = 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.requests.append((self.path, dict(self.headers), body))
                self.send_response(outer.status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        return "250 OK"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    with socket.socket() as probe:  # a free port (aiosmtpd checks readiness by connecting)
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield mailbox, port
    controller.stop()


def waiting_runtime(tmp_path: Path, notify: tuple[str, ...]) -> Runtime:
    """A runtime whose one incident waits for approval (an irreversible failover)."""
    runtime = make_runtime(
        tmp_path / "home",
        ManualClock(START),
        notify=notify,
        notify_webhook_secret=SECRET,
        public_url="https://arf.example.org",
    )
    driver = DemoDriver(runtime, lambda _line: None)
    datastore_disk_failure(runtime.platform, "orders-db")
    for _ in range(30):
        driver.tick()
    return runtime


def test_an_approval_request_reaches_slack_a_webhook_and_email(
    tmp_path: Path, receiver: Receiver, smtp: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp
    base = f"http://127.0.0.1:{receiver.port}"
    runtime = waiting_runtime(
        tmp_path,
        (
            f"slack+{base}/services/T0/B0/XYZ",
            f"webhook+{base}/arf",
            f"mailto://127.0.0.1:{port}?from=arf@example.org&to=oncall@example.org",
        ),
    )
    report = deliver_pending(runtime)
    assert report.failed == 0 and report.sent == 3  # one approval request, three channels
    slack = next(r for r in receiver.requests if r[0].startswith("/services/"))
    slack_body = json.loads(slack[2])
    assert "approve request" in slack_body["text"]
    assert "https://arf.example.org/api/v1/incidents/INC-" in slack_body["text"]
    assert "failover_database" in slack_body["blocks"][1]["text"]["text"]
    _path, headers, body = next(r for r in receiver.requests if r[0] == "/arf")
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-ARF-Signature"] == f"sha256={expected}"
    hook = json.loads(body)
    assert hook["kind"] == "approve_request"
    rules = {m["rule_id"] for m in hook["explanation"]["decision"]["matched_rules"]}
    assert "irreversible-needs-approval" in rules
    (raw,) = mailbox.messages
    email = message_from_bytes(raw)
    assert "INC-" in str(email["Subject"]) and email["To"] == "oncall@example.org"
    payloads = [part.get_payload(decode=True) for part in email.walk()]
    text = " ".join(p.decode("utf-8", "replace") for p in payloads if isinstance(p, bytes))
    assert "failover_database" in text and "https://arf.example.org/api/v1/incidents/" in text
    # delivered once: a second flush sends nothing again
    assert deliver_pending(runtime).sent == 0
    assert len(receiver.requests) == 2 and len(mailbox.messages) == 1
    with runtime.store.unit_of_work() as uow:
        kinds = [e.kind for e in uow.iter_ledger()]
    assert kinds.count("notification.delivered") == 3


def test_a_failing_channel_is_retried_then_given_up(tmp_path: Path, receiver: Receiver) -> None:
    runtime = waiting_runtime(tmp_path, (f"webhook+http://127.0.0.1:{receiver.port}/arf",))
    receiver.status = 503
    first = deliver_pending(runtime)
    assert (first.sent, first.failed) == (0, 1)
    receiver.status = 200
    second = deliver_pending(runtime)
    assert (second.sent, second.failed) == (1, 0)
    assert len(receiver.requests) == 2  # one failed attempt, one delivery, nothing more
    assert deliver_pending(runtime).sent == 0
    receiver.status = 500
    runtime_two = waiting_runtime(
        tmp_path / "two", (f"webhook+http://127.0.0.1:{receiver.port}/x",)
    )
    for _ in range(MAX_ATTEMPTS + 2):
        deliver_pending(runtime_two)
    attempts = [r for r in receiver.requests if r[0] == "/x"]
    assert len(attempts) == MAX_ATTEMPTS  # bounded retries, each in the ledger
    with runtime_two.store.unit_of_work() as uow:
        failed = [e for e in uow.iter_ledger() if e.kind == "notification.failed"]
    assert len(failed) == MAX_ATTEMPTS


def test_no_channels_means_nothing_is_sent(tmp_path: Path) -> None:
    runtime = waiting_runtime(tmp_path, ())
    assert deliver_pending(runtime).sent == 0
