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

import json
import re
from collections.abc import Iterator
from typing import Annotated, Literal
from urllib.parse import urlsplit

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
from arf.core.yaml_files import FieldProblem

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
            required=self.required and self.default is None,  # a default fills it
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


HTTP = "http"  # the verb of a rendered HTTP step: the executor's HTTP transport sends it
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
SECRET_REF = re.compile(r"\$\{secret:([a-z][a-z0-9_]{0,62})\}")
_URL = re.compile(r"^(https?)://([^/?#\s]+)(/[^?#\s]*)?(\?[^#\s]*)?$")
URL_PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]{0,62})\}")
HeaderName = Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,64}$")]
HeaderValue = Annotated[str, Field(max_length=1_000)]


def secret_refs(text: str) -> list[str]:
    """The secrets a header value names as `${secret:NAME}`."""
    return SECRET_REF.findall(text)


def url_placeholders(url: str) -> list[str]:
    return URL_PLACEHOLDER.findall(url)


class HttpRequest(Record):
    """One HTTP call. The scheme, host and port are fixed by the file; `{name}` placeholders
    fill path segments only, each from the CEL expression `path.name`, percent-encoded into
    one segment. `body` is JSON whose string leaves are CEL expressions. Header values are
    literal text in which `${secret:NAME}` names a declared secret: it is resolved by the
    transport when the call is sent, never rendered, logged or recorded. Every call carries
    the step's `Idempotency-Key`; any answer but 2xx fails the step. A call that carries a
    secret goes over https (or to this host only); a URL never holds credentials."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    url: Annotated[str, Field(min_length=1, max_length=2_000)]
    path: dict[Identifier, Expression] = Field(default_factory=dict)
    headers: dict[HeaderName, HeaderValue] = Field(default_factory=dict)
    body: JsonValue = None
    timeout_s: float = Field(10.0, gt=0, le=120)

    @model_validator(mode="after")
    def _fixed_origin(self) -> HttpRequest:
        match = _URL.match(self.url)
        if match is None:
            raise FieldProblem(("url",), f"{self.url!r} is not an absolute http(s) URL")
        if URL_PLACEHOLDER.search(match.group(2)) or URL_PLACEHOLDER.search(match.group(4) or ""):
            raise FieldProblem(
                ("url",), "placeholders may fill path segments only, never the host or query"
            )
        if "@" in match.group(2):
            raise FieldProblem(("url",), "a URL may not hold credentials: use a secret header")
        for segment in (match.group(3) or "").split("/"):
            if "{" in segment and not URL_PLACEHOLDER.fullmatch(segment):
                raise FieldProblem(
                    ("url",), f"{segment!r}: a placeholder must be a whole path segment"
                )
        if "${secret:" in self.url or "${secret:" in json.dumps(self.body):
            raise FieldProblem(("url",), "secrets may be used in headers only")
        uses_secret = any(secret_refs(value) for value in self.headers.values())
        host = urlsplit(f"{match.group(1)}://{match.group(2)}/").hostname or ""
        if uses_secret and match.group(1) != "https" and host not in LOOPBACK:
            raise FieldProblem(
                ("url",), "a call that sends a secret must use https (http only to this host)"
            )
        named, given = set(url_placeholders(self.url)), set(self.path)
        for name in sorted(named - given):
            raise FieldProblem(("url",), f"{{{name}}} has no expression in path")
        for name in sorted(given - named):
            raise FieldProblem(("path", name), f"the url has no {{{name}}} placeholder")
        for name in self.headers:
            if name.lower() == "idempotency-key":
                raise FieldProblem(
                    ("headers", name), "Idempotency-Key is set by ARF from the step's key"
                )
        return self


class OperationTemplate(Record):
    """One step: a platform operation (`op`, its verb, and `args`, each a CEL expression;
    YAML numbers and booleans are literals) or an HTTP call (`http`), which any platform can
    send."""

    op: Identifier | None = None
    args: dict[Identifier, str | int | float | bool | None] = Field(default_factory=dict)
    http: HttpRequest | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> OperationTemplate:
        if (self.op is None) == (self.http is None):
            raise ValueError("a step is either an operation (op) or an HTTP call (http)")
        if self.http is not None and self.args:
            raise ValueError("args belong to an operation: an HTTP call has path and body")
        return self

    @property
    def verb(self) -> str:
        return self.op if self.op is not None else HTTP

    @property
    def platform_verb(self) -> str | None:
        """The verb the platform must implement (None: a transport any platform has)."""
        return self.op


class Rollback(Record):
    """How the action is undone, said explicitly: operations computed from the pre-state
    (here for the platform-neutral `forward`, and in each binding for its own), or
    `irreversible: true` (which the default policy never lets run autonomously), or
    `nothing_to_undo: true` (a restart changes no state)."""

    description: ShortText = Field(min_length=1)
    operations: tuple[OperationTemplate, ...] = ()
    irreversible: bool = False
    nothing_to_undo: bool = False

    @model_validator(mode="after")
    def _declared(self) -> Rollback:
        if self.irreversible and self.nothing_to_undo:
            raise ValueError("irreversible and nothing_to_undo contradict each other")
        if self.operations and (self.irreversible or self.nothing_to_undo):
            raise ValueError(
                "declare exactly one of: operations, irreversible: true, nothing_to_undo: true"
            )
        return self

    @property
    def undoes(self) -> bool:
        """The action is undone by operations (each binding declares its own)."""
        return not (self.irreversible or self.nothing_to_undo)


class Binding(Record):
    """The steps an action sends on one platform, instead of the top-level `forward` and
    `rollback.operations`."""

    forward: tuple[OperationTemplate, ...] = Field(min_length=1)
    rollback: tuple[OperationTemplate, ...] = ()


class SecretRef(Record):
    """Where a secret is read when a call is sent: an environment variable of the executor,
    or a file (a mounted Kubernetes or Vault secret)."""

    env: Annotated[str, Field(pattern=r"^[A-Z_][A-Z0-9_]{0,127}$")] | None = None
    file: Annotated[str, Field(min_length=1, max_length=1_000)] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("a secret is read from exactly one of: env, file")
        if self.env is not None and self.env.startswith("ARF_"):
            raise FieldProblem(("env",), "ARF's own settings (ARF_*) are not an action's secret")
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
    forward: tuple[OperationTemplate, ...] = ()
    rollback: Rollback
    bindings: dict[Identifier, Binding] = Field(default_factory=dict)
    secrets: dict[Identifier, SecretRef] = Field(default_factory=dict)
    effect: EffectRule
    verification: Identifier
    permissions: tuple[Permission, ...] = Field(min_length=1)
    security_sensitive: bool = False
    tags: tuple[Identifier, ...] = ()
    remedies: ActionRemedies = Field(default_factory=ActionRemedies)

    @model_validator(mode="after")
    def _steps_declared(self) -> ActionManifest:
        if not self.forward and not self.bindings:
            raise FieldProblem(
                ("forward",), "declare forward steps, or bindings for the platforms it runs on"
            )
        if self.rollback.operations and not self.forward:
            raise FieldProblem(
                ("rollback", "operations"), "undoes forward steps, and there are none"
            )
        undoes = self.rollback.undoes
        if self.forward and undoes and not self.rollback.operations:
            raise FieldProblem(
                ("rollback",),
                "declare exactly one of: operations, irreversible: true, nothing_to_undo: true",
            )
        for platform, binding in self.bindings.items():
            if undoes and not binding.rollback:
                raise FieldProblem(
                    ("bindings", platform),
                    "needs rollback steps (or the action declares irreversible: true or"
                    " nothing_to_undo: true)",
                )
            if not undoes and binding.rollback:
                raise FieldProblem(
                    ("bindings", platform, "rollback"),
                    "the action declares it is irreversible or has nothing to undo",
                )
        for path, template in self._http_steps():
            for header, value in template.headers.items():
                for name in secret_refs(value):
                    if name not in self.secrets:
                        raise FieldProblem(
                            (*path, "headers", header),
                            f"${{secret:{name}}} is not declared in secrets",
                        )
        return self

    def _http_steps(self) -> Iterator[tuple[tuple[str | int, ...], HttpRequest]]:
        sections: list[tuple[tuple[str | int, ...], tuple[OperationTemplate, ...]]] = [
            (("forward",), self.forward),
            (("rollback", "operations"), self.rollback.operations),
        ]
        for platform, binding in self.bindings.items():
            sections.append((("bindings", platform, "forward"), binding.forward))
            sections.append((("bindings", platform, "rollback"), binding.rollback))
        for prefix, steps in sections:
            for index, step in enumerate(steps):
                if step.http is not None:
                    yield (*prefix, index, "http"), step.http

    def all_steps(self) -> tuple[OperationTemplate, ...]:
        steps = self.forward + self.rollback.operations
        for binding in self.bindings.values():
            steps += binding.forward + binding.rollback
        return steps

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
            operations=tuple(sorted({step.verb for step in self.all_steps()})),
        )
