"""Identities and roles from configuration; tokens are stored only as SHA-256 hashes.

File format (YAML):
    identities:
      - name: alice
        roles: [approver]
        token_sha256: 5e88...   # sha256 of the token, hex
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from arf.core.errors import AuthError, ConfigError

SYSTEM_IDENTITY = "arf-system"


@dataclass(frozen=True)
class Identity:
    name: str
    roles: frozenset[str]

    @property
    def is_system(self) -> bool:
        return self.name == SYSTEM_IDENTITY


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class IdentityDirectory:
    def __init__(self, entries: Sequence[tuple[Identity, str]]) -> None:
        self._entries = list(entries)
        names = [identity.name for identity, _ in entries]
        if len(set(names)) != len(names):
            raise ConfigError("identities: a name is listed twice")
        if SYSTEM_IDENTITY in names:
            raise ConfigError(f"identities: {SYSTEM_IDENTITY!r} is reserved for ARF itself")

    @classmethod
    def from_file(cls, path: Path) -> IdentityDirectory:
        try:
            document = yaml.safe_load(path.read_text("utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read identities file {path}: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
        if not isinstance(document, Mapping) or not isinstance(document.get("identities"), list):
            raise ConfigError(f"{path}: expected a mapping with an 'identities' list")
        entries: list[tuple[Identity, str]] = []
        for index, item in enumerate(document["identities"]):
            if not isinstance(item, Mapping):
                raise ConfigError(f"{path}: identities[{index}] must be a mapping")
            name, digest, roles = item.get("name"), item.get("token_sha256"), item.get("roles")
            if not isinstance(name, str) or not name:
                raise ConfigError(f"{path}: identities[{index}] needs a name")
            if not isinstance(digest, str) or len(digest) != 64:
                raise ConfigError(f"{path}: identity {name!r} needs a 64-hex token_sha256")
            if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
                raise ConfigError(f"{path}: identity {name!r} needs a list of roles")
            entries.append((Identity(name, frozenset(roles)), digest.lower()))
        return cls(entries)

    def authenticate(self, token: str | None) -> Identity:
        if not token:
            raise AuthError("no credentials: set ARF_TOKEN or configure a credentials file")
        digest = hash_token(token)
        for identity, stored in self._entries:
            if hmac.compare_digest(digest, stored):
                return identity
        raise AuthError("the token does not belong to any configured identity")
