"""Canonical JSON and content hashing.

Canonical form: keys sorted, no insignificant white space, UTF-8, datetimes as ISO 8601 in UTC.
Floats use Python's shortest round-trip representation. Every hash in ARF is SHA-256 over this.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel


def to_jsonable(value: Any) -> Any:
    """Turn records (pydantic models) and containers into plain JSON values."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


def _nested_record(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def canonical_json(value: Any) -> str:
    """The one canonical serialisation used for hashing and the ledger."""
    return json.dumps(
        value.model_dump(mode="json") if isinstance(value, BaseModel) else value,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_nested_record,
    )


def sha256_hex(data: str | bytes) -> str:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()


def content_hash(value: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of a value."""
    return sha256_hex(canonical_json(value))
