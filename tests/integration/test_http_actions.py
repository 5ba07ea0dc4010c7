"""Allowlisted HTTP platform actions against a local server: a feature-flag service (HMAC,
captured pre-state, rollback) and a CI API (bearer, declared no rollback)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from arf.core.errors import ConfigError, ExecutionError
from arf.execution.http_actions import HttpExecutor, load_actions
from tests.integration.local_http import JsonHandler, LocalServer

FLAG_SECRET = "flag-secret"
CI_TOKEN = "ci-token"


class Platform:
    """Flags in memory behind HMAC; CI re-runs behind a bearer token; every request kept."""

    def __init__(self) -> None:
        self.flags: dict[str, bool] = {"checkout-v2": True}
        self.reruns: list[int] = []
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.fail_next = False
        outer = self

        class Handler(JsonHandler):
            def _handle(self) -> None:
                body = self.body()
                outer.requests.append((self.command, self.path, dict(self.headers), body))
                if outer.fail_next:
                    outer.fail_next = False
                    return self.reply(503, {"error": "busy"})
                if self.path.startswith("/api/flags/"):
                    stamp = self.headers.get("X-ARF-Timestamp", "")
                    want = hmac.new(
                        FLAG_SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256
                    ).hexdigest()
                    if self.headers.get("X-ARF-Signature") != f"sha256={want}":
                        return self.reply(401, {"error": "bad signature"})
                    name = self.path.rsplit("/", 1)[1]
                    if self.command == "GET":
                        return self.reply(200, {"enabled": outer.flags.get(name, False)})
                    outer.flags[name] = bool(json.loads(body)["enabled"])
                    return self.reply(200, {"enabled": outer.flags[name]})
                if self.path.startswith("/api/runs/"):
                    if self.headers.get("Authorization") != f"Bearer {CI_TOKEN}":
                        return self.reply(401, {"error": "no"})
                    outer.reruns.append(int(self.path.split("/")[3]))
                    return self.reply(202, {"queued": True})
                return self.reply(404, {"error": "unknown"})

            do_GET = do_PUT = do_POST = _handle

        self.local = LocalServer(Handler)
        self.base = self.local.base


@pytest.fixture
def platform() -> Iterator[Platform]:
    found = Platform()
    yield found
    found.local.close()


def config(base: str) -> str:
    return f"""
http_actions:
  set_flag:
    method: PUT
    url: "{base}/api/flags/{{flag}}"
    body: {{enabled: "{{enabled}}"}}
    auth: {{type: hmac, secret_env: FLAGS_API_SECRET}}
    params:
      flag: {{type: string, pattern: "^[a-z0-9-]{{1,64}}$"}}
      enabled: {{type: boolean}}
    capture: {{method: GET, url: "{base}/api/flags/{{flag}}"}}
    rollback: {{body: {{enabled: "{{pre.enabled}}"}}}}
  rerun_ci:
    method: POST
    url: "{base}/api/runs/{{run_id}}/rerun"
    auth: {{type: bearer, token_env: CI_API_TOKEN}}
    params: {{run_id: {{type: integer, minimum: 1}}}}
    rollback: none
"""


@pytest.fixture
def executor(platform: Platform) -> Iterator[HttpExecutor]:
    actions = load_actions(config(platform.base), "actions.yaml")
    environ = {"FLAGS_API_SECRET": FLAG_SECRET, "CI_API_TOKEN": CI_TOKEN}
    with httpx.Client(timeout=5) as client:
        yield HttpExecutor(actions, client, environ)


def test_a_flag_is_switched_and_rolled_back_from_its_captured_state(
    platform: Platform, executor: HttpExecutor
) -> None:
    params = {"flag": "checkout-v2", "enabled": False}
    pre = executor.capture("set_flag", params, "INC-1/abc/0/forward")
    assert pre == {"enabled": True}
    assert executor.run("set_flag", params, "INC-1/abc/0/forward") == "set_flag: HTTP 200"
    assert platform.flags["checkout-v2"] is False
    executor.rollback("set_flag", params, pre, "INC-1/abc/0/forward")
    assert platform.flags["checkout-v2"] is True
    keys = [headers["Idempotency-Key"] for _, _, headers, _ in platform.requests]
    assert keys == [
        "INC-1/abc/0/forward/capture",
        "INC-1/abc/0/forward",
        "INC-1/abc/0/forward/rollback",
    ]


def test_a_ci_rerun_uses_its_bearer_token_and_declares_no_rollback(
    platform: Platform, executor: HttpExecutor
) -> None:
    assert executor.run("rerun_ci", {"run_id": 42}, "k") == "rerun_ci: HTTP 202"
    assert platform.reruns == [42]
    assert "nothing to undo" in executor.rollback("rerun_ci", {"run_id": 42}, {}, "k")
    assert platform.reruns == [42]


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("set_flag", {"flag": "../../admin", "enabled": True}, "does not match"),
        ("set_flag", {"flag": "x?y=1", "enabled": True}, "does not match"),
        ("set_flag", {"flag": "ok", "enabled": "yes"}, "true or false"),
        ("set_flag", {"flag": "ok"}, "missing parameter"),
        ("set_flag", {"flag": "ok", "enabled": True, "host": "evil"}, "unknown parameter"),
        ("rerun_ci", {"run_id": 0}, "out of bounds"),
        ("rerun_ci", {"run_id": True}, "integer"),
        ("drop_database", {}, "not an allowlisted"),
    ],
)
def test_bad_parameters_never_reach_the_platform(
    platform: Platform, executor: HttpExecutor, name: str, params: dict[str, Any], message: str
) -> None:
    with pytest.raises(ExecutionError, match=message):
        executor.run(name, params, "k")
    assert platform.requests == []


def test_failures_are_execution_errors(platform: Platform) -> None:
    actions = load_actions(config(platform.base), "actions.yaml")
    with httpx.Client(timeout=5) as client:
        no_secret = HttpExecutor(actions, client, {})
        with pytest.raises(ExecutionError, match="CI_API_TOKEN is not set"):
            no_secret.run("rerun_ci", {"run_id": 1}, "k")
        wrong = HttpExecutor(actions, client, {"FLAGS_API_SECRET": "nope"})
        with pytest.raises(ExecutionError, match="HTTP 401"):
            wrong.run("set_flag", {"flag": "a", "enabled": True}, "k")
        good = HttpExecutor(actions, client, {"CI_API_TOKEN": CI_TOKEN})
        platform.fail_next = True
        with pytest.raises(ExecutionError, match="HTTP 503"):
            good.run("rerun_ci", {"run_id": 1}, "k")
    platform.local.close()
    with httpx.Client(timeout=1) as client:
        gone = HttpExecutor(actions, client, {"CI_API_TOKEN": CI_TOKEN})
        with pytest.raises(ExecutionError, match="ConnectError"):
            gone.run("rerun_ci", {"run_id": 1}, "k")


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        ("http_actions: {a: {url: 'ftp://x/y', rollback: none}}", "absolute http"),
        ("http_actions: {a: {url: 'https://{host}/y', rollback: none}}", "path segments only"),
        ("http_actions: {a: {url: 'https://x/y?q={q}', rollback: none}}", "path segments only"),
        ("http_actions: {a: {url: 'https://x/y'}}", "declare a rollback"),
        (
            "http_actions: {a: {url: 'https://x/{p}', params: {p: {type: string}},"
            " rollback: none}}",
            "needs a pattern",
        ),
        ("http_actions: {a: {url: 'https://x/y', method: TRACE, rollback: none}}", "not allowed"),
        (
            "http_actions: {a: {url: 'https://x/y', rollback: {url: 'https://other/y'}}}",
            "same host",
        ),
    ],
)
def test_unsafe_declarations_are_config_errors(snippet: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_actions(snippet, "actions.yaml")
