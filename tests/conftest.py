"""Shared fixtures: a fresh runtime on a temporary SQLite file, a virtual clock, shared data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from arf.core.clock import ManualClock
from arf.core.ids import SequentialIds
from arf.runtime.container import Runtime, build_runtime
from arf.runtime.settings import Settings
from arf.sim.platform import SimPlatform, default_state

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"the shared test data must be checked out beside the repo at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def checkov() -> list[str]:
    """The Checkov command (`make test` installs it in .venv/checkov and sets ARF_CHECKOV)."""
    command = os.environ.get("ARF_CHECKOV") or str(REPO / ".venv" / "checkov" / "bin" / "checkov")
    if not Path(command).exists():
        pytest.fail(f"Checkov is not installed at {command}: run `make test`, which installs it")
    return [command]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


def make_runtime(home: Path, clock: ManualClock, **overrides: object) -> Runtime:
    settings = Settings.model_validate({"home": home, "clock": "sim", **overrides})
    platform = SimPlatform(default_state(7, clock.now().timestamp()), clock)
    return build_runtime(settings, clock=clock, platform=platform, ids=SequentialIds())


@pytest.fixture
def runtime(tmp_path: Path, clock: ManualClock) -> Iterator[Runtime]:
    rt = make_runtime(tmp_path / "home", clock)
    yield rt
    rt.store.close()
