"""Redaction recall and false-positive rate on a labelled sample, plus specific cases.

Secrets follow the token formats the providers document (prefixes, lengths, alphabets); they
are generated here from a seeded RNG rather than committed. Benign look-alikes are what logs
and alerts are full of: hashes, UUIDs, image digests, commit ids, base64 text, counters.
"""

from __future__ import annotations

import base64
import hashlib
import random
import string
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import JsonValue

from arf.core.records import Severity, Signal, SignalKind, SignalStatus
from arf.signals.redaction import Redactor

RNG = random.Random(6962)
ALNUM = string.ascii_letters + string.digits


def _signal(**fields: object) -> Signal:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return Signal.model_validate(
        {
            "signal_id": "sig-1",
            "source": "test",
            "kind": SignalKind.ALERT,
            "fingerprint": "f",
            "severity": Severity.HIGH,
            "status": SignalStatus.FIRING,
            "title": "HighErrorRate",
            "observed_at": at,
            "received_at": at,
            "payload_digest": "0" * 64,
            **fields,
        }
    )


def rand(alphabet: str, n: int) -> str:
    return "".join(RNG.choice(alphabet) for _ in range(n))


def secrets_sample() -> list[tuple[str, str]]:
    """(kind, text containing one secret)"""
    out: list[tuple[str, str]] = []
    for _ in range(10):
        out += [
            (
                "aws_access_key_id",
                f"key id {RNG.choice(['AKIA', 'ASIA'])}"
                f"{rand(string.ascii_uppercase + string.digits, 16)} used",
            ),
            ("aws_secret", f"aws_secret_access_key = {rand(ALNUM + '/+', 40)}"),
            ("github", f"token ghp_{rand(ALNUM, 36)} rejected"),
            ("github_pat", f"github_pat_{rand(ALNUM + '_', 82)}"),
            ("gitlab", f"clone with glpat-{rand(ALNUM + '-_', 20)}"),
            ("slack", f"hook xoxb-{rand(string.digits, 12)}-{rand(ALNUM, 24)}"),
            ("stripe", f"sk_live_{rand(ALNUM, 24)}"),
            ("google", f"AIza{rand(ALNUM + '-_', 35)}"),
            (
                "jwt",
                "Authorization: Bearer "
                + ".".join(
                    base64.urlsafe_b64encode(p).decode().rstrip("=")
                    for p in (
                        b'{"alg":"HS256","typ":"JWT"}',
                        f'{{"sub":"{rand(ALNUM, 8)}","iat":1516239022}}'.encode(),
                        RNG.randbytes(32),
                    )
                ),
            ),
            ("url_password", f"dial postgres://app:{rand(ALNUM, 14)}@db.internal:5432/orders"),
            ("conn_string", f"Server=db;Database=x;User Id=sa;Password={rand(ALNUM, 12)};"),
            ("assignment", f"DB_PASSWORD={rand(ALNUM + '!@#', 16)}"),
            ("assignment_json", f'{{"client_secret": "{rand(ALNUM, 32)}"}}'),
            (
                "private_key",
                "-----BEGIN RSA PRIVATE KEY-----\n"
                + base64.b64encode(RNG.randbytes(96)).decode()
                + "\n-----END RSA PRIVATE KEY-----",
            ),
        ]
    return out


def benign_sample() -> list[str]:
    out: list[str] = []
    for i in range(10):
        digest = hashlib.sha256(str(i).encode()).hexdigest()
        out += [
            f"image registry.example/app@sha256:{digest}",
            f"request {uuid.UUID(int=RNG.getrandbits(128))} failed",
            f"commit {digest[:40]} deployed",
            f"payload {base64.b64encode(f'hello world {i}'.encode()).decode()}",
            f"token_count={RNG.randint(10, 99999)} max_tokens=512",
            "password: <redacted>",
            f"https://grafana.example/d/{rand(ALNUM, 9)}?orgId=1",
            f"checksum md5 {hashlib.md5(str(i).encode(), usedforsecurity=False).hexdigest()}",
            "secretName: tls-cert  # a reference, not a secret value"
            if i % 2
            else f"trace {digest[:16]} span {digest[16:32]}",
            f"author: ci-bot deployed checkout 1.{i}.0",
        ]
    return out


def test_recall_and_false_positive_rate_on_the_labelled_sample() -> None:
    redactor = Redactor()
    secrets = secrets_sample()
    benign = benign_sample()
    caught = [kind for kind, text in secrets if redactor.find(text)]
    flagged = [text for text in benign if redactor.find(text)]
    recall = len(caught) / len(secrets)
    false_positive_rate = len(flagged) / len(benign)
    print(
        f"redaction recall {recall:.3f} on {len(secrets)} secrets; false-positive rate"
        f" {false_positive_rate:.3f} on {len(benign)} benign look-alikes; flagged: {flagged}"
    )
    missed = {kind for kind, text in secrets if not redactor.find(text)}
    assert recall >= 0.95, f"missed kinds: {missed}"
    assert false_positive_rate <= 0.05, flagged


def test_no_secret_survives_redaction_of_the_sample() -> None:
    redactor = Redactor()
    for _, text in secrets_sample():
        cleaned = redactor.redact_text(text)
        assert "[REDACTED:" in cleaned
        assert redactor.find(cleaned) == [], cleaned


def test_kubernetes_secret_data_and_secret_named_fields() -> None:
    redactor = Redactor()
    value: JsonValue = {
        "kind": "Secret",
        "metadata": {"name": "db"},
        "data": {"password": "aHVudGVyMg==", "user": "YWRtaW4="},
    }
    cleaned = redactor.redact_value(value)
    assert isinstance(cleaned, dict) and cleaned["metadata"] == {"name": "db"}
    assert "aHVudGVyMg==" not in str(cleaned) and "YWRtaW4=" not in str(cleaned)
    fields = redactor.redact_mapping(
        {"api_key": "abc123def", "replicas": "3", "token": "true", "secretName": "tls-cert"}
    )
    assert fields == {
        "api_key": "[REDACTED:secret_field]",
        "replicas": "3",
        "token": "true",
        "secretName": "tls-cert",  # a reference to a secret, not a secret
    }


def test_pii_is_configurable() -> None:
    text = "owner jane.doe@example.com on call"
    assert Redactor().redact_text(text) == text
    assert Redactor.with_pii().redact_text(text) == "owner [REDACTED:email] on call"


def test_the_one_scan_shortcut_for_clean_signals_agrees_with_field_by_field_redaction() -> None:
    texts = [text for _, text in secrets_sample()] + benign_sample()
    texts += ["plain text", "Pod checkout-7f9 restarted 3 times", "KEY rotated", "AUTH ok"]
    fields: list[Callable[[str], dict[str, object]]] = [
        lambda t: {"title": t},
        lambda t: {"body": t},
        lambda t: {"labels": {"pod": t}},
        lambda t: {"attributes": {"nested": {"deep": [t]}}},
        lambda t: {"attributes": {"db_password": t}},  # a secret-named field
        lambda t: {"attributes": {"object": {"kind": "Secret", "data": {"k": t}}}},
    ]
    for redactor in (Redactor(), Redactor.with_pii()):
        for text in texts:
            for place in fields:
                signal = _signal(**place(text))
                assert redactor.redact_signal(signal) == redactor.redact_fields(signal), (
                    text,
                    place(text),
                )
