"""Settings: one pydantic-settings model. Environment variables (`ARF_<NAME>`) over
`$ARF_HOME/arf.yaml` over defaults; every field documented (`arf config reference`).

`ARF_` is reserved for ARF's settings: an `ARF_*` variable that is not one is an error naming
the closest setting, so a misspelt variable never passes silently.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, JsonValue, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from arf.core.errors import ConfigError
from arf.core.yaml_files import validation_problem

SETTINGS_FILE = "arf.yaml"
PREFIX = "ARF_"
HOME_VARIABLE = "ARF_HOME"
# ARF_* variables that are not settings of the control plane, and who reads them.
OTHER_VARIABLES: Mapping[str, str] = {
    HOME_VARIABLE: "the ARF home: database, keys, witness, settings file (default ./.arf)",
    "ARF_LAB_TOKEN": "the lab deploy API's token, set by `arf lab up` for its own processes",
    "ARF_TEST_POSTGRES_URL": "the PostgreSQL URL the test suite uses (tests only)",
}


def _secret() -> dict[str, JsonValue]:
    """Marks a field whose value `arf config show` never prints."""
    return {"secret": True}


def _items(value: object) -> object:
    """A comma-separated list from the environment, or the list from the settings file."""
    if isinstance(value, str):
        return tuple(item.strip() for item in value.split(",") if item.strip())
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="forbid", env_prefix=PREFIX)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Constructing a Settings reads nothing: `load` reads the file and the environment."""
        return (init_settings,)

    home: Path = Field(Path(".arf"), description="The ARF home (ARF_HOME or --home).")
    database: Path | None = Field(None, description="The SQLite file. Default: $ARF_HOME/arf.db.")
    policy: Path | None = Field(
        None, description="The policy pack. Default: the packaged default pack."
    )
    action_packs: Annotated[tuple[Path, ...], NoDecode] = Field(
        (),
        description=(
            "Comma-separated action files or directories loaded beside the packaged actions"
            " and $ARF_HOME/actions.d (docs/actions.md)."
        ),
    )
    knowledge_dirs: Annotated[tuple[Path, ...], NoDecode] = Field(
        (),
        description=(
            "Comma-separated runbook files or directories (Markdown with front matter), tried"
            " before $ARF_HOME/knowledge.d and the packaged runbooks (docs/runbooks.md)."
        ),
    )
    service_catalog: Path | None = Field(
        None, description="The service catalog file. Default: the simulated platform's."
    )
    identities: Path | None = Field(
        None, description="Identities and roles (token hashes). Default: $ARF_HOME/identities.yaml."
    )
    credentials: Path | None = Field(
        None, description="The CLI's token file (mode 600). Default: $ARF_HOME/credentials."
    )
    token: str | None = Field(
        None,
        description="The API token the CLI acts with (else the credentials file).",
        json_schema_extra=_secret(),
        repr=False,
    )
    ledger_origin: str = Field(
        "arf.local/ledger", description="The ledger's name in signed checkpoints."
    )
    ledger_key: Path | None = Field(
        None,
        description="The checkpoint signing key (mode 600). Default: $ARF_HOME/keys/ledger.key.",
    )
    keyring: Path | None = Field(
        None,
        description="The published keyring (public keys). Default: $ARF_HOME/keys/ledger.keyring.",
    )
    ledger_signer: str | None = Field(
        None,
        description=(
            "An external signing command instead of the key file: it answers `public-key` and"
            " `sign`; its key must be in the keyring."
        ),
    )
    witness: str | None = Field(
        None,
        description=(
            "Where checkpoints are published: a directory (default $ARF_HOME/witness; put it"
            " elsewhere in production), git:PATH, or an http(s):// URL."
        ),
    )
    witness_token: str | None = Field(
        None,
        description="Bearer token for an HTTP witness.",
        json_schema_extra=_secret(),
        repr=False,
    )
    retention_days: float | None = Field(
        None,
        gt=0,
        description=(
            "Expire raw signals no active incident needs after this many days (`arf audit"
            " retention`); unset keeps them forever."
        ),
    )
    reasoner: Literal["evidence", "llm", "merged"] | None = Field(
        None,
        description=(
            "evidence, llm or merged. Default: merged when a model is configured, else evidence."
        ),
    )
    llm: str = Field(
        "",
        description=(
            "The language model: local, local:PATH.gguf, openai:MODEL or anthropic:MODEL;"
            " empty for none."
        ),
    )
    llm_base_url: str | None = Field(
        None, description="An OpenAI-compatible endpoint (else OPENAI_BASE_URL)."
    )
    llm_send_logs: bool | None = Field(
        None, description="Send log lines to the model. Default: yes for local, no for hosted."
    )
    llm_environments: Annotated[tuple[str, ...] | None, NoDecode] = Field(
        None, description="Comma-separated environments whose incidents may reach the model."
    )
    llm_max_prompt_tokens: int = Field(7_000, ge=500, description="Prompt budget per call.")
    llm_max_output_tokens: int = Field(2_048, ge=64, description="Output budget per call.")
    llm_max_total_tokens: int = Field(
        32_000, ge=1_000, description="Token budget per incident, across calls."
    )
    llm_max_cost_usd: float = Field(0.50, ge=0, description="Cost budget per incident (USD).")
    llm_usd_per_1k_in: float = Field(0.0, ge=0, description="Price of 1,000 prompt tokens.")
    llm_usd_per_1k_out: float = Field(0.0, ge=0, description="Price of 1,000 output tokens.")
    llm_wall_time_s: float = Field(
        180.0, gt=0, description="Wall-time budget per incident for model calls (seconds)."
    )
    llm_runbook_tokens: int = Field(
        800, ge=0, description="Prompt tokens for the team's runbook passages (0: none)."
    )
    diagnosis_cache: bool = Field(True, description="Reuse the answer for an identical snapshot.")
    notify: Annotated[tuple[str, ...], NoDecode] = Field(
        (),
        description=(
            "Comma-separated notification channels: slack+https://..., webhook+https://...,"
            " or Apprise URLs (mailto://...). Their URLs carry credentials."
        ),
        json_schema_extra=_secret(),
        repr=False,
    )
    notify_webhook_secret: str | None = Field(
        None, description="HMAC key for webhook+ channels.", json_schema_extra=_secret(), repr=False
    )
    public_url: str = Field(
        "http://127.0.0.1:8080", description="Where people open incidents (links in messages)."
    )
    webhook_token: str | None = Field(
        None,
        description="Bearer token webhook senders must present (Alertmanager, CloudEvents, ...).",
        json_schema_extra=_secret(),
        repr=False,
    )
    webhook_basic_auth: str | None = Field(
        None,
        description="Or HTTP basic auth for webhook senders, as user:password.",
        json_schema_extra=_secret(),
        repr=False,
    )
    github_webhook_secret: str | None = Field(
        None,
        description="GitHub's webhook secret (HMAC-SHA256 of the body).",
        json_schema_extra=_secret(),
        repr=False,
    )
    gitlab_webhook_token: str | None = Field(
        None,
        description="GitLab's webhook token (X-Gitlab-Token).",
        json_schema_extra=_secret(),
        repr=False,
    )
    platform: str = Field(
        "sim",
        min_length=1,
        description=(
            "Where remediation acts, a registered platform (`arf platforms`): sim (the"
            " simulated platform), kubernetes (a cluster observed by Prometheus), hosts"
            " (services bound by a platform file), or a plug-in's."
        ),
    )
    platform_file: Path | None = Field(
        None, description="The hosts platform's bindings. Default: $ARF_HOME/platform.yaml."
    )
    kubeconfig: Path | None = Field(
        None, description="Default: in-cluster configuration, else ~/.kube/config."
    )
    kube_namespace: str = Field("default", description="The namespace ARF acts in.")
    kube_version: str = Field("1.31.0", description="The schema patches are validated against.")
    prometheus_url: str = Field(
        "http://127.0.0.1:9090", description="Prometheus, for verification probes."
    )
    promql_queries: Path | None = Field(
        None, description="YAML {error_rate, latency_p99_ms, up: PromQL} for verification."
    )
    checkov: str | None = Field(
        None, description="The Checkov command for re-scans. Default: checkov on PATH."
    )
    clock: Literal["system", "sim"] = Field(
        "system", description="system, or sim (the simulated platform's virtual clock)."
    )
    seed: int = Field(7, description="The simulated platform's seed.")
    group_wait_s: float = Field(
        60.0, ge=0, description="Seconds a new incident waits for correlated signals."
    )
    lease_ttl_s: float = Field(
        3600.0,
        gt=0,
        description="How long an executing remediation holds its targets (renewed per step).",
    )
    verify_initial_delay_s: float = Field(
        30.0, ge=0, description="Seconds before the first verification sample."
    )
    verify_interval_s: float = Field(30.0, ge=0, description="Seconds between samples.")
    verify_samples: int = Field(3, ge=1, le=100, description="Verification samples per probe.")

    split_lists = field_validator(
        "notify", "llm_environments", "action_packs", "knowledge_dirs", mode="before"
    )(_items)

    @property
    def database_path(self) -> Path:
        return self.database or self.home / "arf.db"

    @property
    def identities_path(self) -> Path:
        return self.identities or self.home / "identities.yaml"

    @property
    def credentials_path(self) -> Path:
        return self.credentials or self.home / "credentials"

    @property
    def ledger_key_path(self) -> Path:
        return self.ledger_key or self.home / "keys" / "ledger.key"

    @property
    def keyring_path(self) -> Path:
        return self.keyring or self.home / "keys" / "ledger.keyring"

    @property
    def witness_location(self) -> str:
        return self.witness or str(self.home / "witness")

    @property
    def reasoning(self) -> str:
        return self.reasoner or ("merged" if self.llm else "evidence")

    @property
    def cache_path(self) -> Path:
        return self.home / "cache" / "diagnoses"

    @property
    def platform_file_path(self) -> Path:
        return self.platform_file or self.home / "platform.yaml"

    @property
    def sim_state_path(self) -> Path:
        return self.home / "sim-state.json"

    @property
    def knowledge_dir(self) -> Path:
        """Where a team drops its runbooks (read when the directory exists)."""
        return self.home / "knowledge.d"

    @property
    def actions_dir(self) -> Path:
        """Where a team drops its own action files (loaded when the directory exists)."""
        return self.home / "actions.d"


def variable(name: str) -> str:
    """The environment variable of a setting."""
    return PREFIX + name.upper()


def is_secret(info: FieldInfo) -> bool:
    extra = info.json_schema_extra
    return isinstance(extra, dict) and extra.get("secret") is True


class _Environment(EnvSettingsSource):
    """pydantic-settings' parsing of `ARF_*` values, over a given environment mapping."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._given = {key.lower(): value for key, value in environ.items()}
        super().__init__(Settings, case_sensitive=False, env_prefix=PREFIX, env_ignore_empty=True)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return self._given


@dataclass(frozen=True)
class LoadedSettings:
    settings: Settings
    sources: Mapping[str, str]  # field -> "environment" | "file" | "default" | "argument"


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """One line per `ARF_*` variable that names no setting, with the closest one."""
    known = {variable(name) for name in Settings.model_fields if name != "home"}
    known |= set(OTHER_VARIABLES)
    problems = []
    for name in sorted(environ):
        if name.upper().startswith(PREFIX) and name.upper() not in known:
            close = difflib.get_close_matches(name.upper(), sorted(known), n=1, cutoff=0.75)
            hint = f" (did you mean {close[0]}?)" if close else ""
            problems.append(f"{name} is not an ARF setting{hint}")
    return problems


def _read_file(file: Path) -> dict[str, Any]:
    if not file.exists():
        return {}
    try:
        loaded = yaml.safe_load(file.read_text("utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read {file}: {exc}") from exc
    if not isinstance(loaded, dict):
        raise ConfigError(f"{file}: expected a mapping")
    return {str(key): value for key, value in loaded.items()}


def load(environ: Mapping[str, str] | None = None, home: Path | None = None) -> LoadedSettings:
    """The settings and where each value came from. Unknown `ARF_*` variables, unknown keys
    in the settings file and bad values are one `ConfigError` naming them."""
    env = os.environ if environ is None else environ
    problems = unknown_variables(env)
    if problems:
        raise ConfigError("; ".join(problems) + " — `arf config reference` lists the settings")
    base = home or Path(env.get(HOME_VARIABLE) or ".arf")
    file = base / SETTINGS_FILE
    from_file = _read_file(file)
    if "home" in from_file:
        raise ConfigError(f"{file}: home is not a setting of the file (use ARF_HOME or --home)")
    try:
        from_env = _Environment(env)()
    except Exception as exc:
        raise ConfigError(f"environment: {exc}".splitlines()[0]) from exc
    values = {**from_file, **from_env, "home": base}
    sources = {name: "default" for name in Settings.model_fields}
    sources.update({name: "file" for name in from_file if name in sources})
    sources.update({name: "environment" for name in from_env})
    sources["home"] = (
        "argument" if home else ("environment" if env.get(HOME_VARIABLE) else "default")
    )
    try:
        settings = Settings.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(_problem(exc, sources, file)) from exc
    return LoadedSettings(settings, sources)


def _problem(exc: ValidationError, sources: Mapping[str, str], file: Path) -> str:
    """The first problem, naming the variable or the file key that caused it."""
    error = exc.errors()[0]
    name = str(error["loc"][0]) if error["loc"] else ""
    if error["type"] == "extra_forbidden":
        close = difflib.get_close_matches(name, list(Settings.model_fields), n=1, cutoff=0.75)
        hint = f" (did you mean {close[0]}?)" if close else ""
        return f"{file}: {name!r} is not a setting{hint}"
    if sources.get(name) == "environment":
        return f"{variable(name)}: {error['msg']}"
    if sources.get(name) == "file":
        return f"{file}: {name}: {error['msg']}"
    return f"setting {validation_problem(exc)}"


def load_settings(environ: Mapping[str, str] | None = None, home: Path | None = None) -> Settings:
    return load(environ, home).settings


def require_data(settings: Settings) -> None:
    """For commands that only read: the home's database must exist (nothing is created)."""
    if not settings.database_path.exists():
        raise ConfigError(
            f"no ARF data at {settings.database_path} (check ARF_HOME or --home);"
            " `arf demo` or `arf serve` create a home"
        )


def write_settings_file(home: Path, values: Mapping[str, object]) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / SETTINGS_FILE).write_text(yaml.safe_dump(dict(values), sort_keys=True), "utf-8")


# --------------------------------------------------------------------------- reference


def _type_name(info: FieldInfo) -> str:
    annotation = info.annotation
    text = (
        annotation.__name__
        if isinstance(annotation, type)
        else str(annotation).replace("typing.", "").replace("pathlib.", "")
    )
    bounds = []
    for item in info.metadata:
        for attribute, sign in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            if getattr(item, attribute, None) is not None:
                bounds.append(f"{sign} {getattr(item, attribute)}")
    text += f" ({', '.join(bounds)})" if bounds else ""
    return text.replace("|", "\\|")  # a table cell


def shown(name: str, value: object) -> str:
    """A setting's value as `arf config show` prints it: secrets never, only whether set."""
    info = Settings.model_fields[name]
    if is_secret(info):
        return "(set)" if value else "(not set)"
    if value is None or value == ():
        return "-"
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def reference_markdown() -> str:
    """The settings reference (docs/configuration.md is this text; a test keeps it so)."""
    lines = [
        "# Configuration reference",
        "",
        "Generated by `arf config reference` from the settings model"
        " (`src/arf/runtime/settings.py`); a test keeps this file equal to its output.",
        "",
        "Every setting is an environment variable `ARF_<NAME>` or a key `<name>` in"
        " `$ARF_HOME/arf.yaml`. The environment wins over the file, the file over the default."
        " Lists are comma-separated in the environment and YAML lists in the file. An `ARF_*`"
        " variable that is not listed here is an error naming the closest setting; a key the"
        " file does not know is an error too. `arf config show` prints the values in force and"
        " where each came from (secrets only as set or not set).",
        "",
        "| variable | type | default | what it is |",
        "| --- | --- | --- | --- |",
    ]
    for name, info in Settings.model_fields.items():
        if name == "home":
            continue
        default = shown(name, info.default) if not is_secret(info) else "-"
        secret = " Secret: never printed." if is_secret(info) else ""
        lines.append(
            f"| `{variable(name)}` | {_type_name(info)} | {default} |"
            f" {info.description or ''}{secret} |".replace("`-`", "-")
        )
    lines += ["", "Other `ARF_*` variables:", "", "| variable | what it is |", "| --- | --- |"]
    lines += [f"| `{name}` | {text} |" for name, text in OTHER_VARIABLES.items()]
    return "\n".join(lines) + "\n"
