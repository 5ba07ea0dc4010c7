"""`arf bench`: every selected scenario, on every seed, for every system; then the report.

Each (system, seed) pair gets a fresh generated platform and its own virtual clock; each ARF
run gets a fresh home (database, ledger) in a temporary folder, with the embedded defaults.
Model answers are cached by snapshot hash in `cache` (when given), so a repeated run with a
model reasoner asks the model only about snapshots it has not seen.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from arf.bench.episode import START, RunRecord, System, run_episode
from arf.bench.human import HumanModel, load_human_model
from arf.bench.scenarios import ScenarioSpec, packaged_scenarios
from arf.bench.systems import ArfSystem, ManualSystem, RunbookSystem
from arf.core.clock import ManualClock
from arf.core.errors import InputError
from arf.core.ids import SequentialIds
from arf.runtime.container import Runtime, build_runtime
from arf.runtime.settings import Settings
from arf.sim.platform import SimPlatform
from arf.sim.topology import GeneratedPlatform, generate_platform

Progress = Callable[[str], None]
Maker = Callable[[SimPlatform, ManualClock, Path], System]
REASONERS = ("evidence", "local", "merged")
MODEL_PREFIXES = ("openai:", "anthropic:", "local:")


@dataclass(frozen=True)
class BenchConfig:
    seeds: tuple[int, ...] = (1, 2, 3)
    scenarios: tuple[str, ...] = ()  # empty: every packaged scenario
    reasoners: tuple[str, ...] = ("evidence",)
    llm: str = "local"  # the model for the "local" and "merged" reasoners
    sensitivity: tuple[float, ...] = (0.5, 2.0)  # human-model time factors
    cache: Path | None = None
    human_model: Path | None = None


@dataclass
class BenchResult:
    config: BenchConfig
    human: HumanModel
    specs: list[ScenarioSpec]
    services: int
    records: list[RunRecord] = field(default_factory=list)
    sensitivity: dict[float, list[RunRecord]] = field(default_factory=dict)


def select(specs: Sequence[ScenarioSpec], names: Sequence[str]) -> list[ScenarioSpec]:
    if not names:
        return list(specs)
    by_name = {s.name: s for s in specs}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise InputError(
            f"unknown scenario {', '.join(unknown)}; known: {', '.join(sorted(by_name))}"
        )
    return [by_name[n] for n in names]


def _world(seed: int) -> tuple[GeneratedPlatform, SimPlatform, ManualClock]:
    clock = ManualClock(START)
    generated = generate_platform(seed, clock.now().timestamp())
    return generated, SimPlatform(generated.state.model_copy(deep=True), clock), clock


def run_episodes(
    make: Maker,
    specs: Sequence[ScenarioSpec],
    seed: int,
    human: HumanModel,
    progress: Progress,
    label: str,
    home: Path,
) -> list[RunRecord]:
    generated, platform, clock = _world(seed)
    system = make(platform, clock, home)
    records = []
    for index, spec in enumerate(specs):
        record = run_episode(system, spec, generated, platform, clock, seed, index, human)
        records.append(record)
        outcome = "resolved" if record.resolved_s is not None else "not resolved"
        progress(f"  {label} seed {seed} [{index + 1}/{len(specs)}] {spec.name}: {outcome}")
    return records


def reasoning_for(reasoner: str, llm: str) -> tuple[str, str]:
    """(settings.reasoner, settings.llm) for a `--reasoners` entry: `evidence`, `local` (the
    model given by --llm alone), `merged` (that model with the evidence engine), or any model
    spec such as `openai:MODEL` or `anthropic:MODEL`, merged with the evidence engine as ARF
    runs it in production."""
    if reasoner == "evidence":
        return "evidence", ""
    if reasoner == "local":
        return "llm", llm
    if reasoner == "merged":
        return "merged", llm
    return "merged", reasoner


def arf_runtime(
    platform: SimPlatform, clock: ManualClock, home: Path, mode: str = "evidence", model: str = ""
) -> Runtime:
    """ARF on the embedded defaults, on a generated platform, with its service catalog."""
    generated = generate_platform(platform.state.seed, START.timestamp())
    catalog = home / "services.yaml"
    catalog.write_text(
        yaml.safe_dump({"services": [s.model_dump(mode="json") for s in generated.catalog]}),
        "utf-8",
    )
    settings = Settings.model_validate(
        {
            "home": home,
            "clock": "sim",
            "seed": platform.state.seed,
            "service_catalog": catalog,
            "reasoner": mode,
            "llm": model,
        }
    )
    return build_runtime(settings, clock=clock, platform=platform, ids=SequentialIds())


def arf_maker(reasoner: str, config: BenchConfig) -> Maker:
    mode, model = reasoning_for(reasoner, config.llm)

    def make(platform: SimPlatform, clock: ManualClock, home: Path) -> System:
        runtime = arf_runtime(platform, clock, home, mode, model)
        if config.cache is not None:
            _share_cache(home, config.cache)
        return ArfSystem(f"ARF ({reasoner})", runtime)

    return make


def _share_cache(home: Path, cache: Path) -> None:
    """Point the run's diagnosis cache at the shared one (answers survive the run)."""
    cache.mkdir(parents=True, exist_ok=True)
    (home / "cache").mkdir(parents=True, exist_ok=True)
    link = home / "cache" / "diagnoses"
    if not link.exists():
        link.symlink_to(cache.resolve(), target_is_directory=True)


def run_bench(config: BenchConfig, progress: Progress) -> BenchResult:
    for reasoner in config.reasoners:
        if reasoner not in REASONERS and not reasoner.startswith(MODEL_PREFIXES):
            raise InputError(
                f"unknown reasoner {reasoner!r}; use {', '.join(REASONERS)} or a model such as"
                " openai:MODEL or anthropic:MODEL"
            )
    if not config.seeds:
        raise InputError("give at least one seed")
    human = load_human_model(config.human_model)
    specs = select(packaged_scenarios(), config.scenarios)
    result = BenchResult(
        config,
        human,
        specs,
        services=len(generate_platform(config.seeds[0], 0.0).state.services),
    )
    baselines: list[tuple[str, Maker]] = [
        ("manual", lambda p, c, h: ManualSystem()),
        ("runbooks", lambda p, c, h: RunbookSystem(human.runbook_wait_min)),
    ]
    arf = [(f"ARF/{r}", arf_maker(r, config)) for r in config.reasoners]
    for seed in config.seeds:
        for label, make in [*baselines, *arf]:
            progress(f"{label}, seed {seed}: {len(specs)} scenarios")
            with tempfile.TemporaryDirectory(prefix="arf-bench-") as tmp:
                result.records += run_episodes(make, specs, seed, human, progress, label, Path(tmp))
    for factor in config.sensitivity:
        scaled = human.scaled(factor)
        result.sensitivity[factor] = []
        for seed in config.seeds:
            for label, make in [baselines[0], ("ARF/evidence", arf_maker("evidence", config))]:
                progress(f"sensitivity x{factor:g}: {label}, seed {seed}")
                with tempfile.TemporaryDirectory(prefix="arf-bench-") as tmp:
                    result.sensitivity[factor] += run_episodes(
                        make, specs, seed, scaled, lambda _: None, label, Path(tmp)
                    )
    return result
