"""Reading configuration files, with errors that name the file and the field."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml
from pydantic import ValidationError

from arf.core.errors import ConfigError


def validation_problem(exc: ValidationError) -> str:
    """The first problem pydantic found, as `field.path: message`."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{where}: {first['msg']}"


def yaml_section(
    text: str, origin: str, key: str, kind: type, error: type[ConfigError] = ConfigError
) -> Any:
    """`document[key]` of a YAML mapping, checked to be a `kind` (dict or list)."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise error(f"{origin}: not valid YAML: {exc}") from exc
    wanted = Mapping if kind is dict else kind
    if not isinstance(document, Mapping) or not isinstance(document.get(key), wanted):
        article = "a mapping" if kind is dict else "a list"
        raise error(f"{origin}: expected a mapping with '{key}' ({article})")
    return document[key]


def line_of(text: str, path: Sequence[str | int]) -> int:
    """The 1-based line of the YAML node at `path` (mapping keys and list indexes), or of the
    deepest node on the way that exists; 1 when the text is not YAML."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return 1
    if node is None:
        return 1
    line = node.start_mark.line + 1
    for part in path:
        child = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    line = key.start_mark.line + 1
                    child = value
                    break
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(node.value)
        ):
            child = node.value[part]
            line = child.start_mark.line + 1
        if child is None:
            return line
        node = child
    return line
