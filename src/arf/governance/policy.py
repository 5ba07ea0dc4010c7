"""Policy documents (YAML + CEL), their compilation at load and their deterministic evaluation.

- Every rule's `when` is a CEL expression over the typed input of `arf.governance.schema`.
  At load each expression is compiled, every field it names is checked against the schema and
  it is evaluated once against a typed sample; any problem is a load error naming file and line.
- A rule may carry constraints (largest blast radius, allowed time windows); a matching rule
  whose constraint the plan violates contributes its `on_violation` effect (deny by default).
- The strictest matching effect wins: deny > approve > acknowledge > allow. Any evaluation
  error, non-boolean result or missing input denies (fail closed).
- `route` adds what no policy can switch off (see its docstring) and is the one function that
  production decisions, `arf policy test` and `arf policy simulate` share.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import cel
import yaml

from arf.core.canonical import sha256_hex
from arf.core.errors import PolicyLoadError
from arf.core.records import Autonomy, Effect, MatchedRule, Route
from arf.governance.calibration import CalibrationRules
from arf.governance.schema import field_problems, sample_input

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")
ROUTE_FOR_EFFECT = {
    Effect.ALLOW: Route.AUTONOMOUS,
    Effect.ACKNOWLEDGE: Route.ACKNOWLEDGE,
    Effect.APPROVE: Route.APPROVE,
    Effect.DENY: Route.DENY,
}
AUTONOMY_FLOOR = {
    Autonomy.APPROVE.value: Effect.APPROVE,
    Autonomy.ACKNOWLEDGE.value: Effect.ACKNOWLEDGE,
}


@dataclass(frozen=True)
class Window:
    """Allowed from `start` to `end` minutes after midnight UTC on the listed ISO weekdays."""

    days: frozenset[int]
    start: int
    end: int

    def contains(self, weekday: int, minute_of_day: int) -> bool:
        return weekday in self.days and self.start <= minute_of_day < self.end


@dataclass(frozen=True)
class Constraints:
    max_resources: int | None = None
    max_replica_share: float | None = None
    windows: tuple[Window, ...] = ()
    on_violation: Effect = Effect.DENY

    def violations(self, policy_input: Mapping[str, Any]) -> list[str]:
        plan, now = policy_input["plan"], policy_input["now"]
        found = []
        if self.max_resources is not None and plan["resources"] > self.max_resources:
            found.append(f"changes {plan['resources']} resources (at most {self.max_resources})")
        if self.max_replica_share is not None and plan["replica_share"] > self.max_replica_share:
            found.append(
                f"takes {plan['replica_share']:.0%} of a target's capacity out at once"
                f" (at most {self.max_replica_share:.0%})"
            )
        if self.windows:
            minute = int(now["hour"]) * 60 + int(now["minute"])
            if not any(w.contains(int(now["weekday"]), minute) for w in self.windows):
                found.append("outside the rule's allowed time windows")
        return found


@dataclass(frozen=True)
class Rule:
    rule_id: str
    description: str
    when: str
    effect: Effect
    reason: str
    roles: tuple[str, ...]
    quorum: int
    line: int
    constraints: Constraints | None = None
    program: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class PolicyBundle:
    name: str
    version_hash: str
    rules: tuple[Rule, ...]
    autonomous_below: float
    acknowledge_below: float
    max_resources: int
    max_replica_share: float
    approval_expiry_minutes: int
    acknowledge_expiry_minutes: int
    default_roles: tuple[str, ...]
    acknowledge_roles: tuple[str, ...]
    origin: str
    calibration: CalibrationRules = field(default_factory=CalibrationRules)

    @property
    def version(self) -> str:
        return f"{self.name}@{self.version_hash[:16]}"


@dataclass(frozen=True)
class Evaluation:
    effect: Effect | None
    matched: tuple[MatchedRule, ...]
    roles: tuple[str, ...]
    quorum: int


@dataclass(frozen=True)
class Routing:
    """What the policy and the floors decided for a plan, before expiry and notification."""

    effect: Effect
    matched: tuple[MatchedRule, ...]
    roles: tuple[str, ...]
    quorum: int
    shadow: bool


def _line_of(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _minutes(text: object, where: str) -> int:
    match = _CLOCK.match(str(text))
    if not match:
        raise PolicyLoadError(f"{where}: time {text!r} must be HH:MM (00:00 to 24:00)")
    if str(text) == "24:00":
        return 24 * 60
    return int(match.group(1)) * 60 + int(match.group(2))


def _constraints(raw: object, where: str) -> Constraints | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise PolicyLoadError(f"{where}: constraints must be a mapping")
    unknown = set(raw) - {"max_resources", "max_replica_share", "windows", "on_violation"}
    if unknown:
        raise PolicyLoadError(f"{where}: unknown constraint {sorted(unknown)[0]!r}")
    windows: list[Window] = []
    for item in raw.get("windows") or ():
        if not isinstance(item, Mapping) or not {"days", "from", "to"} <= set(item):
            raise PolicyLoadError(f"{where}: a window needs days, from and to")
        days = item["days"]
        if not isinstance(days, list) or not all(d in DAYS for d in days):
            raise PolicyLoadError(f"{where}: window days must be a list of {', '.join(DAYS)}")
        start, end = _minutes(item["from"], where), _minutes(item["to"], where)
        if start >= end:
            raise PolicyLoadError(f"{where}: a window must end after it starts")
        windows.append(Window(frozenset(DAYS.index(d) + 1 for d in days), start, end))
    try:
        on_violation = Effect(str(raw.get("on_violation", "deny")))
        max_resources = raw.get("max_resources")
        share = raw.get("max_replica_share")
        return Constraints(
            max_resources=None if max_resources is None else int(max_resources),
            max_replica_share=None if share is None else float(share),
            windows=tuple(windows),
            on_violation=on_violation,
        )
    except (TypeError, ValueError) as exc:
        raise PolicyLoadError(f"{where}: constraints: {exc}") from exc


def _compile(rule_id: str, when: str, where: str, sample: Mapping[str, Any]) -> Any:
    problems = field_problems(when)
    if problems:
        raise PolicyLoadError(f"{where}: rule {rule_id!r}: {'; '.join(problems)}")
    try:
        program = cel.compile(when)
    except (ValueError, RuntimeError) as exc:
        first = str(exc).splitlines()[0]
        raise PolicyLoadError(f"{where}: rule {rule_id!r}: {first}") from exc
    try:
        trial: object = program.execute(cel.Context(dict(sample)))
    except KeyError:
        trial = True  # a free-form map key absent from the sample: cannot judge at load
    except (TypeError, RuntimeError, ValueError) as exc:  # wrong operand types, unknown function
        first = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise PolicyLoadError(f"{where}: rule {rule_id!r} does not type-check: {first}") from exc
    if not isinstance(trial, bool):
        raise PolicyLoadError(f"{where}: rule {rule_id!r} must evaluate to a boolean")
    return program


def compile_rule(
    item: object, where: str, seen: set[str], sample: Mapping[str, Any], line: int
) -> Rule:
    if not isinstance(item, Mapping):
        raise PolicyLoadError(f"{where}: a rule must be a mapping")
    rule_id, when = item.get("id"), item.get("when")
    if rule_id is not None and not isinstance(rule_id, str):
        raise PolicyLoadError(
            f"{where}: rule id {rule_id!r} is not text; quote it (YAML reads no, yes, on, off"
            " and numbers as other types)"
        )
    if not isinstance(rule_id, str) or not rule_id:
        raise PolicyLoadError(f"{where}: rule without an 'id'")
    if rule_id in seen:
        raise PolicyLoadError(f"{where}: rule id {rule_id!r} is used twice")
    seen.add(rule_id)
    if not isinstance(when, str) or not when.strip():
        raise PolicyLoadError(f"{where}: rule {rule_id!r} has no 'when' expression")
    try:
        effect = Effect(str(item.get("effect")))
    except ValueError as exc:
        raise PolicyLoadError(
            f"{where}: rule {rule_id!r}: effect must be one of {', '.join(e.value for e in Effect)}"
        ) from exc
    program = _compile(rule_id, when, where, sample)
    roles = item.get("roles") or ()
    if not isinstance(roles, list | tuple) or not all(isinstance(r, str) for r in roles):
        raise PolicyLoadError(f"{where}: rule {rule_id!r}: roles must be a list of names")
    quorum = item.get("quorum") or (1 if effect is Effect.APPROVE else 0)
    if not isinstance(quorum, int) or quorum < 0:
        raise PolicyLoadError(f"{where}: rule {rule_id!r}: quorum must be a whole number")
    return Rule(
        rule_id=rule_id,
        description=str(item.get("description") or ""),
        when=when,
        effect=effect,
        reason=str(item.get("reason") or item.get("description") or rule_id),
        roles=tuple(roles),
        quorum=quorum,
        line=line,
        constraints=_constraints(item.get("constraints"), f"{where}: rule {rule_id!r}"),
        program=program,
    )


def _calibration(raw: Mapping[str, Any]) -> CalibrationRules:
    unknown = sorted(set(raw) - {f.name for f in fields(CalibrationRules)})
    if unknown:
        raise ValueError(f"unknown calibration settings: {', '.join(map(str, unknown))}")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ValueError("calibration.enabled must be true or false")
    defaults = CalibrationRules()
    return CalibrationRules(
        enabled=enabled,
        min_outcomes=int(raw.get("min_outcomes", defaults.min_outcomes)),
        prior_weight=float(raw.get("prior_weight", defaults.prior_weight)),
        max_raise=float(raw.get("max_raise", defaults.max_raise)),
        bins=int(raw.get("bins", defaults.bins)),
        window_days=int(raw.get("window_days", defaults.window_days)),
    )


def load_policy_text(text: str, origin: str) -> PolicyBundle:
    try:
        root = yaml.compose(text)
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyLoadError(f"{origin}: not valid YAML: {exc}") from exc
    if not isinstance(document, Mapping) or not isinstance(document.get("rules"), list):
        raise PolicyLoadError(f"{origin}: expected a mapping with a 'rules' list")
    rule_nodes: list[yaml.Node] = []
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if key.value == "rules" and isinstance(value, yaml.SequenceNode):
                rule_nodes = list(value.value)
    routing = document.get("routing") or {}
    limits = document.get("limits") or {}
    approvals = document.get("approvals") or {}
    calibration = document.get("calibration") or {}
    seen: set[str] = set()
    sample = sample_input()
    rules = []
    for index, item in enumerate(document["rules"]):
        line = _line_of(rule_nodes[index]) if index < len(rule_nodes) else 0
        rules.append(compile_rule(item, f"{origin}:{line}", seen, sample, line))
    try:
        bundle = PolicyBundle(
            name=str(document.get("name") or "policy"),
            version_hash=sha256_hex(text),
            rules=tuple(rules),
            autonomous_below=float(routing.get("autonomous_below", 0.35)),
            acknowledge_below=float(routing.get("acknowledge_below", 0.6)),
            max_resources=int(limits.get("max_resources", 5)),
            max_replica_share=float(limits.get("max_replica_share", 1.0)),
            approval_expiry_minutes=int(approvals.get("expiry_minutes", 60)),
            acknowledge_expiry_minutes=int(approvals.get("acknowledge_expiry_minutes", 15)),
            default_roles=tuple(approvals.get("default_roles") or ("approver",)),
            acknowledge_roles=tuple(approvals.get("acknowledge_roles") or ()),
            origin=origin,
            calibration=_calibration(calibration),
        )
    except (TypeError, ValueError, AttributeError) as exc:
        raise PolicyLoadError(
            f"{origin}: routing, limits, approvals or calibration: {exc}"
        ) from exc
    if problems := bundle.calibration.problems():
        raise PolicyLoadError(f"{origin}: calibration: {'; '.join(problems)}")
    if not 0 <= bundle.autonomous_below <= bundle.acknowledge_below <= 1:
        raise PolicyLoadError(
            f"{origin}: routing thresholds must satisfy 0 <= autonomous_below <="
            " acknowledge_below <= 1"
        )
    if bundle.approval_expiry_minutes <= 0 or bundle.acknowledge_expiry_minutes <= 0:
        raise PolicyLoadError(f"{origin}: approvals expire: expiry minutes must be positive")
    return bundle


def load_policy(path: Path) -> PolicyBundle:
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise PolicyLoadError(f"cannot read policy file {path}: {exc.strerror}") from exc
    return load_policy_text(text, str(path))


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__)[:300]


def evaluate(bundle: PolicyBundle, inputs: Sequence[Mapping[str, Any]]) -> Evaluation:
    """Evaluate every rule against every input (one per plan step); strictest effect wins."""
    matched: list[MatchedRule] = []
    roles: list[str] = []
    quorum = 0
    for policy_input in inputs:
        try:
            context = cel.Context(dict(policy_input))
        except Exception as exc:  # noqa: BLE001 - fail closed: an unconvertible input denies
            matched.append(
                MatchedRule(
                    rule_id="input",
                    effect=Effect.DENY,
                    reason=f"the policy input is malformed ({_first_line(exc)}): denied",
                )
            )
            continue
        for rule in bundle.rules:
            try:
                result = rule.program.execute(context)
            except Exception as exc:  # noqa: BLE001 - fail closed: any evaluation error denies
                matched.append(
                    MatchedRule(
                        rule_id=rule.rule_id,
                        effect=Effect.DENY,
                        reason=f"evaluation failed ({_first_line(exc)}): denied (fail closed)",
                    )
                )
                continue
            if not isinstance(result, bool):
                matched.append(
                    MatchedRule(
                        rule_id=rule.rule_id,
                        effect=Effect.DENY,
                        reason="did not evaluate to a boolean: denied (fail closed)",
                    )
                )
                continue
            if not result:
                continue
            matched.append(
                MatchedRule(rule_id=rule.rule_id, effect=rule.effect, reason=rule.reason)
            )
            if rule.effect is Effect.APPROVE:
                roles.extend(r for r in rule.roles if r not in roles)
                quorum = max(quorum, rule.quorum)
            if rule.constraints is not None:
                try:
                    problems = rule.constraints.violations(policy_input)
                except (KeyError, TypeError, ValueError) as exc:
                    problems = [f"cannot check ({_first_line(exc)})"]
                    effect = Effect.DENY
                else:
                    effect = rule.constraints.on_violation
                for problem in problems:
                    matched.append(
                        MatchedRule(
                            rule_id=rule.rule_id,
                            effect=effect,
                            reason=f"constraint violated: {problem}",
                        )
                    )
    unique: dict[tuple[str, Effect, str], MatchedRule] = {}
    for item in matched:
        unique.setdefault((item.rule_id, item.effect, item.reason), item)
    strictest = max((m.effect for m in unique.values()), key=lambda e: e.strictness, default=None)
    return Evaluation(strictest, tuple(unique.values()), tuple(roles), quorum)


def _get(policy_input: Mapping[str, Any], section: str, name: str) -> Any:
    part = policy_input.get(section)
    if not isinstance(part, Mapping) or name not in part:
        raise KeyError(f"{section}.{name}")
    return part[name]


def route(bundle: PolicyBundle, inputs: Sequence[Mapping[str, Any]]) -> Routing:
    """The policy's verdict plus the floors no policy can lower:

    - no rule matched: the risk score (`risk.score`) routes through the bundle's thresholds;
    - a plan over the bundle's blast-radius limits (resources, share of a target's capacity)
      is denied;
    - a plan with an irreversible step is never autonomous (at least approval);
    - a service's (or action's) granted autonomy caps the route: `approve` and `acknowledge`
      raise it, `shadow` records the decision but nothing executes;
    - an input the floors cannot read denies.
    """
    result = evaluate(bundle, inputs)
    matched = list(result.matched)
    effect = result.effect
    shadow = False
    floors: list[MatchedRule] = []
    try:
        if not inputs:
            raise KeyError("no plan steps")
        score = max(float(_get(i, "risk", "score")) for i in inputs)
        if effect is None:
            if score < bundle.autonomous_below:
                effect = Effect.ALLOW
            elif score < bundle.acknowledge_below:
                effect = Effect.ACKNOWLEDGE
            else:
                effect = Effect.APPROVE
            floors.append(
                MatchedRule(
                    rule_id="risk-threshold",
                    effect=effect,
                    reason=f"no rule matched; risk {score:.2f} against thresholds"
                    f" {bundle.autonomous_below}/{bundle.acknowledge_below}",
                )
            )
        resources = max(int(_get(i, "plan", "resources")) for i in inputs)
        share = max(float(_get(i, "plan", "replica_share")) for i in inputs)
        if resources > bundle.max_resources:
            floors.append(
                MatchedRule(
                    rule_id="limit-blast-radius",
                    effect=Effect.DENY,
                    reason=f"changes {resources} resources; the limit is {bundle.max_resources}",
                )
            )
        if share > bundle.max_replica_share:
            floors.append(
                MatchedRule(
                    rule_id="limit-replica-share",
                    effect=Effect.DENY,
                    reason=f"takes {share:.0%} of a target's capacity out at once; the limit is"
                    f" {bundle.max_replica_share:.0%}",
                )
            )
        if not all(_get(i, "action", "reversible") is True for i in inputs):
            floors.append(
                MatchedRule(
                    rule_id="principle-irreversible",
                    effect=Effect.APPROVE,
                    reason="an irreversible action is never autonomous",
                )
            )
        for item in inputs:
            granted = str(_get(item, "target", "autonomy"))
            target = _get(item, "target", "name")
            if granted == Autonomy.SHADOW.value:
                shadow = True
            elif granted in AUTONOMY_FLOOR:
                floors.append(
                    MatchedRule(
                        rule_id="autonomy-grant",
                        effect=AUTONOMY_FLOOR[granted],
                        reason=f"{target} is granted autonomy up to {granted}",
                    )
                )
            elif granted != Autonomy.AUTONOMOUS.value:
                floors.append(
                    MatchedRule(
                        rule_id="autonomy-grant",
                        effect=Effect.APPROVE,
                        reason=f"{target} has an unknown autonomy grant {granted!r}",
                    )
                )
    except (KeyError, TypeError, ValueError) as exc:
        floors.append(
            MatchedRule(
                rule_id="input",
                effect=Effect.DENY,
                reason=f"the policy input lacks {_first_line(exc)}: denied (fail closed)",
            )
        )
    unique = {(m.rule_id, m.effect, m.reason): m for m in floors}
    matched.extend(unique.values())
    final = max((m.effect for m in matched), key=lambda e: e.strictness)
    return Routing(final, tuple(matched), result.roles, result.quorum, shadow)
