"""The `hosts` platform: catalogued operations bound to the executors a team already has.

Services run on hosts you manage: their state comes from a deploy API (HTTP), operations go
through allowlisted HTTP actions (a deploy hook, a flag) and Ansible playbooks (a config
line, a restart), and IaC resources are fixed in a Git repository proved by a Checkov
re-scan. One YAML file (`ARF_PLATFORM_FILE`) binds them:

    describe:                          # a service's state as a JSON object
      url: "http://deploy.internal/api/services/{target}"
      auth: {type: bearer, token_env: DEPLOY_TOKEN}
    operations:                        # catalogued operation -> allowlisted action
      deploy: {http: set_release, with: {service: target, version: version}}
      set_config: {ansible: set_config, with: {service: target, key: key, value: value}}
      restart: {ansible: restart_service, with: {service: target}}
    iac:
      repository: /srv/iac             # a git work tree
      resources: ["aws_*.*"]           # which targets are IaC resources (globs)
      scanner: [checkov, --check, "CKV_AWS_20,CKV_AWS_21"]
      pull_requests:                   # optional: push the fix branch and open a request
        provider: github               # or gitlab
        api_url: https://api.github.com
        project: acme/infrastructure   # GitLab: a project id or namespace/path
        token_env: GITHUB_TOKEN
        remote: origin                 # the default
        base: main                     # the default
    playbooks: playbooks               # relative to this file
    http_actions: {...}                # as in arf.execution.http_actions
    ansible_actions: {...}             # as in arf.execution.ansible_actions

`with` maps each parameter of the bound action to `target` or to an argument of the
operation; nothing else reaches an executor. The catalog's declared rollback (computed from
the captured pre-state) runs through the same bindings, so a rollback uses the transport the
forward step used. An IaC fix is `arf.execution.iac.engine.remediate` on a branch named after
the incident; its rollback is `git revert`. With `pull_requests`, the branch is pushed and a
pull request (GitHub) or merge request (GitLab) opened for it; the rollback pushes the revert
and closes the request (`arf.execution.iac.forges`). Retried operations are idempotent: HTTP
calls carry the step's key, playbooks receive it as `arf_idempotency_key`, a fix whose branch
exists is not made again, and a request that exists for the branch is not opened again.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from pydantic import JsonValue

from arf.core.errors import ConfigError, ExecutionError
from arf.execution import ansible_actions, http_actions
from arf.execution.iac import forges
from arf.execution.iac.engine import (
    CheckCatalog,
    CheckovScanner,
    CommitScanCache,
    Finding,
    FixResult,
    GitRepo,
    remediate,
    revert,
)
from arf.execution.params import Param

_TARGET = Param("target", "string", r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
EXECUTORS = ("http", "ansible")


@dataclass(frozen=True)
class Binding:
    executor: str  # http | ansible
    action: str
    with_: Mapping[str, str]  # action param -> "target" or an operation argument


@dataclass(frozen=True)
class IacSettings:
    repository: Path
    resources: tuple[str, ...]
    scanner: tuple[str, ...]
    pull_requests: forges.ForgeSettings | None = None


@dataclass(frozen=True)
class HostsConfig:
    describe: http_actions.HttpAction
    operations: Mapping[str, Binding]
    http: Mapping[str, http_actions.HttpAction]
    ansible: Mapping[str, ansible_actions.AnsibleAction]
    playbooks: Path
    iac: IacSettings | None


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: must be a mapping")
    return value


def load_config(path: Path, default_scanner: Sequence[str]) -> HostsConfig:
    """Read and check a platform file; every problem is a ConfigError naming the file."""
    origin = str(path)
    try:
        text = path.read_text("utf-8")
        raw = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read the platform file {path}: {exc}") from exc
    raw = _mapping(raw, origin)
    describe_raw = _mapping(raw.get("describe"), f"{origin}: describe")
    call = http_actions.Call("GET", str(describe_raw.get("url", "")))
    declared = {
        "describe": {
            "method": "GET",
            "url": call.url,
            "auth": describe_raw.get("auth") or {"type": "none"},
            "params": {"target": {"type": "string", "pattern": _TARGET.pattern}},
            "capture": {"url": call.url},
            "rollback": "none",
        }
    }
    describe = http_actions.load_actions(yaml.safe_dump({"http_actions": declared}), origin)[
        "describe"
    ]
    http = http_actions.load_actions(text, origin) if raw.get("http_actions") else {}
    playbooks = (path.parent / str(raw.get("playbooks", "playbooks"))).resolve()
    ansible = (
        ansible_actions.load_actions(text, origin, playbooks) if raw.get("ansible_actions") else {}
    )
    operations: dict[str, Binding] = {}
    for operation, spec in _mapping(raw.get("operations") or {}, f"{origin}: operations").items():
        where = f"{origin}: operations.{operation}"
        spec = _mapping(spec, where)
        kinds = [k for k in EXECUTORS if k in spec]
        if len(kinds) != 1:
            raise ConfigError(f"{where}: name exactly one of {', '.join(EXECUTORS)}")
        name = str(spec[kinds[0]])
        known: Mapping[str, Any] = http if kinds[0] == "http" else ansible
        if name not in known:
            raise ConfigError(f"{where}: {kinds[0]} action {name!r} is not declared")
        with_ = {str(k): str(v) for k, v in _mapping(spec.get("with") or {}, where).items()}
        missing = set(known[name].params) - set(with_)
        if missing:
            raise ConfigError(f"{where}: `with` gives no value for {sorted(missing)[0]!r}")
        operations[str(operation)] = Binding(kinds[0], name, with_)
    iac = None
    if raw.get("iac") is not None:
        iac_raw = _mapping(raw["iac"], f"{origin}: iac")
        repository = (path.parent / str(iac_raw.get("repository", ""))).resolve()
        if not (repository / ".git").exists():
            raise ConfigError(f"{origin}: iac.repository {repository} is not a git work tree")
        scanner = iac_raw.get("scanner") or list(default_scanner)
        if not isinstance(scanner, list) or not scanner:
            raise ConfigError(f"{origin}: iac.scanner must be a command as a list")
        pulls = None
        if iac_raw.get("pull_requests") is not None:
            where = f"{origin}: iac.pull_requests"
            pulls = forges.load_settings(_mapping(iac_raw["pull_requests"], where), where)
            try:
                GitRepo(repository).git("remote", "get-url", pulls.remote)
            except ExecutionError as exc:
                raise ConfigError(f"{where}: {repository} has no remote {pulls.remote!r}") from exc
        iac = IacSettings(
            repository,
            tuple(str(r) for r in iac_raw.get("resources") or ["*.*"]),
            tuple(str(s) for s in scanner),
            pulls,
        )
    return HostsConfig(describe, operations, http, ansible, playbooks, iac)


def default_scanner(configured: str | None) -> list[str]:
    """Checkov as configured (`ARF_CHECKOV`: its own environment), else `checkov` on PATH."""
    return [configured or "checkov"]


class HostsDriver:
    """Implements `arf.core.ports.TargetDriver` over the bindings of a platform file."""

    def __init__(
        self,
        config: HostsConfig,
        client: httpx.Client,
        environ: Mapping[str, str] | None = None,
        checks: CheckCatalog | None = None,
    ) -> None:
        self._config = config
        env = dict(os.environ if environ is None else environ)
        self._http = http_actions.HttpExecutor(
            {**config.http, "describe": config.describe}, client, env
        )
        self._ansible = ansible_actions.AnsibleExecutor(config.ansible, config.playbooks)
        self._checks = checks or CheckCatalog.packaged()
        self._repo = GitRepo(config.iac.repository) if config.iac else None
        self._scanner = (
            CommitScanCache(CheckovScanner(list(config.iac.scanner)), self._repo)
            if config.iac and self._repo
            else None
        )
        pulls = config.iac.pull_requests if config.iac else None
        self._pulls = (
            forges.PullRequests(pulls, forges.connect(pulls, client, env), self._repo)
            if pulls is not None and self._repo is not None
            else None
        )

    # ------------------------------------------------------------------ IaC resources
    def is_resource(self, target: str) -> bool:
        iac = self._config.iac
        return iac is not None and any(fnmatch.fnmatchcase(target, g) for g in iac.resources)

    def failing(self, resource: str) -> tuple[str, ...] | None:
        """The checks failing on a resource now (a re-scan; cached per clean commit)."""
        if self._repo is None or self._scanner is None:
            return None
        try:
            found = self._scanner.scan(self._repo.root)
        except ExecutionError:
            return None
        return tuple(sorted({f.check_id for f in found if f.resource == resource}))

    def _findings(self, resource: str) -> list[Finding]:
        assert self._repo is not None and self._scanner is not None
        return [f for f in self._scanner.scan(self._repo.root) if f.resource == resource]

    def _describe_resource(self, target: str) -> dict[str, JsonValue]:
        assert self._repo is not None
        failing = self.failing(target)
        return {
            "kind": "resource",
            "repository": str(self._repo.root),
            "branch": self._repo.branch(),
            "head": self._repo.head(),
            "failing": list(failing) if failing is not None else None,
        }

    def _fix(self, target: str, args: Mapping[str, JsonValue], key: str) -> str:
        assert self._repo is not None and self._scanner is not None
        check = str(args.get("check_id", ""))
        incident = key.split("/", 1)[0]
        branch = f"arf/{incident}-{check}".lower()
        commit = self._fix_commit(branch, incident)
        if args.get("revert"):
            if commit is None:
                return f"no fix of {check} by {incident} to revert"
            done = self._revert(branch, commit, check, target, incident)
            if self._pulls is not None:
                why = (
                    f"ARF {incident} rolled this fix back ({done}): the remediation did not verify."
                )
                done += "; " + self._pulls.withdraw(branch, why)
            return done
        if commit is not None:
            done = f"{check} already fixed on {branch} ({commit[:12]})"  # a retried step
        else:
            findings = [f for f in self._findings(target) if f.check_id == check]
            if not findings:
                raise ExecutionError(f"{check} is not failing on {target}: nothing to fix")
            result = remediate(self._repo, self._scanner, self._checks, findings[0], {}, incident)
            commit = result.commit
            done = f"{check} fixed on {branch} ({commit[:12]}): {', '.join(result.files)}"
        if self._pulls is not None:
            body = (
                self._repo.git("log", "-1", "--format=%B", commit)
                + f"\n\nOpened by ARF for incident {incident}. If the remediation does not"
                " verify, ARF pushes a revert and closes this request."
            )
            title = f"ARF {incident}: fix {check} on {target}"
            done += "; " + self._pulls.propose(branch, title, body)
        return done

    def _revert(self, branch: str, commit: str, check: str, target: str, incident: str) -> str:
        assert self._repo is not None
        if self._repo.branch() != branch:
            self._repo.git("checkout", "-q", branch)
        if self._repo.git("log", "-1", "--format=%s").startswith(f"ARF {incident}: revert"):
            return f"{check} fix already reverted on {branch}"  # a retried rollback
        finding = Finding(check, target, "")
        done = revert(self._repo, FixResult(finding, branch, commit, "", (), ""), incident)
        return f"reverted {commit[:12]} on {branch} as {done[:12]}"

    def _fix_commit(self, branch: str, incident: str) -> str | None:
        assert self._repo is not None
        try:
            log = self._repo.git("log", "--format=%H %s", branch, "--")
        except ExecutionError:
            return None  # no such branch
        for line in log.splitlines():
            commit, _, subject = line.partition(" ")
            if subject.startswith(f"ARF {incident}: fix"):
                return commit
        return None

    # ------------------------------------------------------------------ TargetDriver
    def describe(self, target: str) -> Mapping[str, JsonValue] | None:
        if self.is_resource(target):
            return self._describe_resource(target)
        try:
            state = self._http.capture("describe", {"target": target}, f"describe/{target}")
        except ExecutionError:
            return None
        return state or None

    def operations(self) -> frozenset[str]:
        """What the platform file binds, and IaC fixes when it names a repository."""
        iac = {"set_attribute"} if self._config.iac is not None else set()
        return frozenset(self._config.operations) | iac

    def perform(
        self, operation: str, target: str, args: Mapping[str, JsonValue], idempotency_key: str
    ) -> Mapping[str, JsonValue]:
        if self.is_resource(target):
            if operation != "set_attribute":
                raise ExecutionError(f"{operation} does not apply to IaC resource {target}")
            return {"result": self._fix(target, args, idempotency_key)}
        binding = self._config.operations.get(operation)
        if binding is None:
            raise ExecutionError(f"the platform file binds no action to {operation!r}")
        params: dict[str, Any] = {}
        for name, source in binding.with_.items():
            if source == "target":
                params[name] = target
            elif source in args:
                params[name] = args[source]
            else:
                raise ExecutionError(f"{operation} has no argument {source!r} for {name}")
        if binding.executor == "http":
            return {"result": self._http.run(binding.action, params, idempotency_key)}
        outcome = self._ansible.run(binding.action, params, idempotency_key)
        return {"result": f"{binding.action}: {outcome.summary()}"}
