"""Settings: environment variables (ARF_*) over `$ARF_HOME/arf.yaml` over defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from arf.core.errors import ConfigError
from arf.core.yaml_files import validation_problem

SETTINGS_FILE = "arf.yaml"


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    home: Path = Path(".arf")
    database: Path | None = None  # default: <home>/arf.db
    policy: Path | None = None  # default: the packaged default pack
    service_catalog: Path | None = None  # default: the simulated platform's catalog
    identities: Path | None = None  # default: <home>/identities.yaml
    credentials: Path | None = None  # default: <home>/credentials
    ledger_origin: str = "arf.local/ledger"
    ledger_key: Path | None = None  # default: <home>/keys/ledger.key (mode 0600)
    keyring: Path | None = None  # default: <home>/keys/ledger.keyring (public)
    # an external signer instead of the key file: a command line answering `public-key` and
    # `sign` (docs/architecture.md, "External signer"); its key must be in the keyring
    ledger_signer: str | None = None
    # where checkpoints are published: a directory (default <home>/witness; put it elsewhere in
    # production), git:PATH (a git repository, pushed to its remotes) or an http(s):// URL
    witness: str | None = None
    witness_token: str | None = None  # bearer token for an HTTP witness
    # raw signals no active incident needs are expired after this many days (`arf audit
    # retention`), each expiry a ledger entry with their digests; None keeps them forever
    retention_days: float | None = Field(default=None, gt=0)
    # reasoning: "evidence" alone, the model alone ("llm") or both merged; default: merged when
    # a model is configured, else evidence
    reasoner: Literal["evidence", "llm", "merged"] | None = None
    llm: str = ""  # "", "local", "local:/path/model.gguf", "openai:MODEL", "anthropic:MODEL"
    llm_base_url: str | None = None  # OpenAI-compatible endpoint (else OPENAI_BASE_URL)
    llm_send_logs: bool | None = None  # default: yes for local models, no for hosted ones
    llm_environments: tuple[str, ...] | None = None  # environments whose incidents may be sent
    llm_max_prompt_tokens: int = Field(default=7_000, ge=500)
    llm_max_output_tokens: int = Field(default=2_048, ge=64)
    llm_max_total_tokens: int = Field(default=32_000, ge=1_000)
    llm_max_cost_usd: float = Field(default=0.50, ge=0)
    llm_usd_per_1k_in: float = Field(default=0.0, ge=0)
    llm_usd_per_1k_out: float = Field(default=0.0, ge=0)
    llm_wall_time_s: float = Field(default=180.0, gt=0)
    diagnosis_cache: bool = True  # reuse the answer for an identical snapshot
    # notification channels: slack+https://..., webhook+https://..., or Apprise URLs (mailto://)
    notify: tuple[str, ...] = ()
    notify_webhook_secret: str | None = None  # HMAC key for webhook+ channels
    public_url: str = "http://127.0.0.1:8080"  # where people open incidents (links)
    # where remediation acts and what verification samples: the simulated platform, or a
    # Kubernetes cluster (actions through the kubernetes client) observed by Prometheus
    # or services on hosts (a deploy API, HTTP actions, Ansible playbooks, a Git IaC repository
    # re-scanned by Checkov) bound by a platform file
    platform: Literal["sim", "kubernetes", "hosts"] = "sim"
    platform_file: Path | None = None  # default: <home>/platform.yaml (ARF_PLATFORM=hosts)
    kubeconfig: Path | None = None  # default: in-cluster config, else ~/.kube/config
    kube_namespace: str = "default"
    kube_version: str = "1.31.0"  # the schema patches are validated against
    prometheus_url: str = "http://127.0.0.1:9090"
    promql_queries: Path | None = None  # YAML {error_rate, latency_p99_ms, up: PromQL}
    clock: Literal["system", "sim"] = "system"
    seed: int = 7
    group_wait_s: float = Field(default=60.0, ge=0)
    # how long an executing remediation holds its targets; renewed before every step
    lease_ttl_s: float = Field(default=3600.0, gt=0)
    verify_initial_delay_s: float = Field(default=30.0, ge=0)
    verify_interval_s: float = Field(default=30.0, ge=0)
    verify_samples: int = Field(default=3, ge=1, le=100)

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


_ENV_FIELDS = {
    "ARF_DATABASE": "database",
    "ARF_POLICY": "policy",
    "ARF_SERVICE_CATALOG": "service_catalog",
    "ARF_IDENTITIES": "identities",
    "ARF_CREDENTIALS": "credentials",
    "ARF_REASONER": "reasoner",
    "ARF_LLM": "llm",
    "ARF_LLM_BASE_URL": "llm_base_url",
    "ARF_LLM_SEND_LOGS": "llm_send_logs",
    "ARF_LLM_MAX_COST_USD": "llm_max_cost_usd",
    "ARF_LLM_WALL_TIME_S": "llm_wall_time_s",
    "ARF_DIAGNOSIS_CACHE": "diagnosis_cache",
    "ARF_NOTIFY_WEBHOOK_SECRET": "notify_webhook_secret",
    "ARF_PUBLIC_URL": "public_url",
    "ARF_CLOCK": "clock",
    "ARF_SEED": "seed",
    "ARF_LEDGER_KEY": "ledger_key",
    "ARF_KEYRING": "keyring",
    "ARF_LEDGER_SIGNER": "ledger_signer",
    "ARF_WITNESS": "witness",
    "ARF_WITNESS_TOKEN": "witness_token",
    "ARF_RETENTION_DAYS": "retention_days",
    "ARF_LEDGER_ORIGIN": "ledger_origin",
    "ARF_LEASE_TTL_S": "lease_ttl_s",
    "ARF_PLATFORM": "platform",
    "ARF_PLATFORM_FILE": "platform_file",
    "ARF_KUBECONFIG": "kubeconfig",
    "ARF_KUBE_NAMESPACE": "kube_namespace",
    "ARF_KUBE_VERSION": "kube_version",
    "ARF_PROMETHEUS_URL": "prometheus_url",
    "ARF_PROMQL_QUERIES": "promql_queries",
}


def load_settings(environ: Mapping[str, str] | None = None, home: Path | None = None) -> Settings:
    env = os.environ if environ is None else environ
    base = home or Path(env.get("ARF_HOME", ".arf"))
    values: dict[str, object] = {}
    file = base / SETTINGS_FILE
    if file.exists():
        try:
            loaded = yaml.safe_load(file.read_text("utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read {file}: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"{file}: expected a mapping")
        values.update(loaded)
    for variable, name in _ENV_FIELDS.items():
        if env.get(variable):
            values[name] = env[variable]
    if env.get("ARF_NOTIFY"):
        values["notify"] = tuple(u.strip() for u in env["ARF_NOTIFY"].split(",") if u.strip())
    values["home"] = base
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(f"setting {validation_problem(exc)}") from exc


def write_settings_file(home: Path, values: Mapping[str, object]) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / SETTINGS_FILE).write_text(yaml.safe_dump(dict(values), sort_keys=True), "utf-8")
