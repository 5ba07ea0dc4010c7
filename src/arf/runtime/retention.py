"""Retention: raw signals expire, and every expiry is a ledger entry (a redacted tombstone).

The ledger itself is never shortened. What expires is the store's raw signals that no active
incident needs, last seen before the cut-off. The deletion and its tombstone commit in one
transaction: the tombstone names the cut-off, how many signals went and a digest over each
one's id and record digest (no content), so a copy kept elsewhere can still be proved to be
what ARF held; the next signed checkpoint covers it. A dry run counts without deleting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from hashlib import sha256

from arf.core.errors import ConfigError
from arf.ledger import chain
from arf.runtime import ledger_ops
from arf.runtime.container import Runtime

TOMBSTONE = "retention.expired"


@dataclass(frozen=True)
class RetentionReport:
    before: datetime
    signals: int
    digest: str  # SHA-256 over "signal_id record_sha256" lines, sorted by id
    dry_run: bool
    ledger_seq: int | None  # the tombstone's position (None for a dry run or nothing expired)
    signed: bool  # a checkpoint covering the tombstone was signed and published


def apply_retention(
    runtime: Runtime, older_than_days: float | None = None, dry_run: bool = False
) -> RetentionReport:
    days = older_than_days if older_than_days is not None else runtime.settings.retention_days
    if days is None:
        raise ConfigError("no retention is configured: set ARF_RETENTION_DAYS or --older-than")
    if days <= 0:
        raise ConfigError("the retention period must be more than 0 days")
    before = runtime.clock.now() - timedelta(days=days)
    seq = None
    with runtime.store.unit_of_work() as uow:
        expired = uow.expire_signals(before, remove=not dry_run)
        lines = "".join(f"{signal_id} {digest}\n" for signal_id, digest in expired)
        digest = sha256(lines.encode("utf-8")).hexdigest()
        if expired and not dry_run:
            entry = chain.append(
                uow,
                TOMBSTONE,
                None,
                {
                    "what": "signals",
                    "before": before.isoformat(),
                    "retention_days": days,
                    "count": len(expired),
                    "digest": digest,
                },
                runtime.clock.now(),
            )
            seq = entry.seq
    signed = seq is not None and ledger_ops.checkpoint(runtime) is not None
    return RetentionReport(before, len(expired), digest, dry_run, seq, signed)
