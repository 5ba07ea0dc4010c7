"""An external signer: checkpoints signed by a program that holds the key where ARF cannot
read it (an HSM or KMS client, a signing service behind a small wrapper, another user).

The interface is a command line, so any language and any key store can sit behind it:

- `COMMAND public-key` prints the signer's verifier key (`<name>+<key hash hex>+<base64>`,
  the keyring format) and exits 0;
- `COMMAND sign` reads the note body to sign on standard input and prints the Ed25519
  signature, base64, on standard output, exiting 0.

ARF trusts nothing it is told: the verifier key must already be in the published keyring,
and every signature is checked against it before a checkpoint is published. A signer that
fails, hangs, answers garbage or signs with another key stops the checkpoint (fail closed).
"""

from __future__ import annotations

import base64
import binascii
import subprocess
from collections.abc import Sequence

from arf.ledger.checkpoint import CheckpointError, Verifier


class CommandSigner:
    """Signs note bodies by running an external signing command (see the module docstring)."""

    def __init__(
        self, command: Sequence[str], trusted: Sequence[Verifier], timeout_s: float = 30.0
    ) -> None:
        if not command:
            raise CheckpointError("the external signer command is empty")
        self._command = list(command)
        self._timeout_s = timeout_s
        line = self._run("public-key", b"").decode("utf-8", "replace").strip()
        verifier = Verifier.parse(line)
        # the whole key, not its 4-byte hash: a colliding hash is cheap to find
        if verifier.text() not in {t.text() for t in trusted}:
            raise CheckpointError(
                f"the external signer's key {verifier.name!r} is not in the published keyring;"
                " add its verifier key there first (the keyring is what auditors trust)"
            )
        self._verifier = verifier
        self.name = verifier.name
        self.key_hash = verifier.key_hash

    def sign(self, message: bytes) -> bytes:
        answer = self._run("sign", message).strip()
        try:
            signature = base64.b64decode(answer, validate=True)
        except binascii.Error as exc:
            raise CheckpointError("the external signer's answer is not base64") from exc
        if not self._verifier.verify(message, signature):
            raise CheckpointError(
                f"the external signer's signature does not verify under {self.name!r};"
                " nothing was published"
            )
        return signature

    def _run(self, verb: str, stdin: bytes) -> bytes:
        argv = [*self._command, verb]
        try:
            # an operator-configured command line, run without a shell
            done = subprocess.run(
                argv, input=stdin, capture_output=True, timeout=self._timeout_s, check=False
            )
        except FileNotFoundError as exc:
            raise CheckpointError(f"external signer {self._command[0]!r} not found") from exc
        except subprocess.TimeoutExpired as exc:
            raise CheckpointError(
                f"external signer did not answer {verb!r} within {self._timeout_s:g} s"
            ) from exc
        except OSError as exc:
            raise CheckpointError(f"cannot run the external signer: {exc.strerror}") from exc
        if done.returncode != 0:
            said = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise CheckpointError(
                f"external signer failed on {verb!r} (exit {done.returncode})"
                + (f": {said[-1][:200]}" if said else "")
            )
        return done.stdout
