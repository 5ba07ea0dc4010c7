"""The lock files that `make demo`, `make lab` and `make test` install from agree with
pyproject.toml: every declared dependency is pinned, at a version its bounds allow."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.conftest import REPO

PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["project"]
LOCKS = {"base": (), "local": ("local",), "lab": ("lab",), "dev": ("dev",)}


def _declared(extras: tuple[str, ...]) -> list[Requirement]:
    """The project's requirements with these extras, self-references expanded."""
    found = [Requirement(text) for text in PROJECT["dependencies"]]
    pending, seen = list(extras), set()
    while pending:
        extra = pending.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for text in PROJECT["optional-dependencies"][extra]:
            requirement = Requirement(text)
            if canonicalize_name(requirement.name) == canonicalize_name(PROJECT["name"]):
                pending.extend(requirement.extras)
            else:
                found.append(requirement)
    return found


def _pins(lock: Path) -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in lock.read_text("utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"{lock.name}: {line!r} is not pinned with =="
            pins[canonicalize_name(name)] = Version(version)
    return pins


@pytest.mark.parametrize("name", sorted(LOCKS))
def test_every_declared_dependency_is_pinned_within_its_bounds(name: str) -> None:
    pins = _pins(REPO / "requirements" / f"{name}.lock")
    for requirement in _declared(LOCKS[name]):
        pinned = pins.get(canonicalize_name(requirement.name))
        assert pinned is not None, f"{name}.lock does not pin {requirement.name}"
        assert requirement.specifier.contains(pinned, prereleases=True), (
            f"{name}.lock pins {requirement.name}=={pinned}, outside {requirement.specifier}"
        )


def test_the_demo_does_not_install_the_bench_charts() -> None:
    assert "matplotlib" not in _pins(REPO / "requirements" / "base.lock")
