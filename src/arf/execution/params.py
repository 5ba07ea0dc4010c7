"""Typed, validated parameters for actions declared in configuration (HTTP, Ansible): the
only way a plan's values reach a URL, a request body or a playbook's variables."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from arf.core.errors import ConfigError, ExecutionError


@dataclass(frozen=True)
class Param:
    name: str
    type: str  # string | integer | boolean
    pattern: str | None = None
    minimum: int | None = None
    maximum: int | None = None

    def check(self, value: object) -> str:
        """The value as text, or ExecutionError."""
        if self.type == "boolean":
            if not isinstance(value, bool):
                raise ExecutionError(f"{self.name} must be true or false")
            return "true" if value else "false"
        if self.type == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ExecutionError(f"{self.name} must be an integer")
            if (self.minimum is not None and value < self.minimum) or (
                self.maximum is not None and value > self.maximum
            ):
                raise ExecutionError(f"{self.name}={value} is out of bounds")
            return str(value)
        if not isinstance(value, str) or not value:
            raise ExecutionError(f"{self.name} must be a non-empty string")
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise ExecutionError(f"{self.name}={value!r} does not match {self.pattern}")
        return value


TYPES = ("string", "integer", "boolean")


def load_params(raw: object, where: str) -> dict[str, Param]:
    """`{name: {type, pattern?, minimum?, maximum?}}`; a string needs a pattern."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: params must be a mapping")
    params = {}
    for name, spec in raw.items():
        if not isinstance(spec, Mapping) or spec.get("type") not in (
            "string",
            "integer",
            "boolean",
        ):
            raise ConfigError(f"{where}: param {name} needs a type string|integer|boolean")
        if spec["type"] == "string" and not spec.get("pattern"):
            raise ConfigError(f"{where}: string param {name} needs a pattern")
        params[str(name)] = Param(
            str(name), spec["type"], spec.get("pattern"), spec.get("minimum"), spec.get("maximum")
        )
    return params


def check_values(
    action: str, declared: Mapping[str, Param], given: Mapping[str, Any]
) -> dict[str, str]:
    """Every declared parameter present and valid, nothing else: name -> value as text."""
    unknown = set(given) - set(declared)
    if unknown:
        raise ExecutionError(f"{action}: unknown parameter {sorted(unknown)[0]!r}")
    missing = set(declared) - set(given)
    if missing:
        raise ExecutionError(f"{action}: missing parameter {sorted(missing)[0]!r}")
    return {name: spec.check(given[name]) for name, spec in declared.items()}
