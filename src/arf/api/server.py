"""The HTTP service (FastAPI): webhook receivers, incidents and approvals.

- POST /api/v1/alerts/alertmanager: the Alertmanager webhook (optionally bearer-protected by
  ARF_WEBHOOK_TOKEN); POST /api/v1/events: CloudEvents; POST /api/v1/findings/checkov.
- GET /api/v1/incidents, GET /api/v1/incidents/{id}: need a configured identity's token.
- POST /api/v1/incidents/{id}/approve | /reject: need a token whose identity has the role.
Errors are RFC 9457 problem+json. A background worker advances incidents every second.
(No `from __future__ import annotations` here: FastAPI resolves dependency annotations at
run time, and they name functions local to `create_app`.)
"""

import base64
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from typing import Annotated, Any

import uvicorn
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from arf.core.clock import SystemClock
from arf.core.errors import ArfError, AuthError, ConfigError, InputError, NotFoundError
from arf.core.records import Verdict
from arf.oversight.identities import Identity
from arf.runtime import governance_ops, operations
from arf.runtime.container import Runtime, build_runtime
from arf.runtime.ingest import Ingestor
from arf.runtime.orchestrator import Orchestrator
from arf.runtime.settings import Settings

MAX_BODY_BYTES = 5 * 1024 * 1024


def problem(status: int, title: str, detail: str) -> JSONResponse:
    return JSONResponse(
        status_code=status,
        content={"type": "about:blank", "title": title, "status": status, "detail": detail},
        media_type="application/problem+json",
    )


class Answer(BaseModel):
    reason: str = ""
    plan_hash: str | None = None


class RequestBody(BaseModel):
    """A person asking ARF to remediate a service."""

    service: str
    reason: str = ""


class ControlBody(BaseModel):
    """A kill-switch or shadow-mode change; `reason` is required (it goes to the ledger)."""

    stop: bool | None = None
    service: str | None = None
    shadow: bool | None = None
    reason: str = ""


@dataclass(frozen=True)
class WebhookSecrets:
    """Shared secrets for webhook senders; a source without one is refused (503)."""

    bearer: str | None = None  # Alertmanager, CloudEvents, scanners: `Authorization: Bearer`
    basic: str | None = None  # or HTTP basic auth, as `user:password`
    github: str | None = None  # GitHub: HMAC-SHA256 of the body in X-Hub-Signature-256
    gitlab: str | None = None  # GitLab: X-Gitlab-Token

    @classmethod
    def from_settings(cls, settings: Settings) -> "WebhookSecrets":
        return cls(
            bearer=settings.webhook_token or None,
            basic=settings.webhook_basic_auth or None,
            github=settings.github_webhook_secret or None,
            gitlab=settings.gitlab_webhook_token or None,
        )


def _basic(credentials: str | None) -> str | None:
    return base64.b64encode(credentials.encode()).decode() if credentials else None


class WriterLock:
    """One writer at a time within this process. The worker lets go of it while it only
    waits (verification's delay and sampling interval), so webhooks are never held up by a
    remediation being verified: Alertmanager gives up on a receiver that does not answer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: int | None = None

    def __enter__(self) -> "WriterLock":
        self._lock.acquire()
        self._owner = threading.get_ident()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._owner = None
        self._lock.release()

    def wait(self, seconds: float) -> None:
        if self._owner != threading.get_ident():
            time.sleep(seconds)
            return
        self._owner = None
        self._lock.release()
        try:
            time.sleep(seconds)
        finally:
            self._lock.acquire()
            self._owner = threading.get_ident()


class WaitingClock(SystemClock):
    """The wall clock whose waits release the writer lock (the worker's runtime clock)."""

    def __init__(self, lock: WriterLock) -> None:
        self._writer = lock

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._writer.wait(seconds)


def create_app(
    runtime: Runtime,
    webhook_token: str | None = None,
    secrets: WebhookSecrets | None = None,
    lock: WriterLock | None = None,
) -> FastAPI:
    secrets = secrets or WebhookSecrets(bearer=webhook_token)
    app = FastAPI(title="ARF", version="0.1.0")
    ingestor = Ingestor(runtime)
    lock = lock or WriterLock()  # one writer at a time within this process

    @app.exception_handler(HTTPException)
    async def _http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        response = problem(
            exc.status_code, "unauthorized" if exc.status_code == 401 else "error", str(exc.detail)
        )
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(ArfError)
    async def _arf_error(_request: Request, exc: ArfError) -> JSONResponse:
        if isinstance(exc, AuthError):
            return problem(403, "forbidden", str(exc))
        if isinstance(exc, NotFoundError):
            return problem(404, "not found", str(exc))
        if isinstance(exc, InputError):
            return problem(400, "bad request", str(exc))
        if isinstance(exc, ConfigError):
            return problem(500, "server misconfigured", str(exc))
        return problem(409, "conflict", str(exc))

    async def _json_body(request: Request) -> Any:
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            raise InputError(f"payload of {len(body)} bytes is over the {MAX_BODY_BYTES} limit")
        try:
            return json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"malformed JSON: {exc}") from exc

    def _bearer(authorization: str | None) -> str | None:
        if authorization and authorization.lower().startswith("bearer "):
            return authorization[7:].strip()
        return None

    def webhook_auth(authorization: Annotated[str | None, Header()] = None) -> None:
        """Bearer token or HTTP basic auth, whichever is configured (Alertmanager offers both)."""
        if secrets.bearer is None and secrets.basic is None:
            return
        if not authorization:
            raise HTTPException(
                status_code=401,
                detail="credentials are missing",
                headers={"WWW-Authenticate": "Bearer, Basic"},
            )
        scheme, _, value = authorization.partition(" ")
        expected = {"bearer": secrets.bearer, "basic": _basic(secrets.basic)}.get(scheme.lower())
        if expected is None or not hmac.compare_digest(value.strip(), expected):
            raise AuthError("wrong webhook credentials")

    def caller(authorization: Annotated[str | None, Header()] = None) -> Identity:
        token = _bearer(authorization)
        if not token:
            raise HTTPException(
                status_code=401,
                detail="credentials are missing: send Authorization: Bearer <token>",
                headers={"WWW-Authenticate": "Bearer"},
            )
        identity = operations.identify(runtime, token)
        if not identity.roles:
            raise AuthError(f"{identity.name} has no role: nothing here is open to it")
        return identity

    def _ingest(fmt: str, payload: Any) -> JSONResponse:
        with lock:
            report = ingestor.ingest(fmt, payload)
        status = (
            400
            if report.rejected and not (report.accepted or report.duplicates or report.resolved)
            else 200
        )
        return JSONResponse(
            status_code=status,
            content={
                "accepted": report.accepted,
                "duplicates": report.duplicates,
                "resolved": report.resolved,
                "opened": report.opened,
                "rejected": [{"index": i, "reason": r} for i, r in report.rejected],
            },
        )

    async def _raw_body(request: Request) -> bytes:
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            raise InputError(f"payload of {len(body)} bytes is over the {MAX_BODY_BYTES} limit")
        return body

    def _parse(body: bytes) -> Any:
        try:
            return json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"malformed JSON: {exc}") from exc

    def _signed_ingest(source: str, body: bytes, delivery: str | None) -> JSONResponse:
        # Without a delivery id, the body's digest stands in: the same body twice is a replay.
        delivery_id = delivery or "sha256:" + hashlib.sha256(body).hexdigest()
        with lock:
            report = ingestor.ingest("ci", _parse(body), delivery=(source, delivery_id))
        if report.replayed:
            return problem(
                409,
                "replayed delivery",
                f"delivery {delivery_id} was already processed; nothing was stored",
            )
        return JSONResponse(
            {
                "accepted": report.accepted,
                "resolved": report.resolved,
                "duplicates": report.duplicates,
                "opened": report.opened,
            }
        )

    @app.post("/api/v1/ci/github")
    async def github(
        request: Request,
        x_hub_signature_256: Annotated[str | None, Header()] = None,
        x_github_delivery: Annotated[str | None, Header()] = None,
        x_github_event: Annotated[str | None, Header()] = None,
    ) -> JSONResponse:
        if secrets.github is None:
            return problem(
                503, "not configured", "set ARF_GITHUB_WEBHOOK_SECRET to accept GitHub deliveries"
            )
        body = await _raw_body(request)
        if not x_hub_signature_256:
            return problem(401, "unauthorized", "X-Hub-Signature-256 is missing")
        expected = "sha256=" + hmac.new(secrets.github.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(x_hub_signature_256, expected):
            return problem(403, "forbidden", "X-Hub-Signature-256 does not match the body")
        if x_github_event not in ("workflow_run", "check_run"):
            return JSONResponse(status_code=202, content={"ignored": x_github_event})
        return _signed_ingest("github", body, x_github_delivery)

    @app.post("/api/v1/ci/gitlab")
    async def gitlab(
        request: Request,
        x_gitlab_token: Annotated[str | None, Header()] = None,
        x_gitlab_event_uuid: Annotated[str | None, Header()] = None,
    ) -> JSONResponse:
        if secrets.gitlab is None:
            return problem(
                503, "not configured", "set ARF_GITLAB_WEBHOOK_TOKEN to accept GitLab deliveries"
            )
        body = await _raw_body(request)
        if not x_gitlab_token:
            return problem(401, "unauthorized", "X-Gitlab-Token is missing")
        if not hmac.compare_digest(x_gitlab_token, secrets.gitlab):
            return problem(403, "forbidden", "X-Gitlab-Token is wrong")
        return _signed_ingest("gitlab", body, x_gitlab_event_uuid)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/api/v1/alerts/alertmanager", dependencies=[Depends(webhook_auth)])
    async def alertmanager(request: Request) -> JSONResponse:
        return _ingest("alertmanager", await _json_body(request))

    @app.post("/api/v1/events", dependencies=[Depends(webhook_auth)])
    async def events(request: Request) -> JSONResponse:
        """CloudEvents over HTTP: structured mode (the body is the event) or binary mode
        (attributes in `ce-*` headers, the body is the event's data)."""
        if "ce-specversion" not in request.headers:
            return _ingest("cloudevent", await _json_body(request))
        event: dict[str, Any] = {
            name[3:]: value for name, value in request.headers.items() if name.startswith("ce-")
        }
        event["data"] = await _json_body(request)
        return _ingest("cloudevent", event)

    @app.post("/api/v1/findings/checkov", dependencies=[Depends(webhook_auth)])
    async def findings(request: Request) -> JSONResponse:
        return _ingest("checkov", await _json_body(request))

    @app.post("/api/v1/events/kubernetes", dependencies=[Depends(webhook_auth)])
    async def kubernetes(request: Request) -> JSONResponse:
        return _ingest("kubernetes", await _json_body(request))

    @app.post("/api/v1/changes/terraform-plan", dependencies=[Depends(webhook_auth)])
    async def terraform(request: Request) -> JSONResponse:
        return _ingest("terraform-plan", await _json_body(request))

    @app.post("/api/v1/findings/sarif", dependencies=[Depends(webhook_auth)])
    async def sarif_findings(request: Request) -> JSONResponse:
        return _ingest("sarif", await _json_body(request))

    @app.post("/api/v1/signals/{fmt}", dependencies=[Depends(webhook_auth)])
    async def signals(fmt: str, request: Request) -> JSONResponse:
        """Any registered signal format (`arf formats`), plug-ins' included."""
        chosen = runtime.formats.get(fmt)  # unknown: InputError, a 400 naming the known ones
        if not chosen.http:
            raise InputError(f"{fmt} deliveries come through their own signed endpoint")
        if chosen.text:
            body = await _raw_body(request)
            try:
                return _ingest(chosen.name, body.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise InputError(f"{chosen.name}: the body is not UTF-8 text") from exc
        return _ingest(chosen.name, await _json_body(request))

    @app.get("/api/v1/incidents")
    def incidents(_who: Annotated[Identity, Depends(caller)]) -> list[dict[str, Any]]:
        return [i.model_dump(mode="json") for i in operations.list_incidents(runtime)]

    @app.get("/api/v1/incidents/{incident_id}")
    def incident(incident_id: str, _who: Annotated[Identity, Depends(caller)]) -> dict[str, Any]:
        return {
            "incident_id": incident_id,
            "explanation": operations.explain(runtime, incident_id),
            "explanation_data": operations.explain_data(runtime, incident_id),
        }

    @app.post("/api/v1/requests")
    def request(body: RequestBody, who: Annotated[Identity, Depends(caller)]) -> JSONResponse:
        with lock:
            report = operations.request_remediation(runtime, who, body.service, body.reason)
        return JSONResponse(
            {"opened": report.opened, "attached": report.attached, "requested_by": who.name},
            status_code=202,
        )

    @app.get("/api/v1/controls")
    def controls(_who: Annotated[Identity, Depends(caller)]) -> dict[str, Any]:
        return governance_ops.get_controls(runtime).model_dump(mode="json")

    @app.post("/api/v1/controls")
    def change(body: ControlBody, who: Annotated[Identity, Depends(caller)]) -> dict[str, Any]:
        with lock:
            changed = governance_ops.change_controls(
                runtime,
                who,
                governance_ops.ControlChange(
                    stop=body.stop, service=body.service, shadow=body.shadow, reason=body.reason
                ),
            )
        return changed.model_dump(mode="json")

    def _answer(incident_id: str, who: Identity, verdict: Verdict, body: Answer) -> JSONResponse:
        with lock:
            result = operations.answer(
                runtime, incident_id, who, verdict, body.reason, body.plan_hash
            )
        return JSONResponse(
            {
                "approval": result.approval.model_dump(mode="json"),
                "state": result.incident.state.value,
            }
        )

    @app.post("/api/v1/incidents/{incident_id}/approve")
    def approve(
        incident_id: str, body: Answer, who: Annotated[Identity, Depends(caller)]
    ) -> JSONResponse:
        return _answer(incident_id, who, Verdict.APPROVE, body)

    @app.post("/api/v1/incidents/{incident_id}/reject")
    def reject(
        incident_id: str, body: Answer, who: Annotated[Identity, Depends(caller)]
    ) -> JSONResponse:
        return _answer(incident_id, who, Verdict.REJECT, body)

    app.state.lock = lock
    return app


class Worker(threading.Thread):
    """Advances incidents once a second until stopped."""

    def __init__(self, runtime: Runtime, lock: WriterLock) -> None:
        super().__init__(name="arf-worker", daemon=True)
        self._runtime = runtime
        self._orchestrator = Orchestrator(runtime)
        self._lock = lock
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(1.0):
            try:
                with self._lock:
                    operations.advance(self._runtime, self._orchestrator)
            except Exception as exc:  # noqa: BLE001 - loop boundary: report and keep serving
                print(f"arf worker: {exc.__class__.__name__}: {exc}", flush=True)

    def stop(self) -> None:
        self._stop_event.set()


def serve(settings: Settings, host: str, port: int) -> None:
    lock = WriterLock()
    runtime = build_runtime(settings, clock=WaitingClock(lock))
    app = create_app(runtime, secrets=WebhookSecrets.from_settings(settings), lock=lock)
    worker = Worker(runtime, lock)
    worker.start()
    try:
        uvicorn.run(app, host=host, port=port, log_level="info")
    finally:
        worker.stop()
        runtime.close()
