"""What the entry points (CLI, HTTP) ask of the runtime: thin, typed operations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from pydantic import JsonValue

from arf.core.errors import AuthError, ConfigError, InputError
from arf.core.records import Approval, Incident, Verdict
from arf.oversight.explain import explain_json, explain_markdown
from arf.oversight.identities import Identity
from arf.runtime.container import Runtime
from arf.runtime.history import incident_records
from arf.runtime.ingest import Ingestor, IngestReport
from arf.runtime.notifications import deliver_pending
from arf.runtime.orchestrator import Orchestrator
from arf.signals.alertmanager import ParseResult
from arf.signals.manual import manual_request


def explain(runtime: Runtime, incident_id: str) -> str:
    return explain_markdown(incident_records(runtime.store, incident_id))


def explain_data(runtime: Runtime, incident_id: str) -> dict[str, JsonValue]:
    return explain_json(incident_records(runtime.store, incident_id))


def list_incidents(runtime: Runtime) -> list[Incident]:
    with runtime.store.unit_of_work() as uow:
        return list(uow.list_incidents())


def token_from(runtime: Runtime) -> str:
    """The caller's token: ARF_TOKEN (the `token` setting), else the credentials file."""
    if runtime.settings.token and runtime.settings.token.strip():
        return runtime.settings.token.strip()
    path = runtime.settings.credentials_path
    try:
        return path.read_text("utf-8").strip()
    except FileNotFoundError as exc:
        raise AuthError(f"no credentials: set ARF_TOKEN or create {path}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read credentials file {path}: {exc.strerror}") from exc


def identify(runtime: Runtime, token: str) -> Identity:
    return runtime.identities().authenticate(token)


@dataclass(frozen=True)
class AnswerResult:
    approval: Approval
    incident: Incident


def answer(
    runtime: Runtime,
    incident_id: str,
    identity: Identity,
    verdict: Verdict,
    reason: str = "",
    plan_hash: str | None = None,
) -> AnswerResult:
    """Approve or reject, then let the lifecycle continue (execute and verify if approved)."""
    orchestrator = Orchestrator(runtime)
    approval = orchestrator.answer(incident_id, identity, verdict, reason, plan_hash)
    advance(runtime, orchestrator)
    with runtime.store.unit_of_work() as uow:
        return AnswerResult(approval, uow.get_incident(incident_id))


def request_remediation(
    runtime: Runtime, identity: Identity, service: str, reason: str
) -> IngestReport:
    """A person asks ARF to look at a service: the request opens or joins an incident, which
    then runs the normal lifecycle; the requester can never approve its plan."""
    if not reason.strip():
        raise InputError("say why: a request needs a reason")
    info = runtime.services.service(service)
    if info is None:
        raise InputError(f"no service {service!r} in the service catalog")
    signal = manual_request(service, reason, identity.name, info.environment, runtime.clock.now())
    report = Ingestor(runtime).ingest_parsed(ParseResult(signals=(signal,)))
    advance(runtime)
    return report


def advance(runtime: Runtime, orchestrator: Orchestrator | None = None) -> int:
    """Move every incident that can move, then deliver the notifications that produced."""
    steps = (orchestrator or Orchestrator(runtime)).run_pending()
    deliver_pending(runtime)
    return steps


def parse_window(text: str) -> timedelta:
    """`30d`, `12h`, `90m` or `45s` as a duration."""
    units = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}
    value, unit = text[:-1], text[-1:]
    if unit not in units or not value.isdigit():
        raise InputError(f"window {text!r}: expected a number and a unit (d, h, m, s)")
    return timedelta(seconds=int(value) * units[unit])
