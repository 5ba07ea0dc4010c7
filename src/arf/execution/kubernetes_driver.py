"""Kubernetes as a target platform, through the official `kubernetes` client.

`KubernetesDriver` implements the `TargetDriver` port, so the catalogued actions the executor
runs on the simulated platform run on a cluster unchanged: rollback_deploy is a rollout undo
to the ReplicaSet revision that ran the wanted image, revert_config sets an environment
variable back, increase_memory_limit patches the container's memory limit,
restart_service is a rollout restart, scale_service patches the replica count. Beyond the
catalog it deletes a pod and cordons or uncordons a node.

Every change is a JSON merge patch (RFC 7396), computed first against the object as read,
validated with `kubernetes-validate` against the configured Kubernetes version's schema, and
only then sent; a driver built with `dry_run=True` sends the same requests with
`dryRun=All` (server-side dry run: the API server validates and admits, nothing persists).
A target is `NAMESPACE/DEPLOYMENT` (or `DEPLOYMENT` in the default namespace) or
`node/NAME`. Operations are idempotent: setting a value twice is one change, a restart is
keyed by its idempotency key, a pod already gone counts as deleted.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import kubernetes_validate
import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from pydantic import JsonValue

from arf.core.clock import Clock, SystemClock
from arf.core.errors import ConfigError, ExecutionError

MERGE_PATCH = "application/merge-patch+json"
REVISION = "deployment.kubernetes.io/revision"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
RESTART_KEY = "arf.dev/restart-key"
CERTIFICATE = "arf.dev/certificate"  # a deployment annotation: its cert-manager Certificate
CERT_MANAGER = ("cert-manager.io", "v1", "certificates")
_QUANTITY = re.compile(r"^(\d+)(Ki|Mi|Gi|Ti|K|M|G|T)?$")
_TO_MIB = {
    None: 1 / 2**20,
    "Ki": 1 / 1024,
    "Mi": 1,
    "Gi": 1024,
    "Ti": 1024**2,
    "K": 1000 / 2**20,
    "M": 10**6 / 2**20,
    "G": 10**9 / 2**20,
    "T": 10**12 / 2**20,
}


def load_api(kubeconfig: Path | None) -> client.ApiClient:
    """An API client from a kubeconfig file, or the in-cluster service account when none is
    given and ARF runs in a pod, or ~/.kube/config."""
    try:
        if kubeconfig is None and "KUBERNETES_SERVICE_HOST" in os.environ:
            config.load_incluster_config()  # type: ignore[no-untyped-call]
            return client.ApiClient()
        path = str(kubeconfig) if kubeconfig else None
        api: client.ApiClient = config.new_client_from_config(config_file=path)  # type: ignore[no-untyped-call]
        return api
    except (config.ConfigException, OSError, ValueError) as exc:
        raise ConfigError(f"cannot load the Kubernetes configuration: {exc}") from exc


def merge_patch(target: JsonValue, patch: JsonValue) -> JsonValue:
    """RFC 7396: what the object becomes when the patch is applied."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def memory_mib(quantity: str | None) -> int:
    """A memory quantity in MiB (0 when absent or not a plain quantity)."""
    found = _QUANTITY.match(quantity or "")
    if not found:
        return 0
    return int(int(found.group(1)) * _TO_MIB[found.group(2)])


@dataclass(frozen=True)
class RolloutStatus:
    done: bool
    failed: bool
    message: str


def cpu_millicores(quantity: str | None) -> int:
    """A CPU quantity (`500m`, `2`, `1.5`) in millicores; 0 when there is none."""
    if not quantity:
        return 0
    text = str(quantity)
    try:
        if text.endswith("m"):
            return int(text[:-1])
        return int(float(text) * 1000)
    except ValueError:
        return 0


def rollout_status(deployment: Mapping[str, Any]) -> RolloutStatus:
    """`kubectl rollout status` for a Deployment, from its spec, generation and status."""
    metadata = deployment.get("metadata") or {}
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    if (metadata.get("generation") or 0) > (status.get("observedGeneration") or 0):
        return RolloutStatus(False, False, "waiting for the deployment spec update to be observed")
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Progressing" and (
            condition.get("reason") == "ProgressDeadlineExceeded"
        ):
            return RolloutStatus(False, True, "the rollout exceeded its progress deadline")
    wanted = spec.get("replicas", 1)
    updated = status.get("updatedReplicas") or 0
    if updated < wanted:
        return RolloutStatus(False, False, f"{updated} of {wanted} new replicas updated")
    if (status.get("replicas") or 0) > updated:
        old = (status.get("replicas") or 0) - updated
        return RolloutStatus(False, False, f"{old} old replicas pending termination")
    available = status.get("availableReplicas") or 0
    if available < updated:
        return RolloutStatus(False, False, f"{available} of {updated} updated replicas available")
    return RolloutStatus(True, False, "successfully rolled out")


def _tag(image: str) -> str:
    name = image.rsplit("/", 1)[-1]
    return name.split(":", 1)[1] if ":" in name else "latest"


class KubernetesDriver:
    """Implements `arf.core.ports.TargetDriver` for Deployments and Nodes."""

    OPERATIONS = frozenset(
        {
            "deploy",
            "set_config",
            "set_memory_limit",
            "set_cpu_limit",
            "set_hpa_max",
            "renew_certificate",
            "scale",
            "restart",
            "cordon",
            "delete_pod",
        }
    )

    def __init__(
        self,
        api: client.ApiClient,
        namespace: str = "default",
        *,
        dry_run: bool = False,
        kube_version: str = "1.31.0",
        clock: Clock | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        self._api = api
        self._apps = client.AppsV1Api(api)
        self._core = client.CoreV1Api(api)
        self._autoscaling = client.AutoscalingV2Api(api)
        self._custom = client.CustomObjectsApi(api)
        self._namespace = namespace
        self._dry_run = "All" if dry_run else None
        self._version = kube_version
        self._clock = clock or SystemClock()
        self._timeout_s = timeout_s  # every API call: a hung API server fails the step

    # ------------------------------------------------------------------ reading
    def _where(self, target: str) -> tuple[str, str]:
        namespace, _, name = target.rpartition("/")
        return namespace or self._namespace, name

    def _call(self, what: str, call: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """One API call, its JSON body as a dict. Bodies are read raw (not through the
        client's models), so an object the models cannot hold still reaches validation."""
        try:
            response = call(
                *args, _preload_content=False, _request_timeout=self._timeout_s, **kwargs
            )
            body = json.loads(response.data or b"{}")
        except ApiException as exc:
            reason = exc.reason or "error"
            raise ExecutionError(f"kubernetes: {what}: {exc.status} {reason}") from exc
        except (ValueError, OSError, urllib3.exceptions.HTTPError) as exc:  # body, network
            raise ExecutionError(f"kubernetes: {what}: {exc}") from exc
        return body if isinstance(body, dict) else {}

    def deployment(self, target: str) -> dict[str, Any]:
        namespace, name = self._where(target)
        return self._call(
            f"read deployment {namespace}/{name}",
            self._apps.read_namespaced_deployment,
            name,
            namespace,
        )

    def autoscaler(self, target: str) -> dict[str, Any] | None:
        """The HorizontalPodAutoscaler named like the deployment (kubectl autoscale's
        convention), or None when it has none."""
        namespace, name = self._where(target)
        try:
            return self._call(
                f"read horizontalpodautoscaler {namespace}/{name}",
                self._autoscaling.read_namespaced_horizontal_pod_autoscaler,
                name,
                namespace,
            )
        except ExecutionError as exc:
            if _unseen(exc):  # none, or not ours to read: the description omits it
                return None
            raise

    def certificate(
        self, target: str, deployment: Mapping[str, Any]
    ) -> tuple[str, dict[str, Any]] | None:
        """The cert-manager Certificate the deployment's `arf.dev/certificate` annotation
        names (in its namespace), or None when it names none."""
        annotations = (deployment.get("metadata") or {}).get("annotations") or {}
        name = annotations.get(CERTIFICATE)
        if not isinstance(name, str) or not name:
            return None
        namespace, _ = self._where(target)
        group, version, plural = CERT_MANAGER
        try:
            found = self._call(
                f"read certificate {namespace}/{name}",
                self._custom.get_namespaced_custom_object,
                group,
                version,
                namespace,
                plural,
                name,
            )
        except ExecutionError as exc:
            if _unseen(exc):  # no such Certificate, no cert-manager, or no RBAC to read it
                return None
            raise
        return name, found

    def revisions(
        self, target: str, deployment: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """The deployment's ReplicaSets, oldest revision first (what rollout undo reads)."""
        namespace, name = self._where(target)
        deployment = deployment if deployment is not None else self.deployment(target)
        uid = (deployment.get("metadata") or {}).get("uid")
        selector = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        listed = self._call(
            f"list replicasets of {namespace}/{name}",
            self._apps.list_namespaced_replica_set,
            namespace,
            label_selector=",".join(f"{k}={v}" for k, v in sorted(selector.items())),
        )
        owned = []
        for item in listed.get("items") or []:
            meta = item.get("metadata") or {}
            owners = meta.get("ownerReferences") or []
            mine = any(o.get("kind") == "Deployment" and o.get("name") == name for o in owners)
            if uid and any(o.get("uid") == uid for o in owners):
                mine = True
            labels = meta.get("labels") or {}
            if mine and all(labels.get(k) == v for k, v in selector.items()):
                owned.append(item)
        return sorted(
            owned,
            key=lambda rs: int(
                ((rs.get("metadata") or {}).get("annotations") or {}).get(REVISION, "0")
            ),
        )

    def describe(self, target: str) -> dict[str, JsonValue] | None:
        if target.startswith("node/"):
            node = self._call(f"read {target}", self._core.read_node, target.split("/", 1)[1])
            spec = node.get("spec") or {}
            return {"kind": "node", "unschedulable": bool(spec.get("unschedulable")), "replicas": 0}
        try:
            deployment = self.deployment(target)
        except ExecutionError:
            return None
        container = _first_container(deployment)
        history: list[str] = []
        config_history: dict[str, list[str]] = {}
        # every revision oldest first, then what runs now: consecutive repeats collapse
        templates = [_first_container(rs) for rs in self.revisions(target, deployment)]
        for template in [*templates, container]:
            _append_new(history, _tag(str(template.get("image", ""))))
            for key, value in _env(template).items():
                _append_new(config_history.setdefault(key, []), value)
        current = history[-1]
        limits = (container.get("resources") or {}).get("limits") or {}
        autoscaler = self.autoscaler(target)
        extra: dict[str, JsonValue] = {}
        if autoscaler is not None:
            extra["hpa_max_replicas"] = (autoscaler.get("spec") or {}).get("maxReplicas")
        certificate = self.certificate(target, deployment)
        if certificate is not None:
            left = self._seconds_left((certificate[1].get("status") or {}).get("notAfter"))
            if left is not None:
                extra["certificate_expires_in_s"] = left
        return {
            **extra,
            "cpu_limit_m": cpu_millicores(limits.get("cpu")),
            "kind": "service",
            "version": current,
            "release_history": history,
            "config": _env(container),
            "config_history": config_history,
            "memory_limit_mb": memory_mib(limits.get("memory")),
            "replicas": (deployment.get("spec") or {}).get("replicas", 1),
            "has_replica": False,
        }

    # ------------------------------------------------------------------ changing
    def _patch_deployment(
        self, target: str, current: Mapping[str, Any], patch: dict[str, Any]
    ) -> dict[str, Any]:
        """Validate what `current` (as just read) becomes under the patch, then send it."""
        return self._send_patch(
            "deployment", self._apps.patch_namespaced_deployment, target, current, patch
        )

    def _send_patch(
        self,
        kind: str,
        send: Any,
        target: str,
        current: Mapping[str, Any],
        patch: dict[str, Any],
    ) -> dict[str, Any]:
        """A JSON merge patch of the `kind` object named like the target: what `current`
        becomes under it is validated against the cluster's schema first, then it is sent
        (with `dryRun=All` on a dry-run driver)."""
        namespace, name = self._where(target)
        try:
            kubernetes_validate.validate(
                merge_patch(dict(current), patch), self._version, strict=False
            )
        except kubernetes_validate.ValidationError as exc:
            raise ExecutionError(
                f"kubernetes: the patched {kind} {namespace}/{name} would be invalid: {exc.message}"
            ) from exc
        return self._call(
            f"patch {kind} {namespace}/{name}",
            send,
            name,
            namespace,
            patch,
            dry_run=self._dry_run,
            field_manager="arf",
            _content_type=MERGE_PATCH,
        )

    def _containers_patch(self, deployment: Mapping[str, Any], change: Any) -> dict[str, Any]:
        """A merge patch replaces lists whole: send every container, the first one changed."""
        spec = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
        containers = [dict(c) for c in spec.get("containers") or []]
        if not containers:
            raise ExecutionError("kubernetes: the deployment has no containers")
        containers[0] = change(containers[0])
        return {"spec": {"template": {"spec": {"containers": containers}}}}

    def operations(self) -> frozenset[str]:
        return self.OPERATIONS

    def perform(
        self, operation: str, target: str, args: Mapping[str, JsonValue], idempotency_key: str
    ) -> dict[str, JsonValue]:
        if operation == "cordon":
            return self._cordon(target, bool(args.get("unschedulable", True)))
        if operation == "delete_pod":
            return self._delete_pod(target, str(args["pod"]))
        if operation == "set_hpa_max":
            return self._set_hpa_max(target, args.get("max_replicas"))
        if operation == "renew_certificate":
            return self._renew_certificate(target)
        deployment = self.deployment(target)
        if operation == "deploy":
            patch = self._undo_patch(target, deployment, str(args["version"]))
        elif operation == "set_config":
            key, value = str(args["key"]), str(args["value"])
            patch = self._containers_patch(deployment, lambda c: _with_env(c, key, value))
        elif operation == "set_memory_limit":
            limit = args.get("memory_mb")
            if not isinstance(limit, int) or limit <= 0:
                raise ExecutionError("memory_mb must be a positive integer")
            patch = self._containers_patch(deployment, lambda c: _with_memory(c, limit))
        elif operation == "set_cpu_limit":
            cpu = args.get("cpu_m")
            if not isinstance(cpu, int) or isinstance(cpu, bool) or cpu <= 0:
                raise ExecutionError("cpu_m must be a positive integer")
            patch = self._containers_patch(deployment, lambda c: _with_limit(c, "cpu", f"{cpu}m"))
        elif operation == "scale":
            replicas = args.get("replicas")
            if not isinstance(replicas, int) or replicas < 0:
                raise ExecutionError("replicas must be a non-negative integer")
            patch = {"spec": {"replicas": replicas}}
        elif operation == "restart":
            annotations = (
                ((deployment.get("spec") or {}).get("template") or {}).get("metadata") or {}
            ).get("annotations") or {}
            if annotations.get(RESTART_KEY) == _key_digest(idempotency_key):
                return {"ok": True, "replayed": True}
            at = self._clock.now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            patch = {
                "spec": {
                    "template": {
                        "metadata": {
                            "annotations": {
                                RESTARTED_AT: at,
                                RESTART_KEY: _key_digest(idempotency_key),
                            }
                        }
                    }
                }
            }
        else:
            raise ExecutionError(f"kubernetes: unsupported operation {operation!r}")
        self._patch_deployment(target, deployment, patch)
        return {"ok": True, "dry_run": self._dry_run is not None}

    def _undo_patch(
        self, target: str, deployment: Mapping[str, Any], version: str
    ) -> dict[str, Any]:
        """`kubectl rollout undo --to-revision`: the template of the newest ReplicaSet that ran
        the wanted image, without its pod-template-hash label."""
        matching = [
            rs
            for rs in self.revisions(target, deployment)
            if _tag(str(_first_container(rs).get("image", ""))) == version
        ]
        if not matching:
            raise ExecutionError(f"kubernetes: no earlier revision of {target} ran {version!r}")
        template = dict(((matching[-1].get("spec") or {}).get("template")) or {})
        metadata = dict(template.get("metadata") or {})
        labels = {
            k: v for k, v in (metadata.get("labels") or {}).items() if k != "pod-template-hash"
        }
        metadata["labels"] = labels
        template["metadata"] = metadata
        return {"spec": {"template": template}}

    def _set_hpa_max(self, target: str, ceiling: JsonValue) -> dict[str, JsonValue]:
        """Patch the autoscaler's maxReplicas, validated against its minReplicas and schema."""
        namespace, name = self._where(target)
        current = self.autoscaler(target)
        if current is None:
            raise ExecutionError(f"kubernetes: {namespace}/{name} has no autoscaler")
        least = (current.get("spec") or {}).get("minReplicas", 1)
        if not isinstance(ceiling, int) or isinstance(ceiling, bool) or ceiling < least:
            raise ExecutionError(f"max_replicas must be an integer of at least {least}")
        self._send_patch(
            "horizontalpodautoscaler",
            self._autoscaling.patch_namespaced_horizontal_pod_autoscaler,
            target,
            current,
            {"spec": {"maxReplicas": ceiling}},
        )
        return {"ok": True, "dry_run": self._dry_run is not None}

    def _seconds_left(self, not_after: object) -> float | None:
        if not isinstance(not_after, str):
            return None
        try:
            until = datetime.fromisoformat(not_after.replace("Z", "+00:00"))
        except ValueError:
            return None
        return round((until - self._clock.now()).total_seconds(), 1)

    def _renew_certificate(self, target: str) -> dict[str, JsonValue]:
        """What `cmctl renew` does: set the Certificate's Issuing condition, so cert-manager
        issues it again. A Certificate already issuing is left alone (a retried step)."""
        namespace, name = self._where(target)
        found = self.certificate(target, self.deployment(target))
        if found is None:
            raise ExecutionError(
                f"kubernetes: {namespace}/{name} names no cert-manager Certificate"
                f" (annotation {CERTIFICATE})"
            )
        certificate, body = found
        conditions = [
            c for c in (body.get("status") or {}).get("conditions") or [] if isinstance(c, dict)
        ]
        if any(c.get("type") == "Issuing" and c.get("status") == "True" for c in conditions):
            return {"ok": True, "replayed": True}
        conditions = [c for c in conditions if c.get("type") != "Issuing"]  # one, replaced
        at = self._clock.now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        issuing = {
            "type": "Issuing",
            "status": "True",
            "reason": "ManuallyTriggered",
            "message": "Certificate re-issuance triggered by ARF",
            "lastTransitionTime": at,
        }
        group, version, plural = CERT_MANAGER
        self._call(
            f"renew certificate {namespace}/{certificate}",
            self._custom.patch_namespaced_custom_object_status,
            group,
            version,
            namespace,
            plural,
            certificate,
            {"status": {"conditions": [*conditions, issuing]}},
            dry_run=self._dry_run,
            field_manager="arf",
            _content_type=MERGE_PATCH,
        )
        return {"ok": True, "dry_run": self._dry_run is not None}

    def _cordon(self, target: str, unschedulable: bool) -> dict[str, JsonValue]:
        if not target.startswith("node/"):
            raise ExecutionError(f"kubernetes: cordon needs a node target, not {target!r}")
        name = target.split("/", 1)[1]
        self._call(
            f"patch {target}",
            self._core.patch_node,
            name,
            {"spec": {"unschedulable": unschedulable}},
            dry_run=self._dry_run,
            field_manager="arf",
            _content_type=MERGE_PATCH,
        )
        return {"ok": True, "dry_run": self._dry_run is not None}

    def _delete_pod(self, target: str, pod: str) -> dict[str, JsonValue]:
        namespace, _ = self._where(target)
        try:
            self._core.delete_namespaced_pod(
                pod, namespace, dry_run=self._dry_run, _request_timeout=self._timeout_s
            )
        except ApiException as exc:
            if exc.status == 404:  # already gone: a retried deletion is done
                return {"ok": True, "replayed": True}
            raise ExecutionError(f"kubernetes: delete pod {namespace}/{pod}: {exc.status}") from exc
        except (OSError, urllib3.exceptions.HTTPError) as exc:
            raise ExecutionError(f"kubernetes: delete pod {namespace}/{pod}: {exc}") from exc
        return {"ok": True, "dry_run": self._dry_run is not None}


def _unseen(exc: ExecutionError) -> bool:
    """A read the API refused as not found (404) or not allowed (403)."""
    cause = exc.__cause__
    return isinstance(cause, ApiException) and cause.status in (403, 404)


def _append_new(values: list[str], value: str) -> None:
    if not values or values[-1] != value:
        values.append(value)


def _key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _first_container(obj: Mapping[str, Any]) -> dict[str, Any]:
    spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    containers = spec.get("containers") or [{}]
    first = containers[0]
    return first if isinstance(first, dict) else {}


def _env(container: Mapping[str, Any]) -> dict[str, str]:
    return {
        str(e["name"]): str(e.get("value", ""))
        for e in container.get("env") or []
        if isinstance(e, dict) and "name" in e and "valueFrom" not in e
    }


def _with_env(container: dict[str, Any], key: str, value: str) -> dict[str, Any]:
    env = [dict(e) for e in container.get("env") or []]
    for entry in env:
        if entry.get("name") == key:
            entry["value"] = value
            entry.pop("valueFrom", None)
            break
    else:
        env.append({"name": key, "value": value})
    return {**container, "env": env}


def _with_limit(container: dict[str, Any], resource: str, quantity: str) -> dict[str, Any]:
    resources = dict(container.get("resources") or {})
    limits = dict(resources.get("limits") or {})
    limits[resource] = quantity
    resources["limits"] = limits
    return {**container, "resources": resources}


def _with_memory(container: dict[str, Any], limit_mb: int) -> dict[str, Any]:
    return _with_limit(container, "memory", f"{limit_mb}Mi")
