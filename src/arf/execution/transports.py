"""Transports: steps any platform can send, because they go to a service, not to the platform.

An action's HTTP step (`arf.core.action_pack.HttpRequest`) is rendered with its URL, headers
and body filled from CEL and checked against the parameter schema; the rendered step names
its secrets by reference only. `HttpTransport` resolves those references when it sends the
call (never before: a rendered step, a log line, a ledger entry or an error message holds no
secret value), adds the step's `Idempotency-Key`, follows no redirect, and fails the step on
any answer but 2xx, a timeout or a transport error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx
from pydantic import JsonValue

from arf.core.action_pack import HTTP, SECRET_REF
from arf.core.errors import ExecutionError


class Transport(Protocol):
    def send(self, args: Mapping[str, JsonValue], idempotency_key: str) -> dict[str, JsonValue]:
        """Send one rendered step; raise ExecutionError when it did not succeed."""
        ...


class SecretResolver:
    """Reads a secret where its reference says: an environment variable of the executor or a
    file. The value is returned to the transport and nowhere else."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def resolve(self, name: str, reference: JsonValue) -> str:
        value = self._read(name, reference)
        if not value.isascii() or not value.isprintable():
            raise ExecutionError(f"secret {name}: not printable ASCII, so no header can carry it")
        return value

    def _read(self, name: str, reference: JsonValue) -> str:
        if not isinstance(reference, dict):
            raise ExecutionError(f"secret {name}: no reference")
        variable, path = reference.get("env"), reference.get("file")
        if isinstance(variable, str):
            value = self._environ.get(variable)
            if not value:
                raise ExecutionError(f"secret {name}: environment variable {variable} is not set")
            return value
        if isinstance(path, str):
            try:
                value = Path(path).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ExecutionError(f"secret {name}: cannot read {path}: {exc.strerror}") from exc
            if not value:
                raise ExecutionError(f"secret {name}: {path} is empty")
            return value
        raise ExecutionError(f"secret {name}: the reference names no env or file")


class HttpTransport:
    def __init__(self, secrets: SecretResolver, client: httpx.Client | None = None) -> None:
        self._secrets = secrets
        self._client = client

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(follow_redirects=False)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def _headers(self, args: Mapping[str, JsonValue], key: str) -> dict[str, str]:
        references = args.get("secrets")
        references = references if isinstance(references, dict) else {}
        raw = args.get("headers")
        headers: dict[str, str] = {}
        for name, value in (raw if isinstance(raw, dict) else {}).items():
            headers[name] = SECRET_REF.sub(
                lambda m: self._secrets.resolve(m.group(1), references.get(m.group(1))), str(value)
            )
        headers["Idempotency-Key"] = key
        return headers

    def send(self, args: Mapping[str, JsonValue], idempotency_key: str) -> dict[str, JsonValue]:
        method, url = str(args.get("method")), str(args.get("url"))
        timeout = args.get("timeout_s")
        body = args.get("body")
        try:
            response = self._http().request(
                method,
                url,
                headers=self._headers(args, idempotency_key),
                json=body if body is not None else None,
                timeout=float(timeout) if isinstance(timeout, int | float) else 10.0,
            )
        except httpx.HTTPError as exc:
            raise ExecutionError(f"{method} {url}: {exc.__class__.__name__}") from None
        if not response.is_success:
            raise ExecutionError(f"{method} {url}: HTTP {response.status_code}")
        return {"status": response.status_code}


@dataclass
class Transports:
    """The transports the executor sends non-platform steps through, by the step's verb."""

    table: dict[str, Transport] = field(default_factory=dict)
    closers: list[Callable[[], None]] = field(default_factory=list)

    def get(self, verb: str) -> Transport | None:
        return self.table.get(verb)

    def close(self) -> None:
        for close in self.closers:
            close()


def default_transports(environ: Mapping[str, str]) -> Transports:
    http = HttpTransport(SecretResolver(environ))
    return Transports({HTTP: http}, [http.close])
