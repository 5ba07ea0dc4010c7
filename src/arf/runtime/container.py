"""The composition root: builds every registry and adapter from settings. No import-time state."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import resources

from arf.core.clock import Clock, SystemClock
from arf.core.ids import IdGenerator, RandomIds
from arf.core.ports import IncidentHistory, Reasoner
from arf.core.records import ActionSpec
from arf.execution.action_packs import ActionCatalog
from arf.execution.executor import Executor
from arf.execution.transports import Transports, default_transports
from arf.execution.verification import VerificationSettings, Verifier
from arf.governance.policy import PolicyBundle, load_policy, load_policy_text
from arf.governance.service_catalog import ServiceCatalog
from arf.oversight.identities import IdentityDirectory
from arf.reasoning.tokens import ApproxTokenCounter
from arf.runtime.history import RunHistory, StoreHistory
from arf.runtime.platforms import PlatformAdapters, simulated_clock, simulated_world
from arf.runtime.plugins import chosen_platform, load_catalog, load_formats, load_platforms
from arf.runtime.reasoners import build_reasoner
from arf.runtime.settings import Settings
from arf.signals.context import ContextRules
from arf.signals.correlate import CorrelationRules
from arf.signals.formats import FormatTable
from arf.signals.redaction import Redactor
from arf.sim.platform import SimPlatform
from arf.store.sql import SqlStore


def packaged_policy() -> PolicyBundle:
    text = resources.files("arf.governance").joinpath("default_policy.yaml").read_text("utf-8")
    return load_policy_text(text, "arf/governance/default_policy.yaml")


def packaged_service_catalog() -> ServiceCatalog:
    text = resources.files("arf.sim").joinpath("data/services.yaml").read_text("utf-8")
    return ServiceCatalog.from_yaml(text, "arf/sim/data/services.yaml")


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    ids: IdGenerator
    store: SqlStore
    services: ServiceCatalog
    policy: PolicyBundle
    actions: ActionCatalog
    reasoner: Reasoner
    executor: Executor
    verifier: Verifier
    platform: SimPlatform
    tokens: ApproxTokenCounter = field(default_factory=ApproxTokenCounter)
    correlation: CorrelationRules = field(default_factory=CorrelationRules)
    context_rules: ContextRules = field(default_factory=ContextRules)
    redactor: Redactor = field(default_factory=Redactor)
    formats: FormatTable = field(default_factory=load_formats)  # registered signal formats
    adapters: PlatformAdapters | None = None  # a real platform's clients (closed on close)
    transports: Transports | None = None  # the executor's HTTP client (closed on close)
    run_history: RunHistory = field(init=False)

    def __post_init__(self) -> None:
        self.run_history = RunHistory(self.store, timedelta(days=30))

    @property
    def history(self) -> IncidentHistory:
        return StoreHistory(self.store)

    @property
    def specs(self) -> dict[str, ActionSpec]:
        return {spec.name: spec for spec in self.actions.specs()}

    def identities(self) -> IdentityDirectory:
        return IdentityDirectory.from_file(self.settings.identities_path)

    def save_platform(self) -> None:
        self.platform.save(self.settings.sim_state_path)

    def close(self) -> None:
        if self.adapters is not None:
            self.adapters.close()
        if self.transports is not None:
            self.transports.close()
        self.store.close()


def build_runtime(
    settings: Settings,
    *,
    clock: Clock | None = None,
    platform: SimPlatform | None = None,
    ids: IdGenerator | None = None,
    store: SqlStore | None = None,
    reasoner: Reasoner | None = None,
) -> Runtime:
    if clock is None:
        clock = simulated_clock(settings) if settings.clock == "sim" else SystemClock()
    policy = load_policy(settings.policy) if settings.policy else packaged_policy()
    services = (
        ServiceCatalog.from_file(settings.service_catalog)
        if settings.service_catalog
        else packaged_service_catalog()
    )
    # plug-ins first, before any client exists: a broken one leaks nothing
    catalog = load_catalog(settings)
    formats = load_formats()
    chosen = chosen_platform(settings, load_platforms())
    sim = platform if platform is not None else simulated_world(settings, clock)
    adapters = chosen.connect(settings, clock, sim)
    driver = adapters.driver
    actions = catalog.for_platform(chosen.name, driver.operations())
    transports = default_transports(os.environ)
    store = store if store is not None else SqlStore.sqlite(settings.database_path)
    tokens = ApproxTokenCounter()
    redactor = Redactor()
    return Runtime(
        settings=settings,
        clock=clock,
        ids=ids or RandomIds(),
        store=store,
        services=services,
        policy=policy,
        actions=actions,
        reasoner=reasoner or build_reasoner(settings, clock, tokens, redactor),
        executor=Executor(actions, driver, transports),
        verifier=Verifier(
            adapters.telemetry,
            clock,
            VerificationSettings(
                initial_delay_s=settings.verify_initial_delay_s,
                interval_s=settings.verify_interval_s,
                samples=settings.verify_samples,
            ),
        ),
        platform=sim,
        formats=formats,
        adapters=adapters,
        transports=transports,
        tokens=tokens,
        redactor=redactor,
    )
