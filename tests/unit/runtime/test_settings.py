"""The settings model: environment over file over default, every ARF_* variable a setting,
and a reference generated from the model that docs/configuration.md must equal."""

from __future__ import annotations

from pathlib import Path

import pytest

from arf.core.errors import ConfigError
from arf.runtime.settings import (
    OTHER_VARIABLES,
    Settings,
    load,
    reference_markdown,
    shown,
    unknown_variables,
    variable,
)

REPO = Path(__file__).resolve().parents[3]


def test_the_environment_wins_over_the_file_and_the_file_over_the_default(tmp_path: Path) -> None:
    (tmp_path / "arf.yaml").write_text("seed: 3\nclock: sim\nnotify: [mailto://a, mailto://b]\n")
    loaded = load({"ARF_SEED": "11", "ARF_LLM_SEND_LOGS": "yes"}, home=tmp_path)
    settings = loaded.settings
    assert (settings.seed, settings.clock, settings.llm_send_logs) == (11, "sim", True)
    assert settings.notify == ("mailto://a", "mailto://b")
    assert settings.verify_samples == 3
    assert loaded.sources["seed"] == "environment"
    assert loaded.sources["clock"] == "file"
    assert loaded.sources["verify_samples"] == "default"
    assert loaded.sources["home"] == "argument"


def test_lists_are_comma_separated_in_the_environment(tmp_path: Path) -> None:
    env = {
        "ARF_NOTIFY": "slack+https://h/x, mailto://ops@example.org",
        "ARF_LLM_ENVIRONMENTS": "staging",
    }
    settings = load(env, home=tmp_path).settings
    assert settings.notify == ("slack+https://h/x", "mailto://ops@example.org")
    assert settings.llm_environments == ("staging",)


def test_every_setting_has_a_variable_and_a_description() -> None:
    for name, info in Settings.model_fields.items():
        assert info.description, f"{name} has no description"
        assert variable(name) == "ARF_" + name.upper()


def test_a_misspelt_variable_is_an_error_that_names_the_setting_meant(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"ARF_LLM_BASEURL is not an ARF setting \(did you mean ARF_LLM_BASE_URL\?\)",
    ):
        load({"ARF_LLM_BASEURL": "http://x"}, home=tmp_path)
    assert unknown_variables({"arf_llm_baseurl": "x"}) == [
        "arf_llm_baseurl is not an ARF setting (did you mean ARF_LLM_BASE_URL?)"
    ]
    assert unknown_variables(
        {"ARF_WHATEVER": "1", "PATH": "/bin", **dict.fromkeys(OTHER_VARIABLES, "x")}
    ) == ["ARF_WHATEVER is not an ARF setting"]


def test_a_bad_value_names_its_variable_or_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ARF_VERIFY_SAMPLES"):
        load({"ARF_VERIFY_SAMPLES": "lots"}, home=tmp_path)
    with pytest.raises(ConfigError, match="ARF_CLOCK"):
        load({"ARF_CLOCK": "mars"}, home=tmp_path)
    (tmp_path / "arf.yaml").write_text("verify_sample: 3\n")
    with pytest.raises(ConfigError, match=r"arf\.yaml.*verify_sample"):
        load({}, home=tmp_path)


def test_secrets_are_shown_only_as_set_or_not() -> None:
    assert shown("notify", ("slack+https://hooks.slack.com/services/T0/B0/s3cret",)) == "(set)"
    assert "s3cret" not in repr(Settings(webhook_token="s3cret-value"))
    assert shown("webhook_token", "s3cret-value") == "(set)"
    assert shown("webhook_token", None) == "(not set)"
    assert "s3cret" not in reference_markdown()
    assert shown("seed", 7) == "7"


def test_the_configuration_reference_in_docs_is_generated_from_the_model() -> None:
    written = (REPO / "docs" / "configuration.md").read_text("utf-8")
    assert written == reference_markdown(), "run: arf config reference > docs/configuration.md"
    for name in Settings.model_fields:
        if name != "home":
            assert f"`{variable(name)}`" in written
