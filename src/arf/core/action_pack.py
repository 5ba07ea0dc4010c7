"""The action format: one YAML document declares one action completely.

These records are the format (`arf actions schema` publishes their JSON Schema). Every
expression in a manifest is CEL, evaluated over `params` (the step's parameters with their
declared defaults), `state` (the target's description), `target` (its name), `tables` (the
manifest's constant tables) and `vars` (the manifest's named variables, in order). A value is
never built into a shell string: an operation's arguments are typed CEL results, checked
against the parameter schema before anything is evaluated.

The records live in `core` so every layer can read them; `arf.execution.action_packs`
compiles them into runnable definitions.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, JsonValue, model_validator

from arf.core.grounding import param_problem
from arf.core.records import (
    ActionParam,
    ActionRemedies,
    ActionSpec,
    Record,
    RiskClass,
    ShortText,
)

FORMAT = "arf/action/v1"
Expression = Annotated[str, Field(min_length=1, max_length=2_000)]
Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
SemVer = Annotated[str, Field(pattern=r"^\d+\.\d+\.\d+$")]
Permission = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.*-]+:[A-Za-z0-9_.*-]+$")]


class ParamSchema(Record):
    """One typed parameter. A number has both bounds; a string has an enum, a pattern or a
    maximum length, so no parameter is free-form."""

    type: Literal["string", "integer", "number", "boolean"]
    description: ShortText = ""
    required: bool = True
    default: JsonValue = None
    minimum: float | None = None
    maximum: float | None = None
    enum: tuple[str, ...] = ()
    pattern: str | None = None
    max_length: int | None = Field(None, ge=1, le=2_000)

    @model_validator(mode="after")
    def _bounded(self) -> ParamSchema:
        numeric = self.type in ("integer", "number")
        if numeric and (self.minimum is None or self.maximum is None):
            article = "an" if self.type == "integer" else "a"
            raise ValueError(f"{article} {self.type} parameter needs both a minimum and a maximum")
        low, high = self.minimum, self.maximum
        if low is not None and high is not None and low > high:
            raise ValueError("minimum is above maximum")
        if not numeric and (self.minimum is not None or self.maximum is not None):
            raise ValueError(f"a {self.type} parameter has no minimum or maximum")
        if self.type != "string" and (self.enum or self.pattern or self.max_length):
            raise ValueError(f"enum, pattern and max_length are for strings, not {self.type}")
        if self.type == "string" and not (self.enum or self.pattern or self.max_length):
            raise ValueError("a string parameter needs an enum, a pattern or a max_length")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern {self.pattern!r} is not a regular expression") from exc
        if self.default is not None:
            problem = param_problem(self.as_param("default"), self.default)
            if problem:
                raise ValueError(f"the default does not fit the schema: {problem}")
        return self

    def as_param(self, name: str) -> ActionParam:
        return ActionParam(
            name=name,
            type=self.type,
            required=self.required,
            minimum=self.minimum,
            maximum=self.maximum,
            choices=self.enum,
            description=self.description,
            pattern=self.pattern,
            max_length=self.max_length,
            default=self.default,
        )


class Precondition(Record):
    """`require` must hold on the pre-state, else the step is refused with `message`
    (`${target}`, `${params.NAME}`, `${vars.NAME}` are filled in)."""

    require: Expression
    message: ShortText


class OperationTemplate(Record):
    """One platform operation: its verb and arguments, each argument a CEL expression (YAML
    numbers and booleans are literals)."""

    op: Identifier
    args: dict[Identifier, str | int | float | bool | None] = Field(default_factory=dict)


class Rollback(Record):
    """How the action is undone, said explicitly: operations computed from the pre-state,
    `irreversible: true` (which the default policy never lets run autonomously), or
    `nothing_to_undo: true` (a restart changes no state)."""

    description: ShortText = Field(min_length=1)
    operations: tuple[OperationTemplate, ...] = ()
    irreversible: bool = False
    nothing_to_undo: bool = False

    @model_validator(mode="after")
    def _declared(self) -> Rollback:
        said = [bool(self.operations), self.irreversible, self.nothing_to_undo]
        if sum(said) != 1:
            raise ValueError(
                "declare exactly one of: operations, irreversible: true, nothing_to_undo: true"
            )
        return self


class EffectRule(Record):
    """What crash reconciliation reads: `read` picks the value out of a description, `after`
    is the value the forward step leaves. `leaves_no_trace` says the target cannot show it
    (a restart): a step in doubt is then re-sent under its idempotency key."""

    read: Expression | None = None
    after: Expression | None = None
    leaves_no_trace: bool = False

    @model_validator(mode="after")
    def _one_way(self) -> EffectRule:
        both = self.read is not None and self.after is not None
        if self.leaves_no_trace == both or (self.read is None) != (self.after is None):
            raise ValueError("declare either read and after, or leaves_no_trace: true")
        return self


class ActionManifest(Record):
    format: Literal["arf/action/v1"]
    name: Identifier
    version: SemVer
    description: ShortText = Field(min_length=1)
    target_kind: Literal["service", "resource"]
    risk_class: RiskClass
    disruption: Literal["rolling", "whole", "none"]
    params: dict[Identifier, ParamSchema] = Field(default_factory=dict)
    tables: dict[Identifier, JsonValue] = Field(default_factory=dict)
    variables: dict[Identifier, Expression] = Field(default_factory=dict)
    preconditions: tuple[Precondition, ...] = ()
    forward: tuple[OperationTemplate, ...] = Field(min_length=1)
    rollback: Rollback
    effect: EffectRule
    verification: Identifier
    permissions: tuple[Permission, ...] = Field(min_length=1)
    security_sensitive: bool = False
    tags: tuple[Identifier, ...] = ()
    remedies: ActionRemedies = Field(default_factory=ActionRemedies)

    @model_validator(mode="after")
    def _remedies_name_parameters(self) -> ActionManifest:
        remedies = self.remedies
        named = [remedies.finding_param] if remedies.finding_param else []
        named += [p for change in remedies.changes for p in change.params]
        for name in named:
            if name not in self.params:
                raise ValueError(f"remedies name the parameter {name!r}, which is not declared")
        if remedies.findings and not remedies.finding_param:
            raise ValueError("remedies.findings needs finding_param: the parameter given the id")
        return self

    def spec(self) -> ActionSpec:
        """What reasoning and governance see of the action."""
        return ActionSpec(
            name=self.name,
            description=self.description,
            target_kind=self.target_kind,
            risk_class=self.risk_class,
            reversible=not self.rollback.irreversible,
            rollback=self.rollback.description,
            params=tuple(schema.as_param(name) for name, schema in self.params.items()),
            security_sensitive=self.security_sensitive,
            permissions=self.permissions,
            verification=self.verification,
            tags=self.tags,
            remedies=self.remedies,
            operations=tuple(sorted({op.op for op in self.forward + self.rollback.operations})),
        )
