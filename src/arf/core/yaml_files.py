"""Reading configuration files, with errors that name the file and the field."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from arf.core.errors import ConfigError


class FieldProblem(ValueError):
    """A problem a document-level validator finds in one field: `path` locates it (within
    the record the validator checks), so the error names that field's line."""

    def __init__(self, path: Sequence[str | int], message: str) -> None:
        super().__init__(message)
        self.path = tuple(path)


def validation_problem(exc: ValidationError) -> str:
    """The first problem pydantic found, as `field.path: message`."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{where}: {first['msg']}"


def located_problem(exc: ValidationError, text: str, where: str, offset: int = 0) -> str:
    """The first problem pydantic found in the YAML `text` of file `where`, as
    `where:LINE: field.path: message` (`offset`: lines of the file before `text`)."""
    first = exc.errors()[0]
    path = tuple(p for p in first["loc"] if isinstance(p, str | int))
    cause = first.get("ctx", {}).get("error")
    if isinstance(cause, FieldProblem):
        path += cause.path
    field = ".".join(str(p) for p in path) or "(document)"
    message = first["msg"].removeprefix("Value error, ")
    return f"{where}:{line_of(text, path) + offset}: {field}: {message}"


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


def read_sources(
    source: Traversable | Path,
    suffixes: tuple[str, ...],
    error: type[ConfigError],
    skip: tuple[str, ...] = (),
) -> list[tuple[str, str]]:
    """(where, text) of a file, or of every file in a directory whose name ends with one of
    `suffixes` (and with none of `skip`), by name. A missing or unreadable one is `error`."""
    if source.is_file():
        files = [source]
    elif source.is_dir():
        files = sorted(
            (
                f
                for f in source.iterdir()
                if f.is_file() and f.name.endswith(suffixes) and not f.name.endswith(skip)
            ),
            key=lambda f: f.name,
        )
    else:
        raise error(f"{source}: no such file or directory")
    found = []
    for file in files:
        try:
            found.append((str(file), file.read_text("utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            raise error(f"{file}: cannot read: {exc}") from exc
    return found
