"""The one exception tree of ARF.

Decisions (denied, approval required) are values, not exceptions. Exceptions are for input that
cannot be processed and for integrity violations; each carries a one-line, human-readable message.
"""

from __future__ import annotations


class ArfError(Exception):
    """Base of every error ARF raises on purpose."""


class InputError(ArfError):
    """Input from outside (a payload, a file, a flag) is malformed or unsupported."""


class NotFoundError(ArfError):
    """A named thing (incident, entry, file) does not exist."""


class ConfigError(ArfError):
    """Configuration (policy, service catalog, identities, settings) is invalid."""


class PolicyLoadError(ConfigError):
    """A policy document failed to load, compile or type-check."""


class IllegalTransitionError(ArfError):
    """An incident state change that the transition table does not allow."""


class ConcurrentUpdateError(ArfError):
    """Somebody else changed the record between read and write."""


class StoreUnavailableError(ArfError):
    """The store cannot be reached or is locked: nobody's fault, retried later."""


class IntegrityError(ArfError):
    """A plan, approval or ledger does not match what was decided or recorded."""


class AuthError(ArfError):
    """Missing, unknown or insufficient credentials."""


class ExecutionError(ArfError):
    """A remediation step could not be carried out."""


class NotificationError(ArfError):
    """A notification channel did not take the message (it is retried)."""


class ReasoningError(ArfError):
    """A reasoner gave up cleanly: no answer, an invalid one after repair, or a budget spent."""


class EgressRefusedError(ReasoningError):
    """The context may not be sent to this backend (egress rule or redaction check)."""
