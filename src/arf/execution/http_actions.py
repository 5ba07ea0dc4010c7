"""HTTP platform actions from an allowlist: a CI re-run, a feature flag, a deploy hook.

Each action is declared in configuration (YAML), never built from model output:

    http_actions:
      set_flag:
        method: PUT
        url: "https://flags.example.org/api/flags/{flag}" # params fill path segments only
        body: {enabled: "{enabled}"}                      # JSON; "{name}" takes a param
        auth: {type: hmac, secret_env: FLAGS_API_SECRET}  # or bearer (token_env) or none
        params:
          flag: {type: string, pattern: "^[a-z0-9-]{1,64}$"}
          enabled: {type: boolean}
        capture: {method: GET, url: "https://flags.example.org/api/flags/{flag}"}
        rollback: {body: {enabled: "{pre.enabled}"}}      # same call, values from pre-state
      rerun_ci:
        method: POST
        url: "https://ci.example.org/api/runs/{run_id}/rerun"
        auth: {type: bearer, token_env: CI_API_TOKEN}
        params: {run_id: {type: integer, minimum: 1}}
        rollback: none                                    # declared: nothing to undo

Safety: the scheme, host and port are fixed by the declaration; a parameter is validated
against its type, bounds and pattern and percent-encoded into one path segment (it can never
add a segment, a query or another host); every call carries `Idempotency-Key`; HMAC signs
`<timestamp>.<body>` (`X-ARF-Timestamp`, `X-ARF-Signature: sha256=<hex>`); secrets come from
the environment of the executor only. Any non-2xx answer, timeout or transport error is an
ExecutionError.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from arf.core.errors import ConfigError, ExecutionError
from arf.core.yaml_files import yaml_section
from arf.execution.params import Param, check_values, load_params

_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)?)\}")
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Call:
    method: str
    url: str
    body: Any = None


@dataclass(frozen=True)
class HttpAction:
    name: str
    call: Call
    auth: Mapping[str, str]
    params: Mapping[str, Param]
    capture: Call | None
    rollback: Call | None  # None: declared "nothing to undo"

    @property
    def origin(self) -> str:
        parts = urlsplit(self.call.url)
        return f"{parts.scheme}://{parts.netloc}"


def _call(raw: object, where: str, default_method: str = "POST") -> Call:
    if not isinstance(raw, Mapping) or "url" not in raw:
        raise ConfigError(f"{where}: needs a url")
    method = str(raw.get("method", default_method)).upper()
    if method not in METHODS:
        raise ConfigError(f"{where}: method {method} is not allowed")
    url = str(raw["url"])
    parts = urlsplit(url.replace("{", "x").replace("}", "x"))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{where}: url must be absolute http(s)")
    if "{" in urlsplit(url).netloc or "{" in (urlsplit(url).query or ""):
        raise ConfigError(f"{where}: parameters may fill path segments only")
    return Call(method, url, raw.get("body"))


def load_actions(text: str, origin: str) -> dict[str, HttpAction]:
    declared = yaml_section(text, origin, "http_actions", dict)
    actions: dict[str, HttpAction] = {}
    for name, raw in declared.items():
        where = f"{origin}: {name}"
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{where}: must be a mapping")
        call = _call(raw, where)
        params = load_params(raw.get("params"), where)
        auth = raw.get("auth") or {"type": "none"}
        if auth.get("type") not in ("none", "bearer", "hmac"):
            raise ConfigError(f"{where}: auth type must be none, bearer or hmac")
        if "rollback" not in raw:
            raise ConfigError(f"{where}: declare a rollback (a call, or `none`)")
        rollback_raw = raw["rollback"]
        rollback = None
        if rollback_raw not in (None, "none"):
            merged = {"method": call.method, "url": call.url, **dict(rollback_raw)}
            rollback = _call(merged, f"{where}: rollback")
        capture_raw = raw.get("capture")
        capture = _call(capture_raw, f"{where}: capture", "GET") if capture_raw else None
        if rollback is not None and capture is None and "{pre." in json.dumps(rollback.body):
            raise ConfigError(f"{where}: a rollback that reads pre-state needs a capture call")
        for candidate in filter(None, (capture, rollback)):
            if urlsplit(candidate.url).netloc != urlsplit(call.url).netloc:
                raise ConfigError(f"{where}: capture and rollback must call the same host")
        actions[name] = HttpAction(name, call, dict(auth), params, capture, rollback)
    return actions


def _fill(template: Any, values: Mapping[str, str], pre: Mapping[str, Any]) -> Any:
    if isinstance(template, str):
        whole = _PLACEHOLDER.fullmatch(template)
        if whole:
            return _lookup(whole.group(1), values, pre, raw=True)
        return _PLACEHOLDER.sub(lambda m: str(_lookup(m.group(1), values, pre)), template)
    if isinstance(template, Mapping):
        return {k: _fill(v, values, pre) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, values, pre) for v in template]
    return template


def _lookup(name: str, values: Mapping[str, str], pre: Mapping[str, Any], raw: bool = False) -> Any:
    if name.startswith("pre."):
        key = name[4:]
        if key not in pre:
            raise ExecutionError(f"the captured pre-state has no {key!r}")
        return pre[key]
    if name not in values:
        raise ExecutionError(f"no value for {{{name}}}")
    text = values[name]
    if raw and text in ("true", "false"):
        return text == "true"
    return int(text) if raw and text.lstrip("-").isdigit() else text


def _url(template: str, values: Mapping[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: quote(values[m.group(1)], safe=""), template)


class HttpExecutor:
    def __init__(
        self,
        actions: Mapping[str, HttpAction],
        client: httpx.Client,
        environ: Mapping[str, str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._actions = dict(actions)
        self._client = client
        self._environ = environ
        self._clock = clock

    def _action(self, name: str) -> HttpAction:
        if name not in self._actions:
            raise ExecutionError(f"{name!r} is not an allowlisted HTTP action")
        return self._actions[name]

    def _values(self, action: HttpAction, params: Mapping[str, Any]) -> dict[str, str]:
        return check_values(action.name, action.params, params)

    def _send(
        self,
        action: HttpAction,
        call: Call,
        values: Mapping[str, str],
        pre: Mapping[str, Any],
        key: str,
    ) -> httpx.Response:
        url = _url(call.url, values)
        if urlsplit(url).netloc != urlsplit(action.call.url).netloc:
            raise ExecutionError("the call would leave the declared host")
        body = b"" if call.body is None else json.dumps(_fill(call.body, values, pre)).encode()
        headers = {"Idempotency-Key": key, "Content-Type": "application/json"}
        kind = action.auth.get("type", "none")
        if kind == "bearer":
            headers["Authorization"] = f"Bearer {self._secret(action, 'token_env')}"
        elif kind == "hmac":
            stamp = str(int(self._clock()))
            secret = self._secret(action, "secret_env").encode()
            digest = hmac.new(secret, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
            headers["X-ARF-Timestamp"] = stamp
            headers["X-ARF-Signature"] = f"sha256={digest}"
        try:
            response = self._client.request(call.method, url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise ExecutionError(f"{action.name}: {exc.__class__.__name__}: {exc}") from exc
        if not 200 <= response.status_code < 300:
            raise ExecutionError(
                f"{action.name}: HTTP {response.status_code}: {response.text[:200]}"
            )
        return response

    def _secret(self, action: HttpAction, field: str) -> str:
        variable = action.auth.get(field, "")
        value = self._environ.get(variable)
        if not value:
            raise ExecutionError(f"{action.name}: the secret {variable or field} is not set")
        return value

    def capture(self, name: str, params: Mapping[str, Any], key: str) -> dict[str, Any]:
        """The pre-state the rollback needs (empty when the action captures nothing)."""
        action = self._action(name)
        values = self._values(action, params)
        if action.capture is None:
            return {}
        response = self._send(action, action.capture, values, {}, f"{key}/capture")
        try:
            found = response.json()
        except ValueError as exc:
            raise ExecutionError(f"{name}: the captured state is not JSON") from exc
        if not isinstance(found, dict):
            raise ExecutionError(f"{name}: the captured state is not an object")
        return found

    def run(self, name: str, params: Mapping[str, Any], key: str) -> str:
        action = self._action(name)
        response = self._send(action, action.call, self._values(action, params), {}, key)
        return f"{name}: HTTP {response.status_code}"

    def rollback(
        self, name: str, params: Mapping[str, Any], pre: Mapping[str, Any], key: str
    ) -> str:
        action = self._action(name)
        if action.rollback is None:
            return f"{name}: nothing to undo (declared)"
        values = self._values(action, params)
        response = self._send(action, action.rollback, values, pre, f"{key}/rollback")
        return f"{name} rolled back: HTTP {response.status_code}"
