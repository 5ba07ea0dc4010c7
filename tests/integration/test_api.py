"""The HTTP service through FastAPI's test client (real ASGI app, real SQLite file)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from fastapi.testclient import TestClient

from arf.api.server import create_app
from arf.oversight.identities import hash_token
from arf.runtime.container import Runtime


def client(runtime: Runtime, webhook_token: str | None = None) -> TestClient:
    ids = {
        "identities": [
            {"name": "alice", "roles": ["approver"], "token_sha256": hash_token("alice-token")}
        ]
    }
    runtime.settings.identities_path.parent.mkdir(parents=True, exist_ok=True)
    runtime.settings.identities_path.write_text(yaml.safe_dump(ids))
    return TestClient(create_app(runtime, webhook_token))


def test_webhook_accepts_real_payload_and_rejects_malformed(
    runtime: Runtime, shared_data: Path
) -> None:
    http = client(runtime)
    body = (shared_data / "alertmanager" / "firing.json").read_text()
    ok = http.post("/api/v1/alerts/alertmanager", content=body)
    assert ok.status_code == 200 and ok.json()["accepted"] == 1 and ok.json()["opened"]
    bad = http.post("/api/v1/alerts/alertmanager", content=b'{"alerts": [')
    assert bad.status_code == 400
    assert bad.headers["content-type"] == "application/problem+json"
    assert "malformed JSON" in bad.json()["detail"]
    partial = json.loads(body)
    partial["alerts"].append({"status": "firing", "labels": {}})
    mixed = http.post("/api/v1/alerts/alertmanager", json=partial)
    assert mixed.status_code == 200
    assert mixed.json()["duplicates"] == 1 and mixed.json()["rejected"][0]["index"] == 1


def test_webhook_token_is_enforced(runtime: Runtime, shared_data: Path) -> None:
    http = client(runtime, webhook_token="hook-secret")
    body = (shared_data / "alertmanager" / "firing.json").read_text()
    missing = http.post("/api/v1/alerts/alertmanager", content=body)
    assert missing.status_code == 401 and "Bearer" in missing.headers["www-authenticate"]
    wrong = {"Authorization": "Bearer nope"}
    assert http.post("/api/v1/alerts/alertmanager", content=body, headers=wrong).status_code == 403
    with runtime.store.unit_of_work() as uow:
        assert uow.count_signals() == 0  # rejected deliveries are stored nowhere
    right = {"Authorization": "Bearer hook-secret"}
    assert http.post("/api/v1/alerts/alertmanager", content=body, headers=right).status_code == 200


def test_reading_incidents_needs_an_identity(runtime: Runtime, shared_data: Path) -> None:
    http = client(runtime)
    http.post(
        "/api/v1/alerts/alertmanager",
        content=(shared_data / "alertmanager" / "firing.json").read_text(),
    )
    anonymous = http.get("/api/v1/incidents")
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"] == "Bearer"
    wrong = http.get("/api/v1/incidents", headers={"Authorization": "Bearer stolen"})
    assert wrong.status_code == 403
    listed = http.get("/api/v1/incidents", headers={"Authorization": "Bearer alice-token"})
    assert listed.status_code == 200 and listed.json()[0]["services"] == ["checkout"]
    missing = http.get(
        "/api/v1/incidents/INC-NOPE", headers={"Authorization": "Bearer alice-token"}
    )
    assert missing.status_code == 404
    assert http.get("/healthz").json() == {"status": "ok"}


def test_a_missing_identities_file_is_a_clear_server_error(runtime: Runtime) -> None:
    http = TestClient(create_app(runtime))
    response = http.get("/api/v1/incidents", headers={"Authorization": "Bearer x"})
    assert response.status_code == 500
    assert "identities" in response.json()["detail"]


def test_github_deliveries_need_a_valid_signature_and_are_not_replayed(
    runtime: Runtime,
) -> None:
    import hashlib
    import hmac

    from arf.api.server import WebhookSecrets
    from tests.conftest import REPO

    body = (REPO / "tests" / "data" / "github-workflow-run-failure.json").read_bytes()
    http = TestClient(create_app(runtime, secrets=WebhookSecrets(github="gh-secret")))
    signature = "sha256=" + hmac.new(b"gh-secret", body, hashlib.sha256).hexdigest()
    headers = {"X-GitHub-Event": "workflow_run", "X-GitHub-Delivery": "d-1"}
    missing = http.post("/api/v1/ci/github", content=body, headers=headers)
    assert missing.status_code == 401
    forged = http.post(
        "/api/v1/ci/github",
        content=body,
        headers={**headers, "X-Hub-Signature-256": "sha256=" + "0" * 64},
    )
    assert forged.status_code == 403
    tampered = http.post(
        "/api/v1/ci/github",
        content=body.replace(b"failure", b"success"),
        headers={**headers, "X-Hub-Signature-256": signature},
    )
    assert tampered.status_code == 403
    with runtime.store.unit_of_work() as uow:
        assert uow.count_signals() == 0  # rejected deliveries are stored nowhere
    ok = http.post(
        "/api/v1/ci/github", content=body, headers={**headers, "X-Hub-Signature-256": signature}
    )
    assert ok.status_code == 200 and ok.json()["accepted"] == 1 and ok.json()["opened"]
    replay = http.post(
        "/api/v1/ci/github", content=body, headers={**headers, "X-Hub-Signature-256": signature}
    )
    assert replay.status_code == 409
    with runtime.store.unit_of_work() as uow:
        assert uow.count_signals() == 1
    other = http.post(
        "/api/v1/ci/github",
        content=b"{}",
        headers={
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": "d-2",
            "X-Hub-Signature-256": "sha256="
            + hmac.new(b"gh-secret", b"{}", hashlib.sha256).hexdigest(),
        },
    )
    assert other.status_code == 202


def test_gitlab_token_and_unconfigured_sources(runtime: Runtime) -> None:
    from arf.api.server import WebhookSecrets
    from tests.conftest import REPO

    body = (REPO / "tests" / "data" / "gitlab-pipeline-failed.json").read_bytes()
    unconfigured = TestClient(create_app(runtime))
    assert unconfigured.post("/api/v1/ci/gitlab", content=body).status_code == 503
    http = TestClient(create_app(runtime, secrets=WebhookSecrets(gitlab="gl-token")))
    assert http.post("/api/v1/ci/gitlab", content=body).status_code == 401
    assert (
        http.post("/api/v1/ci/gitlab", content=body, headers={"X-Gitlab-Token": "nope"}).status_code
        == 403
    )
    good = {"X-Gitlab-Token": "gl-token"}
    assert http.post("/api/v1/ci/gitlab", content=body, headers=good).status_code == 200
    # no delivery id header: the same body again is recognised as a replay
    assert http.post("/api/v1/ci/gitlab", content=body, headers=good).status_code == 409


def test_basic_auth_and_binary_mode_cloudevents(runtime: Runtime) -> None:
    import base64

    from arf.api.server import WebhookSecrets

    http = TestClient(create_app(runtime, secrets=WebhookSecrets(basic="am:s3cret")))
    data = {"from": "1.4.2", "to": "1.5.0"}
    headers = {
        "ce-specversion": "1.0",
        "ce-id": "d-77",
        "ce-source": "ci/deployer",
        "ce-type": "dev.arf.change.deploy",
        "ce-subject": "checkout",
        "ce-time": "2026-03-02T10:00:00Z",
    }
    assert http.post("/api/v1/events", json=data, headers=headers).status_code == 401
    wrong = base64.b64encode(b"am:nope").decode()
    assert (
        http.post(
            "/api/v1/events", json=data, headers={**headers, "Authorization": f"Basic {wrong}"}
        ).status_code
        == 403
    )
    good = base64.b64encode(b"am:s3cret").decode()
    response = http.post(
        "/api/v1/events", json=data, headers={**headers, "Authorization": f"Basic {good}"}
    )
    assert response.status_code == 200 and response.json()["accepted"] == 1
    with runtime.store.engine.connect() as conn:
        record = conn.exec_driver_sql("select record from signals").scalar_one()
    assert '"to":"1.5.0"' in record and '"service":"checkout"' in record


def test_controls_over_http_and_a_role_is_required(runtime: Runtime) -> None:
    ids = {
        "identities": [
            {"name": "olga", "roles": ["sre"], "token_sha256": hash_token("olga-token")},
            {"name": "nobody", "roles": [], "token_sha256": hash_token("nobody-token")},
        ]
    }
    runtime.settings.identities_path.parent.mkdir(parents=True, exist_ok=True)
    runtime.settings.identities_path.write_text(yaml.safe_dump(ids))
    http = TestClient(create_app(runtime))
    olga = {"Authorization": "Bearer olga-token"}
    nobody = {"Authorization": "Bearer nobody-token"}
    assert http.get("/api/v1/controls", headers=nobody).status_code == 403
    assert http.get("/api/v1/incidents", headers=nobody).status_code == 403
    assert http.get("/api/v1/controls").status_code == 401
    stopped = http.post("/api/v1/controls", json={"stop": True, "reason": "drill"}, headers=olga)
    assert stopped.status_code == 200 and stopped.json()["stopped"] is True
    assert stopped.json()["changed_by"] == "olga"
    missing = http.post("/api/v1/controls", json={"stop": False}, headers=olga)
    assert missing.status_code == 400 and "reason" in missing.text
    assert http.get("/api/v1/controls", headers=olga).json()["stopped"] is True


def test_a_person_can_request_a_remediation_over_http(runtime: Runtime) -> None:
    http = client(runtime)
    alice = {"Authorization": "Bearer alice-token"}
    asked = http.post(
        "/api/v1/requests", json={"service": "payments", "reason": "pool errors"}, headers=alice
    )
    assert asked.status_code == 202 and asked.json()["requested_by"] == "alice"
    (incident_id,) = asked.json()["opened"]
    shown = http.get(f"/api/v1/incidents/{incident_id}", headers=alice).json()
    assert shown["explanation_data"]["incident"]["requested_by"] == "alice"
    unknown = http.post("/api/v1/requests", json={"service": "x", "reason": "y"}, headers=alice)
    assert unknown.status_code == 400
    assert http.post("/api/v1/requests", json={"service": "payments"}).status_code == 401
