"""`arf config` and the settings as a user meets them: a misspelt variable, a home that does
not exist, secrets that are never printed, and the reference the docs carry."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import REPO
from tests.integration.test_cli import arf, assert_one_line_error


def test_config_show_says_where_each_value_came_from_and_never_prints_a_secret(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "arf.yaml").write_text("seed: 3\n")
    env = {"ARF_WEBHOOK_TOKEN": "s3cret-webhook-token", "ARF_VERIFY_SAMPLES": "5"}
    result = arf(home, "config", "show", "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert "s3cret-webhook-token" not in result.stdout
    shown = json.loads(result.stdout)
    assert shown["webhook_token"] == {
        "variable": "ARF_WEBHOOK_TOKEN",
        "value": "(set)",
        "source": "environment",
    }
    assert shown["verify_samples"]["value"] == "5"
    assert shown["seed"] == {"variable": "ARF_SEED", "value": "3", "source": "file"}
    assert shown["platform"]["source"] == "default"
    table = arf(home, "config", "show", env=env)
    assert table.returncode == 0 and "ARF_WEBHOOK_TOKEN" in table.stdout
    assert "s3cret-webhook-token" not in table.stdout


def test_a_misspelt_variable_is_a_one_line_error_naming_the_setting_meant(
    tmp_path: Path,
) -> None:
    result = arf(tmp_path, "incidents", env={"ARF_LLM_BASEURL": "http://127.0.0.1:1"})
    assert_one_line_error(result, "ARF_LLM_BASEURL is not an ARF setting")
    assert "did you mean ARF_LLM_BASE_URL?" in result.stderr
    bad = arf(tmp_path, "config", "show", env={"ARF_VERIFY_SAMPLES": "lots"})
    assert_one_line_error(bad, "ARF_VERIFY_SAMPLES: Input should be a valid integer")


def test_a_command_that_only_reads_refuses_a_home_that_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "typo-home"
    for command in (["incidents"], ["audit", "verify"], ["report", "compliance"]):
        assert_one_line_error(arf(missing, *command), f"no ARF data at {missing / 'arf.db'}")
    assert not missing.exists()  # nothing was created


def test_the_reference_is_the_documented_one(tmp_path: Path) -> None:
    result = arf(tmp_path, "config", "reference")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (REPO / "docs" / "configuration.md").read_text("utf-8")
