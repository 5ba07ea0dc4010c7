"""Notification channels: where approval requests, acknowledgements and escalations reach
people, each with a link and the explanation.

A channel is named by a URL (setting `notify`, comma-separated in `ARF_NOTIFY`):
- `slack+https://hooks.slack.com/services/...`: a Slack incoming webhook (Slack's JSON: text
  plus mrkdwn blocks);
- `webhook+https://host/path`: a generic JSON webhook carrying the notification and the
  explanation as data, signed `X-ARF-Signature: sha256=<hex HMAC>` when a secret is set;
- anything else: an Apprise URL (`mailto://`, `mailtos://`, `msteams://`, `pagerduty://` and
  the rest of Apprise's catalogue).
A channel's key for the delivery records is its scheme and a hash of its URL, so no secret in
a URL is ever stored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Protocol

import httpx
from pydantic import JsonValue

from arf.core.errors import ConfigError, NotificationError

SLACK_SECTION_CHARS = 2_900  # Slack rejects a section text over 3,000 characters


@dataclass(frozen=True)
class OutboundMessage:
    notification_id: str
    incident_id: str
    kind: str  # approve_request | acknowledge_request | escalation | ...
    audience: str
    summary: str
    link: str
    markdown: str  # the explanation for people
    data: dict[str, JsonValue]  # the same explanation as data

    @property
    def title(self) -> str:
        return f"ARF {self.kind.replace('_', ' ')}: {self.incident_id}"


class Channel(Protocol):
    @property
    def key(self) -> str: ...

    def send(self, message: OutboundMessage) -> None:
        """Deliver or raise NotificationError."""
        ...


def channel_key(scheme: str, url: str) -> str:
    return f"{scheme}:{hashlib.sha256(url.encode('utf-8')).hexdigest()[:12]}"


def _post(client: httpx.Client, url: str, body: bytes, headers: dict[str, str]) -> None:
    try:
        response = client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise NotificationError(f"{exc.__class__.__name__}: {str(exc)[:200]}") from exc
    if response.status_code >= 300:
        raise NotificationError(f"HTTP {response.status_code}: {response.text[:200]}")


class WebhookChannel:
    def __init__(self, url: str, client: httpx.Client, secret: str | None = None) -> None:
        self._url, self._client, self._secret = url, client, secret

    @property
    def key(self) -> str:
        return channel_key("webhook", self._url)

    def send(self, message: OutboundMessage) -> None:
        body = json.dumps(
            {
                "notification_id": message.notification_id,
                "incident_id": message.incident_id,
                "kind": message.kind,
                "audience": message.audience,
                "summary": message.summary,
                "link": message.link,
                "explanation": message.data,
            },
            sort_keys=True,
        ).encode("utf-8")
        headers = {"Content-Type": "application/json", "X-ARF-Delivery": message.notification_id}
        if self._secret:
            digest = hmac.new(self._secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
            headers["X-ARF-Signature"] = f"sha256={digest}"
        _post(self._client, self._url, body, headers)


class SlackChannel:
    def __init__(self, url: str, client: httpx.Client) -> None:
        self._url, self._client = url, client

    @property
    def key(self) -> str:
        return channel_key("slack", self._url)

    def send(self, message: OutboundMessage) -> None:
        text = f"*{message.title}*\n{message.summary}\n<{message.link}|Open the incident>"
        body = {
            "text": text,
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": text}},
                {
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": message.markdown[:SLACK_SECTION_CHARS]},
                },
            ],
        }
        _post(
            self._client,
            self._url,
            json.dumps(body).encode("utf-8"),
            {"Content-Type": "application/json"},
        )


class AppriseChannel:
    def __init__(self, url: str) -> None:
        import apprise  # only when an Apprise channel is configured

        self._url = url
        self._apprise = apprise.Apprise()
        if not self._apprise.add(url):
            raise ConfigError("a notify URL is not understood by Apprise (check its scheme)")
        self._format = apprise.NotifyFormat.MARKDOWN

    @property
    def key(self) -> str:
        return channel_key(self._url.split(":", 1)[0], self._url)

    def send(self, message: OutboundMessage) -> None:
        body = f"{message.summary}\n\n{message.link}\n\n{message.markdown}"
        if not self._apprise.notify(title=message.title, body=body, body_format=self._format):
            raise NotificationError("Apprise could not deliver the notification")


def channel_for(spec: str, client: httpx.Client, webhook_secret: str | None = None) -> Channel:
    spec = spec.strip()
    if spec.startswith("slack+"):
        return SlackChannel(spec.removeprefix("slack+"), client)
    if spec.startswith("webhook+"):
        return WebhookChannel(spec.removeprefix("webhook+"), client, webhook_secret)
    if "://" not in spec:
        raise ConfigError("a notify URL needs a scheme (slack+https://, webhook+https://, ...)")
    return AppriseChannel(spec)
