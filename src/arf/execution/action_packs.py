"""Action packs: YAML manifests compiled into the definitions the executor runs.

A pack is a file or a directory of `*.yaml` files, one action each (format:
`arf.core.action_pack`). Loading checks everything it can before anything runs: the schema
(with the file, line and field of the first problem), every CEL expression compiles, every
`params.X`, `vars.X` and `tables.X` it names is declared, and no two actions share a name.
A broken pack is a `PackError`; nothing is loaded around it.
"""

from __future__ import annotations

import copy
import re
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import cel
import yaml
from pydantic import JsonValue, ValidationError

from arf.core.action_pack import (
    HTTP,
    URL_PLACEHOLDER,
    ActionManifest,
    OperationTemplate,
    secret_refs,
)
from arf.core.errors import ConfigError, ExecutionError
from arf.core.grounding import param_problems
from arf.core.records import ActionSpec, BlastRadius, PlanStep
from arf.core.yaml_files import line_of, located_problem, read_sources
from arf.execution.verification import PROBE_KINDS

State = Mapping[str, JsonValue]
Operation = tuple[str, dict[str, JsonValue]]
_REFERENCE = re.compile(r"\b(params|vars|tables)\.([A-Za-z_][A-Za-z0-9_]*)")
_UNSET = object()


class PackError(ConfigError):
    """A pack that cannot be loaded: names the file, the line and the field."""


def _earlier(values: object) -> list[object]:
    """Every element but the last (the current one) of a history list."""
    return list(values[:-1]) if isinstance(values, list) else []


def _text(value: object) -> str:
    """A value as text, the way the platform's configuration shows it."""
    return str(value)


FUNCTIONS: Mapping[str, Callable[..., object]] = {"earlier": _earlier, "text": _text}


class _Message(string.Template):
    idpattern = r"[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)?"


@dataclass(frozen=True)
class Effect:
    """What an action changes, as the target's description shows it: `read` picks the value out
    of a description, `after` is the value the forward step leaves, given the step and the
    pre-state. Reconciliation after a crash compares the target's real state with both."""

    read: Callable[[PlanStep, State], JsonValue]
    after: Callable[[PlanStep, State], JsonValue]


class _Evaluator:
    """The compiled CEL of one manifest, evaluated over (step, state)."""

    def __init__(self, manifest: ActionManifest, where: str, text: str) -> None:
        self._manifest = manifest
        self._where = where
        self._text = text
        self._programs: dict[str, Any] = {}

    def compile(self, expression: str, path: tuple[str | int, ...]) -> None:
        line = line_of(self._text, path)
        field = ".".join(str(p) for p in path)
        declared: dict[str, set[str]] = {
            "params": set(self._manifest.params),
            "vars": set(self._manifest.variables),
            "tables": set(self._manifest.tables),
        }
        for kind, name in _REFERENCE.findall(expression):
            if name not in declared[kind]:
                raise PackError(
                    f"{self._where}:{line}: {field}: {kind}.{name} is not declared in {kind}"
                )
        try:
            self._programs[expression] = cel.compile(expression)
        except (ValueError, RuntimeError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
            raise PackError(f"{self._where}:{line}: {field}: not valid CEL: {first}") from exc

    def context(self, step: PlanStep, state: State) -> dict[str, Any]:
        params: dict[str, JsonValue] = {
            name: schema.default
            for name, schema in self._manifest.params.items()
            if schema.default is not None
        }
        params.update(step.params)
        values: dict[str, Any] = {
            "params": params,
            "state": dict(state),
            "target": step.target,
            "tables": self._manifest.tables,
        }
        variables: dict[str, Any] = {}
        values["vars"] = variables
        for name, expression in self._manifest.variables.items():
            value = self.value(expression, values)
            variables[name] = None if value is _UNSET else value
        return values

    def value(self, expression: str, values: Mapping[str, Any]) -> Any:
        """The expression's value, or `_UNSET` when it cannot be evaluated (a missing key)."""
        context = cel.Context(dict(values))
        for name, function in FUNCTIONS.items():
            context.add_function(name, function)
        try:
            return self._programs[expression].execute(context)
        except (KeyError, IndexError, TypeError, ValueError, RuntimeError, ArithmeticError):
            return _UNSET  # fail closed: a precondition that cannot be computed does not hold

    def argument(self, raw: JsonValue, values: Mapping[str, Any], what: str) -> JsonValue:
        if not isinstance(raw, str):
            return raw
        value = self.value(raw, values)
        if value is _UNSET:
            raise ExecutionError(f"{self._manifest.name}: {what} could not be computed ({raw})")
        return _json(value)

    def message(self, template: str, values: Mapping[str, Any]) -> str:
        flat: dict[str, object] = {"target": values["target"]}
        for scope in ("params", "vars"):
            for name, value in values[scope].items():
                flat[f"{scope}.{name}"] = value
        return _Message(template).safe_substitute(flat)


def _json(value: Any) -> JsonValue:
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _as_int(value: JsonValue, default: int) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else default


class ActionDefinition:
    """One catalogued action, compiled from its manifest."""

    def __init__(self, manifest: ActionManifest, source: str, text: str = "") -> None:
        self.manifest = manifest
        self.source = source
        self._text = text
        self.spec: ActionSpec = manifest.spec()
        self.disruption = manifest.disruption
        if manifest.verification not in PROBE_KINDS:
            raise PackError(
                f"{source}:{line_of(text, ('verification',))}: verification: unknown"
                f" {manifest.verification!r} (known: {', '.join(sorted(PROBE_KINDS))})"
            )
        self._forward: Sequence[OperationTemplate] = manifest.forward
        self._backward: Sequence[OperationTemplate] = manifest.rollback.operations
        self._cel = _Evaluator(manifest, source, text)
        for path, expression in _expressions(manifest):
            self._cel.compile(expression, path)
        rule = manifest.effect
        self.effect: Effect | None = None
        if rule.read is not None and rule.after is not None:
            read, after = rule.read, rule.after
            self.effect = Effect(
                read=lambda step, state: self._effect_value(read, step, state),
                after=lambda step, state: self._effect_value(after, step, state),
            )

    def _effect_value(self, expression: str, step: PlanStep, state: State) -> JsonValue:
        value = self._cel.value(expression, self._cel.context(step, state))
        return None if value is _UNSET else _json(value)

    @property
    def operations(self) -> frozenset[str]:
        """Every platform verb the action may send, forward or back, on any platform."""
        return frozenset(
            verb for step in self.manifest.all_steps() if (verb := step.platform_verb) is not None
        )

    def steps_for(
        self, platform: str
    ) -> tuple[Sequence[OperationTemplate], Sequence[OperationTemplate]]:
        """The forward and rollback steps sent on `platform`: its binding, else the
        platform-neutral `forward` and `rollback.operations` (empty when there are none)."""
        binding = self.manifest.bindings.get(platform)
        if binding is not None:
            return binding.forward, binding.rollback
        return self.manifest.forward, self.manifest.rollback.operations

    def runs_on(self, platform: str, operations: frozenset[str] | None) -> bool:
        """Whether `platform`, implementing `operations` (None: whatever its configuration
        binds), can run the action: it has steps there and the platform has their verbs."""
        forward, rollback = self.steps_for(platform)
        if not forward:
            return False
        verbs = {verb for step in (*forward, *rollback) if (verb := step.platform_verb)}
        return operations is None or verbs <= operations

    def check_platforms(self, known: Iterable[str]) -> None:
        """A binding for a platform that is not registered is a mistake (a typo would make
        the action silently unavailable there)."""
        names = sorted(known)
        for platform in self.manifest.bindings:
            if platform not in names:
                line = line_of(self._text, ("bindings", platform))
                raise PackError(
                    f"{self.source}:{line}: bindings.{platform}: no platform {platform!r} is"
                    f" registered (known: {', '.join(names)})"
                )

    def bound_to(self, platform: str) -> ActionDefinition:
        """This action as it runs on `platform`: `forward` and `backward` send its steps."""
        bound = copy.copy(self)
        bound._forward, bound._backward = self.steps_for(platform)
        return bound

    def preconditions(self, step: PlanStep, state: State) -> list[str]:
        """Why the step cannot run on this pre-state: its parameters against the schema
        first, then the manifest's preconditions in order (the first that fails)."""
        problems = param_problems(self.spec, step.params)
        if problems:
            return problems
        values = self._cel.context(step, state)
        for check in self.manifest.preconditions:
            if self._cel.value(check.require, values) is not True:
                return [self._cel.message(check.message, values)]
        return []

    def _render(
        self, templates: Sequence[OperationTemplate], step: PlanStep, state: State
    ) -> list[Operation]:
        problems = param_problems(self.spec, step.params)
        if problems:
            raise ExecutionError(f"{self.spec.name} on {step.target}: " + "; ".join(problems))
        values = self._cel.context(step, state)
        return [self._render_one(template, values) for template in templates]

    def _render_one(self, template: OperationTemplate, values: Mapping[str, Any]) -> Operation:
        if template.http is None:
            return (
                template.verb,
                {
                    name: self._cel.argument(raw, values, f"{template.verb}.{name}")
                    for name, raw in template.args.items()
                },
            )
        call = template.http
        segments = {
            name: _segment(self._cel.argument(expression, values, f"http.path.{name}"), name)
            for name, expression in call.path.items()
        }
        url = URL_PLACEHOLDER.sub(lambda m: segments[m.group(1)], call.url)
        secrets = {
            name: self.manifest.secrets[name].model_dump(exclude_none=True)
            for value in call.headers.values()
            for name in secret_refs(value)
        }
        return (
            HTTP,
            {
                "method": call.method,
                "url": url,
                "headers": dict(call.headers),
                "body": self._body(call.body, values),
                "timeout_s": call.timeout_s,
                "secrets": cast(JsonValue, secrets),
            },
        )

    def _body(self, template: JsonValue, values: Mapping[str, Any]) -> JsonValue:
        if isinstance(template, str):
            return self._cel.argument(template, values, "http.body")
        if isinstance(template, dict):
            return {key: self._body(value, values) for key, value in template.items()}
        if isinstance(template, list):
            return [self._body(value, values) for value in template]
        return template

    def forward(self, step: PlanStep, state: State) -> list[Operation]:
        return self._render(self._forward, step, state)

    def backward(self, step: PlanStep, state: State) -> list[Operation]:
        return self._render(self._backward, step, state)

    def blast_radius(self, step: PlanStep, state: State | None) -> BlastRadius:
        """Sized against the target's real state: replicas touched and the largest share of
        its capacity out at once. An unknown replica count counts as one (the worst share)."""
        replicas = max(1, _as_int((state or {}).get("replicas"), 1))
        share = {"rolling": 1 / replicas, "whole": 1.0, "none": 0.0}[self.disruption]
        touched = 0 if self.disruption == "none" else replicas
        return BlastRadius(services=1, resources=1, replicas=touched, replica_share=round(share, 4))


def _segment(value: JsonValue, name: str) -> str:
    """A value percent-encoded into exactly one path segment."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ExecutionError(f"http path {name}: {value!r} is not a text or a number")
    text = str(value)
    if text in ("", ".", ".."):
        raise ExecutionError(f"http path {name}: {text!r} is not a path segment")
    return quote(text, safe="")


def _body_expressions(
    body: JsonValue, path: tuple[str | int, ...]
) -> Iterable[tuple[tuple[str | int, ...], str]]:
    if isinstance(body, str):
        yield path, body
    elif isinstance(body, dict):
        for key, value in body.items():
            yield from _body_expressions(value, (*path, key))
    elif isinstance(body, list):
        for index, value in enumerate(body):
            yield from _body_expressions(value, (*path, index))


def _step_expressions(
    prefix: tuple[str | int, ...], steps: Sequence[OperationTemplate]
) -> Iterable[tuple[tuple[str | int, ...], str]]:
    for index, step in enumerate(steps):
        for name, raw in step.args.items():
            if isinstance(raw, str):
                yield (*prefix, index, "args", name), raw
        if step.http is not None:
            for name, expression in step.http.path.items():
                yield (*prefix, index, "http", "path", name), expression
            yield from _body_expressions(step.http.body, (*prefix, index, "http", "body"))


def _expressions(manifest: ActionManifest) -> Iterable[tuple[tuple[str | int, ...], str]]:
    for name, expression in manifest.variables.items():
        yield ("variables", name), expression
    for index, check in enumerate(manifest.preconditions):
        yield ("preconditions", index, "require"), check.require
    yield from _step_expressions(("forward",), manifest.forward)
    yield from _step_expressions(("rollback", "operations"), manifest.rollback.operations)
    for platform, binding in manifest.bindings.items():
        yield from _step_expressions(("bindings", platform, "forward"), binding.forward)
        yield from _step_expressions(("bindings", platform, "rollback"), binding.rollback)
    for field in ("read", "after"):
        expression = getattr(manifest.effect, field)
        if expression is not None:
            yield ("effect", field), expression


# ------------------------------------------------------------------ loading


CASES_SUFFIX = ".cases.yaml"  # `arf actions test` cases, beside the actions they test


def parse_yaml(text: str, where: str) -> Mapping[str, object]:
    """One YAML mapping; `where` names the file in errors."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PackError(f"{where}{line}: not valid YAML: {problem}") from exc
    if not isinstance(document, Mapping):
        raise PackError(f"{where}:1: the file is not one YAML mapping")
    return document


def parse_manifest(text: str, where: str) -> ActionManifest:
    """One manifest from YAML text; `where` names the file in errors."""
    document = parse_yaml(text, where)
    try:
        return ActionManifest.model_validate(document)
    except ValidationError as exc:
        raise PackError(located_problem(exc, text, where)) from exc


def load_definition(text: str, where: str) -> ActionDefinition:
    return ActionDefinition(parse_manifest(text, where), where, text)


def load_pack(source: Traversable | Path) -> list[ActionDefinition]:
    """Every action of a file or a directory of YAML files (case files are not actions)."""
    found = read_sources(source, (".yaml", ".yml"), PackError, skip=(CASES_SUFFIX,))
    return [load_definition(text, where) for where, text in found]


def default_pack() -> Traversable:
    """The packaged actions, registered under the `arf.actions` entry point as a plug-in's
    pack would be."""
    return resources.files("arf.execution").joinpath("default_pack")


def standard_pack() -> Traversable:
    """The standard pack: actions SRE and security teams use beyond the seven defaults,
    registered under the `arf.actions` entry point like any plug-in's."""
    return resources.files("arf.execution").joinpath("standard_pack")


class ActionCatalog:
    """A registry instance built by the composition root (never an import-time global)."""

    def __init__(self, actions: Sequence[ActionDefinition]) -> None:
        self._actions: dict[str, ActionDefinition] = {}
        for action in actions:
            known = self._actions.get(action.spec.name)
            if known is not None:
                raise PackError(
                    f"{action.source}: action {action.spec.name!r} is already declared by"
                    f" {known.source}"
                )
            self._actions[action.spec.name] = action

    def specs(self) -> tuple[ActionSpec, ...]:
        return tuple(a.spec for a in self._actions.values())

    def for_platform(self, platform: str, operations: frozenset[str] | None) -> ActionCatalog:
        """The actions `platform` can run, each bound to its steps there: the others are
        neither offered to reasoning nor executable there."""
        return ActionCatalog(
            [
                action.bound_to(platform)
                for action in self._actions.values()
                if action.runs_on(platform, operations)
            ]
        )

    def definitions(self) -> tuple[ActionDefinition, ...]:
        return tuple(self._actions.values())

    def get(self, name: str) -> ActionDefinition | None:
        return self._actions.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._actions


def default_actions() -> list[ActionDefinition]:
    """The packaged actions (for tests and tools that need no plug-ins)."""
    return load_pack(default_pack())
