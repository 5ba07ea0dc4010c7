"""Checkpoints signed by an external signer: a separate program holding the key where ARF
does not look. ARF checks the signer's key is in the published keyring and every signature
before it publishes anything; a failing or cheating signer publishes nothing."""

from __future__ import annotations

import shlex
import sys
import textwrap
from pathlib import Path

import pytest

from arf.core.clock import ManualClock
from arf.core.errors import ConfigError, IntegrityError
from arf.ledger.checkpoint import open_checkpoint
from arf.ledger.keys import create_key, load_keyring
from arf.runtime import ledger_ops
from arf.runtime.container import Runtime
from arf.runtime.ingest import Ingestor
from tests.conftest import make_runtime
from tests.integration.test_cli import arf, assert_one_line_error

# A stand-in for an HSM/KMS client: `public-key` prints the verifier key, `sign` signs stdin.
# With a second key file it announces the first key but signs with the second (a cheat).
SIGNER = textwrap.dedent(
    """
    import base64, sys
    from pathlib import Path
    from arf.ledger.keys import load_signer

    announced = load_signer(Path(sys.argv[1]))
    used = load_signer(Path(sys.argv[2])) if len(sys.argv) > 3 else announced
    verb = sys.argv[-1]
    if verb == "public-key":
        print(announced.verifier_key())
    elif verb == "sign":
        if Path(sys.argv[1]).with_suffix(".broken").exists():
            sys.exit("the HSM is offline")
        print(base64.b64encode(used.sign(sys.stdin.buffer.read())).decode())
    else:
        sys.exit(f"unknown verb {verb}")
    """
)


def _signer_command(tmp_path: Path, *keys: Path) -> str:
    script = tmp_path / "signer.py"
    script.write_text(SIGNER, "utf-8")
    return shlex.join([sys.executable, str(script), *map(str, keys)])


def _runtime(tmp_path: Path, clock: ManualClock, command: str, trusted: bool = True) -> Runtime:
    vault = tmp_path / "vault"  # the signer's own place: not ARF's key path
    signer = create_key(vault / "hsm.key", "hsm-ledger")
    runtime = make_runtime(tmp_path / "home", clock, ledger_signer=command)
    if trusted:
        keyring = runtime.settings.keyring_path
        keyring.parent.mkdir(parents=True, exist_ok=True)
        keyring.write_text(signer.verifier_key() + "\n", "utf-8")
    Ingestor(runtime).ingest(
        "alertmanager",
        {
            "version": "4",
            "status": "firing",
            "alerts": [
                {
                    "status": "firing",
                    "labels": {"alertname": "HighErrorRate", "service": "checkout"},
                    "startsAt": "2026-03-02T10:00:00Z",
                }
            ],
        },
    )
    return runtime


def test_checkpoints_are_signed_by_the_external_signer_and_verify(
    tmp_path: Path, clock: ManualClock
) -> None:
    command = _signer_command(tmp_path, tmp_path / "vault" / "hsm.key")
    runtime = _runtime(tmp_path, clock, command)
    signed = ledger_ops.checkpoint(runtime)
    assert signed is not None and signed.signed_by == ("hsm-ledger",)
    assert not runtime.settings.ledger_key_path.exists()  # ARF holds no key
    opened = open_checkpoint(signed.note, load_keyring(runtime.settings.keyring_path))
    assert opened.checkpoint.size == len(ledger_ops.entries(runtime))
    assert ledger_ops.verify(runtime).ok
    with pytest.raises(ConfigError, match="external signer"):
        ledger_ops.create_signing_key(runtime, "local")
    runtime.store.close()


def test_a_signer_whose_key_is_not_in_the_keyring_is_refused(
    tmp_path: Path, clock: ManualClock
) -> None:
    command = _signer_command(tmp_path, tmp_path / "vault" / "hsm.key")
    runtime = _runtime(tmp_path, clock, command, trusted=False)
    with pytest.raises(ConfigError, match="not in the published keyring"):
        ledger_ops.checkpoint(runtime)
    # another key under the same name in the keyring is not the signer's key either
    impostor = create_key(tmp_path / "elsewhere" / "same-name.key", "hsm-ledger")
    keyring = runtime.settings.keyring_path
    keyring.parent.mkdir(parents=True, exist_ok=True)
    keyring.write_text(impostor.verifier_key() + "\n", "utf-8")
    with pytest.raises(ConfigError, match="not in the published keyring"):
        ledger_ops.checkpoint(runtime)
    assert ledger_ops.witness(runtime).notes() == []
    runtime.store.close()


def test_a_signature_from_another_key_publishes_nothing(tmp_path: Path, clock: ManualClock) -> None:
    other = create_key(tmp_path / "elsewhere" / "other.key", "other")
    command = _signer_command(
        tmp_path, tmp_path / "vault" / "hsm.key", tmp_path / "elsewhere" / "other.key"
    )
    runtime = _runtime(tmp_path, clock, command)
    with pytest.raises(IntegrityError, match="does not verify under 'hsm-ledger'"):
        ledger_ops.checkpoint(runtime)
    assert ledger_ops.witness(runtime).notes() == []
    assert other.name == "other"
    runtime.store.close()


def test_a_failing_signer_is_a_one_line_error_naming_it(tmp_path: Path, clock: ManualClock) -> None:
    key = tmp_path / "vault" / "hsm.key"
    command = _signer_command(tmp_path, key)
    runtime = _runtime(tmp_path, clock, command)
    runtime.store.close()
    key.with_suffix(".broken").write_text("", "utf-8")
    result = arf(tmp_path / "home", "audit", "checkpoint", env={"ARF_LEDGER_SIGNER": command})
    assert_one_line_error(result, "external signer failed on 'sign' (exit 1): the HSM is offline")
    key.with_suffix(".broken").unlink()
    result = arf(tmp_path / "home", "audit", "checkpoint", env={"ARF_LEDGER_SIGNER": command})
    assert result.returncode == 0, result.stderr
    assert "\u2014 hsm-ledger " in result.stdout
    missing = arf(
        tmp_path / "home", "audit", "checkpoint", env={"ARF_LEDGER_SIGNER": "/nonexistent/signer"}
    )
    assert_one_line_error(missing, "not found")
