"""Plug-in registries: what other packages add to ARF, found through entry points.

Group `arf.actions`: each entry point names a callable that returns an action pack (a
directory or file of action manifests, as a `Path` or an `importlib.resources` traversable),
a list of them, or `ActionManifest` records built in code. ARF's own actions are registered
this way (`pyproject.toml`), exactly as a third party's would be. A team's own files need no
package: `$ARF_HOME/actions.d/` and the `action_packs` setting.

A plug-in that fails to load stops ARF with an error naming it: running without an action a
team relies on is worse than not starting.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Protocol, TypeVar

from arf.core.action_pack import ActionManifest
from arf.core.errors import ConfigError, InputError
from arf.execution.action_packs import ActionCatalog, ActionDefinition, PackError, load_pack
from arf.execution.action_tests import ActionTestReport, run_cases
from arf.runtime.model_backends import ModelBackend
from arf.runtime.platforms import Platform
from arf.runtime.settings import Settings
from arf.signals.formats import FormatTable, SignalFormat

ACTIONS_GROUP = "arf.actions"
FORMATS_GROUP = "arf.signal_formats"
PLATFORMS_GROUP = "arf.platforms"
BACKENDS_GROUP = "arf.model_backends"


@dataclass(frozen=True)
class PackSource:
    """Where a set of actions came from, for `arf actions list` and for errors."""

    origin: str  # "plug-in NAME", a path from the setting, or $ARF_HOME/actions.d
    definitions: tuple[ActionDefinition, ...]
    locations: tuple[Traversable | Path, ...] = ()  # the files or folders, for their cases


def _from_plugin(
    entry: metadata.EntryPoint,
) -> tuple[list[ActionDefinition], list[Traversable | Path]]:
    label = f"plug-in {entry.name!r} ({entry.value})"
    provided = _provided(entry, ACTIONS_GROUP, PackError)
    items: Iterable[object] = provided if isinstance(provided, list | tuple) else (provided,)
    definitions: list[ActionDefinition] = []
    locations: list[Traversable | Path] = []
    for item in items:
        if isinstance(item, ActionManifest):
            definitions.append(ActionDefinition(item, label))
        elif isinstance(item, Path | Traversable):
            definitions.extend(load_pack(item))
            locations.append(item)
        else:
            raise PackError(
                f"{ACTIONS_GROUP} {label} returned {type(item).__name__}: expected a pack"
                " path or an ActionManifest"
            )
    return definitions, locations


def _provided(
    entry: metadata.EntryPoint, group: str, error: type[ConfigError] = ConfigError
) -> object:
    """What an entry point's zero-argument callable returns; any failure is that plug-in's."""
    try:
        provider = entry.load()
        return provider()
    except Exception as exc:  # a third party's code: any failure is that plug-in's fault
        raise error(
            f"{group} plug-in {entry.name!r} ({entry.value}) failed to load: {exc}"
        ) from exc


def _entries(
    group: str, plugins: Sequence[metadata.EntryPoint] | None
) -> list[metadata.EntryPoint]:
    found = plugins if plugins is not None else metadata.entry_points(group=group)
    return sorted(found, key=lambda e: e.name)


class _Named(Protocol):
    @property
    def name(self) -> str: ...


_T = TypeVar("_T", bound=_Named)


def _named_registry(
    group: str, kind: type[_T], plugins: Sequence[metadata.EntryPoint] | None
) -> dict[str, _T]:
    """Each entry point's object, checked to be a `kind` named as its entry point."""
    table: dict[str, _T] = {}
    for entry in _entries(group, plugins):
        made = _provided(entry, group)
        if not isinstance(made, kind) or made.name != entry.name:
            raise ConfigError(
                f"{group} plug-in {entry.name!r} ({entry.value}) must return a"
                f" {kind.__name__} named {entry.name!r}"
            )
        table[made.name] = made
    return table


def load_formats(plugins: Sequence[metadata.EntryPoint] | None = None) -> FormatTable:
    """Every registered signal format (group `arf.signal_formats`)."""
    formats = list(_named_registry(FORMATS_GROUP, SignalFormat, plugins).values())
    try:
        return FormatTable(formats)
    except InputError as exc:
        raise ConfigError(str(exc)) from exc


def action_sources(
    settings: Settings, plugins: Sequence[metadata.EntryPoint] | None = None
) -> list[PackSource]:
    """Every pack in load order: plug-ins (by name), the setting's paths, then actions.d."""
    entries = _entries(ACTIONS_GROUP, plugins)
    sources = []
    for entry in entries:
        definitions, locations = _from_plugin(entry)
        sources.append(PackSource(f"plug-in {entry.name}", tuple(definitions), tuple(locations)))
    own = [settings.actions_dir] if settings.actions_dir.is_dir() else []
    for path in [*settings.action_packs, *own]:
        sources.append(PackSource(str(path), tuple(load_pack(path)), (path,)))
    return sources


def load_catalog(
    settings: Settings, plugins: Sequence[metadata.EntryPoint] | None = None
) -> ActionCatalog:
    """The catalog of every registered action; a broken pack or a name declared twice is a
    PackError (ARF refuses to start rather than run without it)."""
    return catalog_of(action_sources(settings, plugins))


def catalog_of(sources: Sequence[PackSource]) -> ActionCatalog:
    """One catalog of these packs: a name declared twice, or a binding for a platform that
    is not registered, is a PackError."""
    catalog = ActionCatalog([d for source in sources for d in source.definitions])
    if any(d.manifest.bindings for d in catalog.definitions()):
        known = load_platforms()
        for definition in catalog.definitions():
            definition.check_platforms(known)
    return catalog


def validate_paths(settings: Settings, paths: Sequence[Path]) -> ActionCatalog:
    """These files or directories checked on their own and beside every registered pack
    (`arf actions validate PATH...`): a name a registered action already has is an error
    here, not first when ARF starts. A file that is itself registered counts once."""
    given = ActionCatalog([d for path in paths for d in load_pack(path)])
    files = {str(Path(d.source).resolve()) for d in given.definitions()}
    registered = [
        d
        for d in catalog_of(action_sources(settings)).definitions()
        if str(Path(d.source).resolve()) not in files
    ]
    ActionCatalog([*registered, *given.definitions()])
    known = load_platforms()
    for definition in given.definitions():
        definition.check_platforms(known)
    return given


def load_platforms(plugins: Sequence[metadata.EntryPoint] | None = None) -> dict[str, Platform]:
    """Every registered platform (group `arf.platforms`), by name."""
    return _named_registry(PLATFORMS_GROUP, Platform, plugins)


def load_backends(plugins: Sequence[metadata.EntryPoint] | None = None) -> dict[str, ModelBackend]:
    """Every registered model backend (group `arf.model_backends`), by name."""
    return _named_registry(BACKENDS_GROUP, ModelBackend, plugins)


def chosen_platform(settings: Settings, platforms: Mapping[str, Platform]) -> Platform:
    found = platforms.get(settings.platform)
    if found is None:
        raise ConfigError(
            f"platform {settings.platform!r} is not registered (ARF_PLATFORM; known:"
            f" {', '.join(sorted(platforms))})"
        )
    return found


def action_row(
    definition: ActionDefinition, origin: str, platforms: Mapping[str, frozenset[str] | None]
) -> dict[str, str]:
    """One line of `arf actions list`; `platforms`: each one's operations (None: as bound)."""
    manifest = definition.manifest
    where = [
        name if operations is not None else f"{name} (if bound)"
        for name, operations in sorted(platforms.items())
        if definition.runs_on(name, operations)
    ]
    rollback = manifest.rollback
    return {
        "name": manifest.name,
        "version": manifest.version,
        "risk_class": manifest.risk_class.value,
        "rollback": "irreversible"
        if rollback.irreversible
        else ("none needed" if rollback.nothing_to_undo else "declared"),
        "operations": ", ".join(sorted(definition.operations)),
        "platforms": ", ".join(where),
        "target_kind": manifest.target_kind,
        "source": origin,
        "description": manifest.description,
    }


def test_actions(
    settings: Settings, paths: Sequence[Path] = ()
) -> tuple[ActionCatalog, ActionTestReport]:
    """Run the cases beside the given packs (default: every registered pack) against the
    catalog (`arf actions test`); a given pack that is not registered is tested too."""
    sources = action_sources(settings)
    catalog = catalog_of(sources)
    if not paths:
        locations = [location for source in sources for location in source.locations]
        return catalog, run_cases(catalog, locations)
    given = ActionCatalog([d for path in paths for d in load_pack(path)])
    rest = [d for d in catalog.definitions() if d.spec.name not in given]
    scope = {s.name for s in given.specs()}
    combined = ActionCatalog([*given.definitions(), *rest])
    return combined, run_cases(combined, list(paths), scope)
