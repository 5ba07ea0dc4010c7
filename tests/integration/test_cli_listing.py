"""The listing a user reads at an ordinary terminal: ids never cut at 80 columns, JSON and
filters for scripts, and the version."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.integration.test_cli import arf, assert_one_line_error


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("listing")
    result = arf(home, "demo")
    assert result.returncode == 0, result.stderr
    return home


def _ids(text: str) -> set[str]:
    return set(re.findall(r"INC-[0-9A-F]{8}", text))


@pytest.mark.parametrize("columns", ["80", "120"])
def test_every_incident_id_is_shown_whole_at_ordinary_widths(
    home: Path, columns: str, tmp_path: Path
) -> None:
    listed = json.loads(arf(home, "incidents", "--json").stdout)
    table = arf(home, "incidents", env={"COLUMNS": columns})
    assert table.returncode == 0, table.stderr
    assert _ids(table.stdout) == {i["incident_id"] for i in listed} and len(listed) == 9
    lines = table.stdout.splitlines()
    assert all(len(line) <= int(columns) for line in lines)
    rows = [line for line in lines if _ids(line)]
    assert len(rows) == 9
    assert all(re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", row) for row in rows)  # opened


def test_filters_and_json(home: Path) -> None:
    pending = json.loads(arf(home, "incidents", "--json", "--state", "awaiting_human").stdout)
    assert [i["services"][0] for i in pending] == ["orders-db"]
    both = json.loads(
        arf(home, "incidents", "--json", "--state", "resolved", "--state", "closed").stdout
    )
    assert {i["state"] for i in both} == {"resolved", "closed"} and len(both) == 8
    checkout = json.loads(arf(home, "incidents", "--json", "--service", "checkout").stdout)
    assert checkout and all("checkout" in i["services"] for i in checkout)
    assert_one_line_error(arf(home, "incidents", "--state", "sleeping"), "unknown state 'sleeping'")


def test_version(tmp_path: Path) -> None:
    result = arf(tmp_path, "--version")
    assert result.returncode == 0 and re.fullmatch(r"arf \d+\.\d+\.\d+\S*\n", result.stdout)
    assert not (tmp_path / "arf.db").exists()
