"""Bindings: the steps an action sends per platform, HTTP steps any platform can send, and
the HTTP transport that resolves secrets only when it sends."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from pydantic import JsonValue

from arf.core.errors import ExecutionError
from arf.core.records import PlanStep
from arf.execution.action_packs import ActionCatalog, PackError, load_definition, load_pack
from arf.execution.executor import Executor
from arf.execution.transports import HttpTransport, SecretResolver, Transports
from arf.runtime.plugins import load_platforms

CORDON = """\
format: arf/action/v1
name: quiet_service
version: 1.0.0
description: Take a service out of its load balancer.
target_kind: service
risk_class: medium
disruption: whole
permissions: ["services:update"]
verification: service_health
params:
  reason:
    type: string
    enum: [incident, maintenance]
    default: incident
forward:
  - op: set_config
    args: {key: "'in_rotation'", value: "'false'"}
rollback:
  description: put it back in rotation
  operations:
    - op: set_config
      args: {key: "'in_rotation'", value: "'true'"}
bindings:
  kubernetes:
    forward:
      - op: cordon
        args: {reason: params.reason}
    rollback:
      - op: uncordon
  hosts:
    forward:
      - http:
          method: POST
          url: "https://lb.internal/api/pools/web/members/{member}/drain"
          path: {member: target}
          headers: {Authorization: "Bearer ${secret:lb}", X-Reason: incident}
          body: {reason: params.reason, by: "'arf'"}
    rollback:
      - http:
          method: DELETE
          url: "https://lb.internal/api/pools/web/members/{member}/drain"
          path: {member: target}
          headers: {Authorization: "Bearer ${secret:lb}"}
secrets:
  lb: {file: /run/secrets/lb-token}
effect:
  leaves_no_trace: true
"""
TOP_FORWARD = (
    """forward:\n  - op: set_config\n    args: {key: "'in_rotation'", value: "'false'"}\n"""
)
TOP_ROLLBACK = (
    """  operations:\n    - op: set_config\n      args: {key: "'in_rotation'", value: "'true'"}\n"""
)
STEP = PlanStep(action="quiet_service", target="web-1", params={})


def _error(text: str, tmp_path: Path) -> str:
    path = tmp_path / "action.yaml"
    path.write_text(text)
    with pytest.raises(PackError) as caught:
        load_pack(path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{path}:"), message
    return message


def test_each_platform_gets_its_binding_and_the_others_the_top_level_steps() -> None:
    action = load_definition(CORDON, "quiet.yaml")
    on_sim = action.bound_to("sim").forward(STEP, {})
    assert on_sim == [("set_config", {"key": "in_rotation", "value": "false"})]
    on_cluster = action.bound_to("kubernetes")
    assert on_cluster.forward(STEP, {}) == [("cordon", {"reason": "incident"})]
    assert on_cluster.backward(STEP, {}) == [("uncordon", {})]
    (sent,) = action.bound_to("hosts").forward(STEP, {})
    assert sent == (
        "http",
        {
            "method": "POST",
            "url": "https://lb.internal/api/pools/web/members/web-1/drain",
            "headers": {"Authorization": "Bearer ${secret:lb}", "X-Reason": "incident"},
            "body": {"reason": "incident", "by": "arf"},
            "timeout_s": 10.0,
            "secrets": {"lb": {"file": "/run/secrets/lb-token"}},
        },
    )


def test_an_action_is_offered_where_its_steps_for_that_platform_can_run() -> None:
    action = load_definition(CORDON, "quiet.yaml")
    assert action.runs_on("sim", frozenset({"set_config"}))
    assert not action.runs_on("sim", frozenset({"deploy"}))
    # the kubernetes binding needs cordon and uncordon, not set_config
    assert action.runs_on("kubernetes", frozenset({"cordon", "uncordon"}))
    assert not action.runs_on("kubernetes", frozenset({"cordon", "set_config"}))
    assert action.runs_on("hosts", frozenset())  # HTTP steps need no platform verb
    only_bound = load_definition(CORDON.replace(TOP_FORWARD, "").replace(TOP_ROLLBACK, ""), "q")
    assert not only_bound.runs_on("sim", frozenset({"set_config", "cordon", "uncordon"}))
    verbs = frozenset({"cordon", "uncordon"})
    assert "quiet_service" in ActionCatalog([only_bound]).for_platform("kubernetes", verbs)


def test_a_path_value_is_one_percent_encoded_segment() -> None:
    action = load_definition(CORDON, "quiet.yaml").bound_to("hosts")
    (sent,) = action.forward(PlanStep(action="quiet_service", target="a/../b", params={}), {})
    assert sent[1]["url"] == "https://lb.internal/api/pools/web/members/a%2F..%2Fb/drain"
    with pytest.raises(ExecutionError, match="not a path segment"):
        action.forward(PlanStep(action="quiet_service", target="..", params={}), {})


@pytest.mark.parametrize(
    ("old", "new", "fragment", "line"),
    [
        (
            'members/{member}/drain"\n          path',
            'members/{member}/drain?to={member}"\n          path',
            "bindings.hosts.forward.0.http.url: placeholders may fill path segments only",
            34,
        ),
        (
            'https://lb.internal/api/pools/web/members/{member}/drain"\n          path',
            'https://{member}.internal/api/pools/web/members/drain"\n          path',
            "bindings.hosts.forward.0.http.url: placeholders may fill path segments only",
            34,
        ),
        (
            'path: {member: target}\n          headers: {Authorization: "Bearer ${secret:lb}", X',
            "path: {member: target, pool: target}\n          headers: {Authorization:"
            ' "Bearer ${secret:lb}", X',
            "bindings.hosts.forward.0.http.path.pool: the url has no {pool} placeholder",
            35,
        ),
        (
            "X-Reason: incident}",
            "X-Reason: incident, Idempotency-Key: mine}",
            "bindings.hosts.forward.0.http.headers.Idempotency-Key: Idempotency-Key is set by ARF",
            36,
        ),
        (
            'Bearer ${secret:lb}", X-Reason',
            'Bearer ${secret:lbb}", X-Reason',
            "bindings.hosts.forward.0.http.headers.Authorization: ${secret:lbb} is not declared",
            36,
        ),
        (
            "    rollback:\n      - op: uncordon\n",
            "",
            "bindings.kubernetes: needs rollback steps",
            24,
        ),
        (
            'url: "https://lb.internal/api/pools/web/members/{member}/drain"\n          path',
            'url: "ftp://lb.internal/{member}"\n          path',
            "bindings.hosts.forward.0.http.url: 'ftp://lb.internal/{member}' is not an absolute",
            34,
        ),
        (
            "body: {reason: params.reason, by: \"'arf'\"}",
            "body: {reason: params.why}",
            "bindings.hosts.forward.0.http.body.reason: params.why is not declared in params",
            37,
        ),
        (
            "      - op: cordon\n        args: {reason: params.reason}",
            "      - op: cordon\n        args: {reason: params.reason}\n"
            '        http: {method: GET, url: "https://x.internal/"}',
            "bindings.kubernetes.forward.0: a step is either an operation (op) or an HTTP call",
            26,
        ),
    ],
)
def test_each_kind_of_bad_binding_is_one_line_naming_file_line_and_field(
    old: str, new: str, fragment: str, line: int, tmp_path: Path
) -> None:
    assert old in CORDON
    message = _error(CORDON.replace(old, new, 1), tmp_path)
    assert fragment in message, message
    assert re.match(rf"^{re.escape(str(tmp_path))}/action\.yaml:{line}: ", message), message


def test_a_binding_for_an_unregistered_platform_is_refused(tmp_path: Path) -> None:
    action = load_definition(CORDON.replace("  hosts:\n", "  hostz:\n"), str(tmp_path / "a.yaml"))
    with pytest.raises(PackError, match=r"a\.yaml:\d+: bindings\.hostz: no platform 'hostz'"):
        action.check_platforms(load_platforms())


# ------------------------------------------------------------------ the HTTP transport


class _Recorder:
    def __init__(self, status: int = 200) -> None:
        self.requests: list[httpx.Request] = []
        self.status = status

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, json={"echo": request.headers.get("Authorization")})


def _transport(recorder: _Recorder, environ: dict[str, str]) -> HttpTransport:
    client = httpx.Client(transport=httpx.MockTransport(recorder))
    return HttpTransport(SecretResolver(environ), client)


def _call(secret: dict[str, JsonValue]) -> dict[str, JsonValue]:
    return {
        "method": "PUT",
        "url": "https://flags.internal/api/flags/x",
        "headers": {"Authorization": "Bearer ${secret:token}"},
        "body": {"enabled": False},
        "timeout_s": 5.0,
        "secrets": {"token": secret},
    }


def test_the_transport_resolves_secrets_when_sending_and_keys_every_call(
    tmp_path: Path,
) -> None:
    recorder = _Recorder()
    http = _transport(recorder, {"FLAGS_TOKEN": "t-env"})
    assert http.send(_call({"env": "FLAGS_TOKEN"}), "inc-1/step-0/0") == {"status": 200}
    (request,) = recorder.requests
    assert request.headers["Authorization"] == "Bearer t-env"
    assert request.headers["Idempotency-Key"] == "inc-1/step-0/0"
    assert json.loads(request.content) == {"enabled": False}
    token_file = tmp_path / "token"
    token_file.write_text("t-file\n")
    http.send(_call({"file": str(token_file)}), "k2")
    assert recorder.requests[-1].headers["Authorization"] == "Bearer t-file"


@pytest.mark.parametrize(
    ("secret", "environ", "message"),
    [
        ({"env": "FLAGS_TOKEN"}, {}, "secret token: environment variable FLAGS_TOKEN is not set"),
        ({"file": "/nonexistent/token"}, {}, "secret token: cannot read /nonexistent/token"),
    ],
)
def test_a_secret_that_cannot_be_read_fails_before_anything_is_sent(
    secret: dict[str, JsonValue], environ: dict[str, str], message: str
) -> None:
    recorder = _Recorder()
    with pytest.raises(ExecutionError, match=message):
        _transport(recorder, environ).send(_call(secret), "k")
    assert recorder.requests == []


def test_a_refused_call_fails_the_step_without_echoing_the_secret() -> None:
    recorder = _Recorder(status=403)
    with pytest.raises(ExecutionError) as caught:
        _transport(recorder, {"FLAGS_TOKEN": "t-secret"}).send(_call({"env": "FLAGS_TOKEN"}), "k")
    assert str(caught.value) == "PUT https://flags.internal/api/flags/x: HTTP 403"


def test_the_executor_sends_http_steps_through_the_transport_not_the_platform() -> None:
    recorder = _Recorder()
    action = load_definition(CORDON, "quiet.yaml")
    catalog = ActionCatalog([action]).for_platform("hosts", None)

    class NoPlatform:
        def describe(self, target: str) -> dict[str, object]:
            return {"kind": "service"}

        def operations(self) -> frozenset[str]:
            return frozenset()

        def perform(self, *args: object) -> dict[str, object]:
            raise AssertionError("an HTTP step never reaches the platform")

    http = _transport(recorder, {})
    executor = Executor(catalog, NoPlatform(), Transports({"http": http}))  # type: ignore[arg-type]
    with pytest.raises(ExecutionError, match="secret lb: cannot read /run/secrets/lb-token"):
        executor.run_step(STEP, {"kind": "service"}, "key")
    assert recorder.requests == []  # nothing is sent without its secret
    with_env = CORDON.replace("{file: /run/secrets/lb-token}", "{env: LB_TOKEN}")
    bound = ActionCatalog([load_definition(with_env, "q.yaml")]).for_platform("hosts", None)
    sender = Transports({"http": _transport(recorder, {"LB_TOKEN": "lb-t"})})
    executor = Executor(bound, NoPlatform(), sender)  # type: ignore[arg-type]
    done = executor.run_step(STEP, {"kind": "service"}, "INC-9/s0/forward")
    executor.rollback_step(STEP, {"kind": "service"}, "INC-9/s0/rollback")
    sent, undone = recorder.requests
    assert (sent.method, sent.url.path) == ("POST", "/api/pools/web/members/web-1/drain")
    assert sent.headers["Authorization"] == "Bearer lb-t"
    assert sent.headers["Idempotency-Key"] == "INC-9/s0/forward/0"
    assert json.loads(sent.content) == {"reason": "incident", "by": "arf"}
    assert (undone.method, undone.headers["Idempotency-Key"]) == ("DELETE", "INC-9/s0/rollback/0")
    assert "lb-t" not in done and "${secret:lb}" in done  # what the ledger records


def test_a_secret_a_header_cannot_carry_fails_without_showing_it() -> None:
    recorder = _Recorder()
    with pytest.raises(ExecutionError) as caught:
        _transport(recorder, {"T": "pässwört"}).send(_call({"env": "T"}), "k")
    assert str(caught.value) == "secret token: not printable ASCII, so no header can carry it"
    with pytest.raises(ExecutionError, match="not printable ASCII"):
        _transport(recorder, {"T": "ok\r\nX-Evil: 1"}).send(_call({"env": "T"}), "k")
    assert recorder.requests == []


def test_an_action_may_not_read_arfs_own_settings_as_a_secret(tmp_path: Path) -> None:
    text = CORDON.replace("{file: /run/secrets/lb-token}", "{env: ARF_LLM_API_KEY}")
    message = _error(text, tmp_path)
    assert "secrets.lb.env: ARF's own settings (ARF_*) are not an action's secret" in message
