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
    assert http.post("/api/v1/alerts/alertmanager", content=body).status_code == 403
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
    assert http.get("/api/v1/incidents").status_code == 403
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
