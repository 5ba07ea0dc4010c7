"""The notification outbox: what the lifecycle stored as notifications, delivered to every
configured channel after the state change committed, at least once, retried, recorded.

Notifications are written in the same transaction as the state change that caused them, so
none is lost to a crash; delivery happens afterwards, outside any transaction, and each
attempt is recorded per channel (and in the ledger). A message a channel accepted is never
sent to it again; a failing channel is retried on the next flush, up to `MAX_ATTEMPTS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from arf.core.errors import NotificationError
from arf.core.records import Notification
from arf.ledger import chain
from arf.oversight.explain import explain_json, explain_markdown
from arf.oversight.notify import Channel, OutboundMessage, channel_for
from arf.runtime.container import Runtime
from arf.runtime.history import incident_records

MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class FlushReport:
    sent: int
    failed: int


def channels_from(runtime: Runtime, client: httpx.Client) -> list[Channel]:
    settings = runtime.settings
    return [channel_for(spec, client, settings.notify_webhook_secret) for spec in settings.notify]


class Dispatcher:
    def __init__(self, runtime: Runtime, channels: Sequence[Channel]) -> None:
        self._rt = runtime
        self._channels = list(channels)

    def _message(self, notification: Notification) -> OutboundMessage:
        records = incident_records(self._rt.store, notification.incident_id)
        base = self._rt.settings.public_url.rstrip("/")
        return OutboundMessage(
            notification_id=notification.notification_id,
            incident_id=notification.incident_id,
            kind=notification.kind,
            audience=notification.audience,
            summary=notification.summary,
            link=f"{base}/api/v1/incidents/{notification.incident_id}",
            markdown=explain_markdown(records),
            data=explain_json(records),
        )

    def flush(self) -> FlushReport:
        sent = failed = 0
        messages: dict[str, OutboundMessage] = {}  # one explanation per notification per flush
        for channel in self._channels:
            with self._rt.store.unit_of_work() as uow:
                pending = list(uow.pending_notifications(channel.key, MAX_ATTEMPTS))
            for notification, _attempts in pending:
                message = messages.get(notification.notification_id)
                if message is None:
                    message = messages[notification.notification_id] = self._message(notification)
                try:
                    channel.send(message)
                    ok, detail = True, "delivered"
                except NotificationError as exc:
                    ok, detail = False, str(exc)
                now = self._rt.clock.now()
                with self._rt.store.unit_of_work() as uow:
                    attempts = uow.record_delivery(
                        notification.notification_id, channel.key, ok, detail, now
                    )
                    chain.append(
                        uow,
                        "notification.delivered" if ok else "notification.failed",
                        notification.incident_id,
                        {
                            "notification_id": notification.notification_id,
                            "channel": channel.key,
                            "attempt": attempts,
                            "detail": detail[:500],
                        },
                        now,
                    )
                sent, failed = sent + ok, failed + (not ok)
        return FlushReport(sent, failed)


def deliver_pending(runtime: Runtime) -> FlushReport:
    """Deliver whatever is pending on the configured channels (none configured: nothing)."""
    if not runtime.settings.notify:
        return FlushReport(0, 0)
    with httpx.Client(timeout=10.0) as client:
        return Dispatcher(runtime, channels_from(runtime, client)).flush()
