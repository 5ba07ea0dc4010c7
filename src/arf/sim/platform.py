"""The simulated platform: services, releases, configuration, IaC, alert rules and emissions.

It implements two core ports: `TargetDriver` (what executors act on, with idempotency keys)
and `Telemetry` (what verification probes read). It emits what real tools would: Alertmanager
webhook bodies (with repeats), CloudEvents for changes, JSON log lines, Checkov reports.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import yaml
from pydantic import JsonValue

from arf.core.clock import Clock
from arf.core.errors import ExecutionError, InputError
from arf.sim.model import (
    AlertState,
    Emission,
    Health,
    IacResource,
    Release,
    ServiceState,
    SimState,
    health,
)


@dataclass(frozen=True)
class AlertRule:
    name: str
    severity: str
    for_s: float
    condition: Callable[[Health], bool]
    summary: str


ALERT_RULES: tuple[AlertRule, ...] = (
    AlertRule(
        "HighErrorRate",
        "critical",
        60,
        lambda h: h.error_rate > 0.05,
        "{service} error rate is {error:.0%}",
    ),
    AlertRule(
        "HighLatency",
        "warning",
        60,
        lambda h: h.latency_p99_ms > 1000,
        "{service} p99 latency is {latency:.0f} ms",
    ),
    AlertRule("ServiceDown", "critical", 30, lambda h: h.up < 1, "{service} is down"),
    AlertRule(
        "KubePodCrashLooping",
        "critical",
        30,
        lambda h: h.crash_looping,
        "{service} pods are restarting repeatedly",
    ),
    AlertRule(
        "KubeContainerOOMKilled",
        "critical",
        0,
        lambda h: h.oom_killed,
        "{service} containers are OOMKilled",
    ),
    AlertRule(  # kube-prometheus: CPU throttling over 25% of periods
        "CPUThrottlingHigh",
        "warning",
        60,
        lambda h: h.cpu_throttled,
        "{service} containers are CPU throttled",
    ),
    AlertRule(  # kube-prometheus: the HPA runs at its maximum and the load wants more
        "KubeHpaMaxedOut",
        "warning",
        60,
        lambda h: h.hpa_maxed_out,
        "{service} autoscaler runs at its maximum replicas",
    ),
    AlertRule(  # node-exporter mixin: under 5% space left
        "NodeFilesystemAlmostOutOfSpace",
        "critical",
        60,
        lambda h: h.disk_used_pct >= 95,
        "{service} node filesystem has under 5% space left",
    ),
    AlertRule(  # blackbox exporter (awesome-prometheus-alerts): probe_ssl_earliest_cert_expiry
        "BlackboxSslCertificateExpired",
        "critical",
        0,
        lambda h: h.certificate_expired,
        "{service} serves an expired TLS certificate",
    ),
    AlertRule(  # a log-derived alert (Loki ruler) on "password authentication failed"
        "PostgresqlAuthenticationFailures",
        "critical",
        60,
        lambda h: h.auth_failures,
        "{service} refuses its clients' logins",
    ),
    AlertRule(
        "DatabaseDiskErrors",
        "critical",
        0,
        lambda h: h.disk_errors,
        "{service} primary reports disk I/O errors",
    ),
)


@dataclass(frozen=True)
class IacCheck:
    resource_type: str
    name: str
    fails: Callable[[Mapping[str, JsonValue]], bool]


IAC_CHECKS: Mapping[str, IacCheck] = {
    "CKV_AWS_20": IacCheck(
        "aws_s3_bucket",
        "S3 Bucket has an ACL defined which allows public READ access.",
        lambda a: a.get("acl") in ("public-read", "public-read-write"),
    ),
    "CKV_AWS_19": IacCheck(
        "aws_s3_bucket",
        "Ensure all data stored in the S3 bucket is securely encrypted at rest",
        lambda a: not a.get("server_side_encryption"),
    ),
    "CKV_AWS_21": IacCheck(
        "aws_s3_bucket",
        "Ensure all data stored in the S3 bucket have versioning enabled",
        lambda a: a.get("versioning") is not True,
    ),
    "CKV_AWS_24": IacCheck(
        "aws_security_group",
        "Ensure no security groups allow ingress from 0.0.0.0:0 to port 22",
        lambda a: a.get("ssh_ingress_cidr") == "0.0.0.0/0",
    ),
}


def checks_for(resource: str) -> dict[str, IacCheck]:
    kind = resource.split(".", 1)[0]
    return {check_id: c for check_id, c in IAC_CHECKS.items() if c.resource_type == kind}


EPOCH_ZERO = "0001-01-01T00:00:00Z"
CERTIFICATE_LIFETIME_S = 90 * 86400.0  # what an ACME issuer such as Let's Encrypt issues


def iso_time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def default_state(seed: int, now: float) -> SimState:
    """The platform described by `data/services.yaml`, every service healthy."""
    text = resources.files("arf.sim").joinpath("data/services.yaml").read_text("utf-8")
    services: dict[str, ServiceState] = {}
    for item in yaml.safe_load(text)["services"]:
        name = item["name"]
        kind = item.get("kind", "service")
        version = "1.4.2" if kind == "service" else "15.4"
        services[name] = ServiceState(
            name=name,
            kind=kind,
            depends_on=list(item.get("depends_on", [])),
            version=version,
            release_history=[version],
            releases={version: Release(version=version)},
            config={"db_pool_size": "20", "log_level": "info"} if kind == "service" else {},
            config_history={"db_pool_size": ["20"], "log_level": ["info"]}
            if kind == "service"
            else {},
            memory_limit_mb=512 if kind == "service" else 4096,
            memory_demand_mb=300 if kind == "service" else 2500,
            replicas=3 if kind == "service" else 2,
            has_replica=kind == "datastore",
            base_latency_ms=120.0 if kind == "service" else 8.0,
        )
    iac = {
        "aws_s3_bucket.audit_logs": IacResource(
            name="aws_s3_bucket.audit_logs",
            file="/iac/tf/storage.tf",
            attributes={"acl": "private", "server_side_encryption": "aws:kms", "versioning": True},
        )
    }
    return SimState(seed=seed, now=now, services=services, iac=iac, last_eval=now)


class SimPlatform:
    """Implements `TargetDriver` and `Telemetry` over a `SimState`."""

    OPERATIONS = frozenset(
        {
            "deploy",
            "set_config",
            "set_memory_limit",
            "restart",
            "scale",
            "failover",
            "set_attribute",
            "set_cpu_limit",
            "set_hpa_max",
            "rotate_logs",
            "renew_certificate",
            "create_db_user",
            "disable_db_user",
        }
    )

    def __init__(self, state: SimState, clock: Clock, repeat_interval_s: float = 300.0) -> None:
        self.state = state
        self._clock = clock
        self._repeat = repeat_interval_s

    # ------------------------------------------------------------------ persistence
    @classmethod
    def load(cls, path: Path, clock: Clock) -> SimPlatform:
        try:
            return cls(SimState.model_validate_json(path.read_text("utf-8")), clock)
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot load the simulated platform from {path}: {exc}") from exc

    def save(self, path: Path) -> None:
        self.state.now = self.now()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.state.model_dump_json(), "utf-8")
        tmp.replace(path)

    def now(self) -> float:
        return self._clock.now().timestamp()

    def next_id(self, prefix: str) -> str:
        self.state.counter += 1
        return f"{prefix}-{self.state.counter:05d}"

    # ------------------------------------------------------------------ telemetry
    def health_of(self, name: str, memo: dict[str, Health] | None = None) -> Health:
        return health(self.state.services, name, self.now(), self.state.seed, memo)

    def sample(self, service: str, metric: str) -> float | None:
        if service not in self.state.services:
            return None
        current = self.health_of(service)
        state = self.state.services[service]
        values = {
            "error_rate": current.error_rate,
            "latency_p99_ms": current.latency_p99_ms,
            "up": current.up,
            # memory saturation: working set over limit (above 1.0 the container is OOM-killed)
            "saturation": round(state.memory_demand_mb / max(1, state.memory_limit_mb), 4),
        }
        return values.get(metric)

    def scan(self, resource: str) -> tuple[str, ...] | None:
        found = self.state.iac.get(resource)
        if found is None:
            return None
        return tuple(
            sorted(c for c, check in checks_for(resource).items() if check.fails(found.attributes))
        )

    # ------------------------------------------------------------------ emissions
    def emit(self, fmt: str, payload: JsonValue) -> None:
        self.state.outbox.append(Emission(format=fmt, payload=payload))

    def drain(self) -> list[Emission]:
        out, self.state.outbox = self.state.outbox, []
        return out

    def emit_change(self, kind: str, subject: str, data: dict[str, JsonValue], author: str) -> None:
        data = {**data, "author": author, "environment": "production"}
        self.emit(
            "cloudevent",
            {
                "specversion": "1.0",
                "id": self.next_id("chg"),
                "source": f"sim/{'terraform' if kind == 'iac' else 'deployer'}",
                "type": f"dev.arf.change.{kind}",
                "subject": subject,
                "time": iso_time(self.now()),
                "datacontenttype": "application/json",
                "data": data,
            },
        )

    def emit_scan(self, resource: str) -> None:
        found = self.state.iac[resource]
        failing = set(self.scan(resource) or ())
        checks: dict[str, list[JsonValue]] = {"failed_checks": [], "passed_checks": []}
        for check_id, check in checks_for(resource).items():
            entry: dict[str, JsonValue] = {
                "check_id": check_id,
                "check_name": check.name,
                "resource": resource,
                "file_path": found.file,
                "file_line_range": [1, 12],
                "severity": None,
                "check_result": {"result": "FAILED" if check_id in failing else "PASSED"},
            }
            checks["failed_checks" if check_id in failing else "passed_checks"].append(entry)
        self.emit(
            "checkov",
            [
                {
                    "check_type": "terraform",
                    "results": checks,  # type: ignore[dict-item]
                    "summary": {
                        "passed": len(checks["passed_checks"]),
                        "failed": len(checks["failed_checks"]),
                    },
                }
            ],
        )

    def tick(self) -> None:
        """Evaluate alert rules now; queue firing, repeat and resolved notifications and logs."""
        now = self.now()
        alerts: list[JsonValue] = []
        logs: list[str] = []
        memo: dict[str, Health] = {}
        for service in self.state.services.values():
            self.autoscale(service)
        for name in sorted(self.state.services):
            current = self.health_of(name, memo)
            for rule in ALERT_RULES:
                key = f"{rule.name}/{name}"
                alert = self.state.alerts.get(key)
                if alert is None:  # built once per rule and service, not on every tick
                    alert = self.state.alerts[key] = AlertState(rule=rule.name, service=name)
                if rule.condition(current):
                    if alert.active_since is None:
                        alert.active_since = now
                    due = now - alert.active_since >= rule.for_s
                    if due and (not alert.firing or now - alert.last_sent >= self._repeat):
                        alert.firing = True
                        alert.last_sent = now
                        alerts.append(self._alert(rule, name, current, alert, "firing", now))
                elif alert.active_since is not None:
                    if alert.firing:
                        alerts.append(self._alert(rule, name, current, alert, "resolved", now))
                    alert.active_since = None
                    alert.firing = False
            if current.error_rate > 0.05 and current.up > 0:
                trace = hashlib.sha256(f"{name}{now}".encode()).hexdigest()[:12]
                logs.append(
                    json.dumps(
                        {
                            "ts": iso_time(now),
                            "level": "error",
                            "service": name,
                            "msg": f"request failed after {int(current.latency_p99_ms)} ms"
                            f" (trace {trace})",
                        }
                    )
                )
            if current.auth_failures:  # what PostgreSQL logs for a refused login
                logs.append(
                    json.dumps(
                        {
                            "ts": iso_time(now),
                            "level": "error",
                            "service": name,
                            "msg": 'FATAL:  password authentication failed for user "app"',
                        }
                    )
                )
        if alerts:
            self.emit(
                "alertmanager",
                {
                    "version": "4",
                    "status": "firing",
                    "receiver": "arf",
                    "groupKey": "{}:{}",
                    "truncatedAlerts": 0,
                    "groupLabels": {},
                    "commonLabels": {},
                    "commonAnnotations": {},
                    "externalURL": "http://alertmanager.sim:9093",
                    "alerts": alerts,
                },
            )
        if logs:
            self.emit("logs", "\n".join(logs))
        self.state.last_eval = now

    def _alert(
        self,
        rule: AlertRule,
        service: str,
        current: Health,
        alert: AlertState,
        status: str,
        now: float,
    ) -> JsonValue:
        labels: dict[str, JsonValue] = {
            "alertname": rule.name,
            "service": service,
            "severity": rule.severity,
            "namespace": "prod",
            "job": service,
        }
        fp = hashlib.sha256(
            "\x1f".join(f"{k}={v}" for k, v in sorted(labels.items())).encode()
        ).hexdigest()[:16]
        return {
            "status": status,
            "labels": labels,
            "annotations": {
                "summary": rule.summary.format(
                    service=service, error=current.error_rate, latency=current.latency_p99_ms
                )
            },
            "startsAt": iso_time(alert.active_since or now),
            "endsAt": iso_time(now) if status == "resolved" else EPOCH_ZERO,
            "generatorURL": f"http://prometheus.sim:9090/graph?g0.expr={rule.name}",
            "fingerprint": fp,
        }

    # ------------------------------------------------------------------ target driver
    def describe(self, target: str) -> dict[str, JsonValue] | None:
        service = self.state.services.get(target)
        if service is not None:
            extra: dict[str, JsonValue] = {"flags": dict(service.flags)} if service.flags else {}
            if service.hpa_max_replicas is not None:
                extra["hpa_max_replicas"] = service.hpa_max_replicas
            if service.kind == "datastore":
                extra["client_role"] = "app"
                extra["client_login"] = "revoked" if service.credentials_revoked else "valid"
            if service.certificate_expires_at is not None:
                left = service.certificate_expires_at - self.now()
                extra["certificate_expires_in_s"] = round(left, 1)
            return {
                **extra,
                "cpu_limit_m": service.cpu_limit_m,
                "disk_used_pct": round(service.log_disk_pct + service.data_disk_pct, 1),
                "log_disk_pct": round(service.log_disk_pct, 1),
                "kind": service.kind,
                "version": service.version,
                "release_history": list(service.release_history),
                "config": dict(service.config),
                "config_history": {k: list(v) for k, v in service.config_history.items()},
                "memory_limit_mb": service.memory_limit_mb,
                "replicas": service.replicas,
                "has_replica": service.has_replica,
            }
        resource = self.state.iac.get(target)
        if resource is not None:
            return {
                "kind": "resource",
                "file": resource.file,
                "attributes": dict(resource.attributes),
                "replicas": 0,
            }
        return None

    def operations(self) -> frozenset[str]:
        return self.OPERATIONS

    @staticmethod
    def autoscale(service: ServiceState) -> None:
        """What a HorizontalPodAutoscaler does on each evaluation: the replicas the load
        needs, within its bounds (a manual scale outside them does not last)."""
        if service.hpa_max_replicas is None:
            return
        wanted = max(service.needed_replicas, service.hpa_min_replicas)
        service.replicas = min(service.hpa_max_replicas, wanted)

    def set_flag(self, service: str, flag: str, enabled: bool, author: str) -> bool:
        """Switch a feature flag (what the simulated flag service does): announced as a
        `feature_flag` change, as a flag service's audit webhook would. False: no service."""
        state = self.state.services.get(service)
        if state is None:
            return False
        before = state.flags.get(flag, False)
        state.flags[flag] = enabled
        if before != enabled:
            data: dict[str, JsonValue] = {
                "key": flag,
                "from": "on" if before else "off",
                "to": "on" if enabled else "off",
            }
            self.emit_change("feature_flag", service, data, author)
        return True

    def perform(
        self, operation: str, target: str, args: Mapping[str, JsonValue], idempotency_key: str
    ) -> dict[str, JsonValue]:
        done = self.state.applied.get(idempotency_key)
        if done is not None:
            return {**done, "replayed": True}
        result = self._apply(operation, target, args)
        self.state.applied[idempotency_key] = result
        return result

    def _apply(
        self, operation: str, target: str, args: Mapping[str, JsonValue]
    ) -> dict[str, JsonValue]:
        if operation == "set_attribute":
            resource = self.state.iac.get(target)
            if resource is None:
                raise ExecutionError(f"no IaC resource {target!r}")
            attribute = str(args["attribute"])
            before = resource.attributes.get(attribute)
            resource.attributes[attribute] = args["value"]
            self.emit_change(
                "iac",
                target,
                {"key": attribute, "from": str(before), "to": str(args["value"])},
                "arf",
            )
            self.emit_scan(target)
            return {"ok": True}
        service = self.state.services.get(target)
        if service is None:
            raise ExecutionError(f"no service {target!r}")
        if operation == "deploy":
            version = str(args["version"])
            if version not in service.releases:
                raise ExecutionError(f"{target} has no release {version!r}")
            before = service.version
            service.version = version
            service.release_history.append(version)
            self.emit_change("deploy", target, {"from": before, "to": version}, "arf")
        elif operation == "set_config":
            key, value = str(args["key"]), str(args["value"])
            before = service.config.get(key, "")
            service.config[key] = value
            service.config_history.setdefault(key, []).append(value)
            self.emit_change("config", target, {"key": key, "from": before, "to": value}, "arf")
        elif operation == "set_memory_limit":
            limit = args["memory_mb"]
            if not isinstance(limit, int) or limit <= 0:
                raise ExecutionError("memory_mb must be a positive integer")
            service.memory_limit_mb = limit
        elif operation == "restart":
            service.up = True
        elif operation == "scale":
            replicas = args["replicas"]
            if not isinstance(replicas, int) or replicas < 0:
                raise ExecutionError("replicas must be a non-negative integer")
            before_replicas = service.replicas
            service.replicas = replicas  # an autoscaler takes it back on its next evaluation
            self.emit_change(
                "scale", target, {"from": str(before_replicas), "to": str(replicas)}, "arf"
            )
        elif operation == "set_cpu_limit":
            limit = args.get("cpu_m")
            if not isinstance(limit, int) or limit <= 0:
                raise ExecutionError("cpu_m must be a positive integer")
            service.cpu_limit_m = limit
        elif operation == "set_hpa_max":
            ceiling = args.get("max_replicas")
            if service.hpa_max_replicas is None:
                raise ExecutionError(f"{target} has no autoscaler")
            if not isinstance(ceiling, int) or ceiling < service.hpa_min_replicas:
                raise ExecutionError("max_replicas must be an integer over the autoscaler's min")
            service.hpa_max_replicas = ceiling
            self.autoscale(service)
        elif operation in ("create_db_user", "disable_db_user"):
            if service.kind != "datastore" or args.get("role") != "app":
                raise ExecutionError(f"{target} has no client role {args.get('role')!r}")
            service.credentials_revoked = operation == "disable_db_user"
        elif operation == "renew_certificate":
            if service.certificate_expires_at is None:
                raise ExecutionError(f"{target} has no certificate ARF tracks")
            service.certificate_expires_at = self.now() + CERTIFICATE_LIFETIME_S
        elif operation == "rotate_logs":
            service.log_disk_pct = min(service.log_disk_pct, 5.0)  # rotated, old ones deleted
        elif operation == "failover":
            if not service.has_replica:
                raise ExecutionError(f"{target} has no replica")
            service.disk_errors = False
            service.has_replica = False
        else:
            raise ExecutionError(f"unknown operation {operation!r}")
        return {"ok": True}
