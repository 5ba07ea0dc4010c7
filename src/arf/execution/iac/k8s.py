"""Curated fixes for Kubernetes manifests, applied round-trip (ruamel.yaml) so that comments,
key order and layout survive and the diff stays as small as the fix itself."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Mapping
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from arf.core.errors import ExecutionError

POD_TEMPLATE_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")
DIGEST = re.compile(r"^[^\s@]+@sha256:[0-9a-f]{64}$")
STYLES = ((2, 4, 2), (2, 2, 0), (2, 4, 4))  # (mapping, sequence, offset) indents tried
DEFAULTS = {
    "cpu_request": "100m",
    "cpu_limit": "500m",
    "memory_request": "128Mi",
    "memory_limit": "256Mi",
    "run_as_user": 10001,
}

Params = Mapping[str, Any]
Fix = Callable[[CommentedMap, Params], None]


def _yaml(style: tuple[int, int, int]) -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=style[0], sequence=style[1], offset=style[2])
    return yaml


def _dump(yaml: YAML, documents: list[Any]) -> str:
    out = io.StringIO()
    yaml.dump_all(documents, out)
    return out.getvalue()


def load(text: str) -> tuple[YAML, list[Any]]:
    """The documents, with the indentation style that reproduces the file byte for byte."""
    for style in STYLES:
        yaml = _yaml(style)
        documents = list(yaml.load_all(text))
        if _dump(yaml, documents) == text:
            return yaml, documents
    raise ExecutionError("the manifest's layout cannot be kept: refusing to rewrite the file")


def _pod_spec(document: CommentedMap) -> CommentedMap:
    kind = str(document.get("kind"))
    if kind == "Pod":
        steps: tuple[str, ...] = ("spec",)
    elif kind == "CronJob":
        steps = ("spec", "jobTemplate", "spec", "template", "spec")
    elif kind in POD_TEMPLATE_KINDS:
        steps = ("spec", "template", "spec")
    else:
        raise ExecutionError(f"{kind} has no pod template")
    node: Any = document
    for step in steps:
        node = node.get(step) if isinstance(node, Mapping) else None
    if not isinstance(node, CommentedMap):
        raise ExecutionError(f"{kind} has no pod spec")
    return node


def _containers(document: CommentedMap) -> list[CommentedMap]:
    spec = _pod_spec(document)
    found: list[CommentedMap] = []
    for key in ("initContainers", "containers"):
        found.extend(spec.get(key) or [])
    if not found:
        raise ExecutionError("the workload declares no containers")
    return found


def _child(parent: CommentedMap, key: str) -> CommentedMap:
    if not isinstance(parent.get(key), Mapping):
        parent[key] = CommentedMap()
    child = parent[key]
    assert isinstance(child, CommentedMap)
    return child


def _security(container: CommentedMap) -> CommentedMap:
    return _child(container, "securityContext")


def _probe(kind: str) -> Fix:
    def fix(document: CommentedMap, params: Params) -> None:
        for container in _containers(document):
            if kind in container:
                continue
            ports = [p.get("containerPort") for p in container.get("ports") or []]
            port = params.get("port") or next((p for p in ports if p), None)
            if port is None:
                raise ExecutionError(f"{container.get('name')}: no port to probe (give `port`)")
            container[kind] = CommentedMap([("tcpSocket", CommentedMap([("port", port)]))])

    return fix


def _resource(section: str, name: str, default_key: str) -> Fix:
    def fix(document: CommentedMap, params: Params) -> None:
        for container in _containers(document):
            values = _child(_child(container, "resources"), section)
            values.setdefault(name, params.get(default_key, DEFAULTS[default_key]))

    return fix


def _pin_image(document: CommentedMap, params: Params) -> None:
    image = str(params.get("image") or "")
    if not DIGEST.match(image) or image.split("@")[0].endswith(":latest"):
        raise ExecutionError(
            "pinning needs `image` as name:tag@sha256:<digest> (not latest); ARF never guesses"
            " a digest"
        )
    containers = [c for c in _containers(document) if c.get("name") == params.get("container")]
    if not containers:
        containers = _containers(document)
        if len(containers) != 1:
            raise ExecutionError("several containers: name the one to pin (`container`)")
    containers[0]["image"] = image


def _set_security(key: str, value: Any) -> Fix:
    def fix(document: CommentedMap, params: Params) -> None:
        for container in _containers(document):
            _security(container)[key] = value

    return fix


def _non_root(document: CommentedMap, params: Params) -> None:
    for container in _containers(document):
        context = _security(container)
        context["runAsNonRoot"] = True
        if context.get("runAsUser") == 0:
            context["runAsUser"] = int(params.get("run_as_user", DEFAULTS["run_as_user"]))


def _high_uid(document: CommentedMap, params: Params) -> None:
    for container in _containers(document):
        context = _security(container)
        if int(context.get("runAsUser", 0)) < 10000:
            context["runAsUser"] = int(params.get("run_as_user", DEFAULTS["run_as_user"]))


def _drop_capabilities(document: CommentedMap, params: Params) -> None:
    for container in _containers(document):
        capabilities = _child(_security(container), "capabilities")
        dropped = capabilities.get("drop")
        if not isinstance(dropped, list):
            capabilities["drop"] = CommentedSeq(["ALL"])
        elif "ALL" not in dropped:
            dropped.append("ALL")


def _pod_security_context(document: CommentedMap, params: Params) -> None:
    spec = _pod_spec(document)
    if not isinstance(spec.get("securityContext"), Mapping) or not spec["securityContext"]:
        spec["securityContext"] = CommentedMap([("runAsNonRoot", True)])
    for container in _containers(document):
        _security(container)


def _seccomp(document: CommentedMap, params: Params) -> None:
    context = _child(_pod_spec(document), "securityContext")
    context["seccompProfile"] = CommentedMap([("type", "RuntimeDefault")])


def _no_token(document: CommentedMap, params: Params) -> None:
    _pod_spec(document)["automountServiceAccountToken"] = False


FIXES: Mapping[str, Fix] = {
    "liveness_probe": _probe("livenessProbe"),
    "readiness_probe": _probe("readinessProbe"),
    "cpu_request": _resource("requests", "cpu", "cpu_request"),
    "cpu_limit": _resource("limits", "cpu", "cpu_limit"),
    "memory_request": _resource("requests", "memory", "memory_request"),
    "memory_limit": _resource("limits", "memory", "memory_limit"),
    "pin_image": _pin_image,
    "not_privileged": _set_security("privileged", False),
    "no_privilege_escalation": _set_security("allowPrivilegeEscalation", False),
    "read_only_root": _set_security("readOnlyRootFilesystem", True),
    "non_root": _non_root,
    "high_uid": _high_uid,
    "drop_capabilities": _drop_capabilities,
    "pod_security_context": _pod_security_context,
    "seccomp_default": _seccomp,
    "no_token_automount": _no_token,
}


def find_workload(documents: list[Any], resource: str) -> CommentedMap:
    """The document a Checkov resource id names: `Kind.namespace.name`, or for a pod derived
    from a workload, `Pod.namespace.name.<container>-<name>`."""
    parts = resource.split(".")
    if len(parts) < 3:
        raise ExecutionError(f"cannot read the resource id {resource!r}")
    kind, namespace, name = parts[0], parts[1], parts[2]
    for document in documents:
        if not isinstance(document, Mapping):
            continue
        meta = document.get("metadata") or {}
        if meta.get("name") != name or meta.get("namespace", "default") != namespace:
            continue
        if document.get("kind") == kind or (kind == "Pod" and document.get("kind") != "Pod"):
            return document  # type: ignore[return-value]
    raise ExecutionError(f"{resource} is not in the manifest")


def apply_fix(text: str, resource: str, fix: str, params: Params) -> str:
    yaml, documents = load(text)
    FIXES[fix](find_workload(documents, resource), params)
    return _dump(yaml, documents)


def network_policy(text: str, resource: str) -> tuple[str, str]:
    """(file name, manifest) of a NetworkPolicy for the workload: ingress only to the ports
    its containers declare, from anywhere (it closes undeclared ports, never a declared one)."""
    _, documents = load(text)
    workload = find_workload(documents, resource)
    meta = workload["metadata"]
    labels = _pod_labels(workload)
    ports = [
        p["containerPort"]
        for c in _containers(workload)
        for p in c.get("ports") or []
        if "containerPort" in p
    ]
    if not labels:
        raise ExecutionError("the workload's pods carry no labels to select them by")
    yaml = _yaml(STYLES[0])
    policy = CommentedMap(
        [
            ("apiVersion", "networking.k8s.io/v1"),
            ("kind", "NetworkPolicy"),
            (
                "metadata",
                CommentedMap(
                    [("name", f"{meta['name']}-ingress"), ("namespace", meta.get("namespace"))]
                ),
            ),
            (
                "spec",
                CommentedMap(
                    [
                        ("podSelector", CommentedMap([("matchLabels", dict(labels))])),
                        ("policyTypes", ["Ingress"]),
                        ("ingress", [{"ports": [{"port": p, "protocol": "TCP"} for p in ports]}]),
                    ]
                ),
            ),
        ]
    )
    return f"{meta['name']}-networkpolicy.yaml", _dump(yaml, [policy])


def _pod_labels(workload: CommentedMap) -> Mapping[str, str]:
    if workload.get("kind") == "Pod":
        return dict(workload["metadata"].get("labels") or {})
    template = workload["spec"].get("template") or {}
    return dict((template.get("metadata") or {}).get("labels") or {})
