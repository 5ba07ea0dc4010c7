"""CI/CD failures: GitHub `workflow_run` and `check_run` webhooks, GitLab pipeline hooks.

A failed run (failure, timed_out, startup_failure; GitLab `failed`) is a firing event —
high on the repository's default branch, medium elsewhere. A later successful run of the
same workflow on the same branch resolves it. Runs still in progress are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from arf.core.errors import InputError
from arf.core.records import Severity, Signal, SignalKind, SignalStatus
from arf.signals.alertmanager import ParseResult
from arf.signals.normalise import fingerprint, parse_time, payload_digest

FAILED = frozenset({"failure", "timed_out", "startup_failure", "failed"})
SUCCEEDED = frozenset({"success", "succeeded"})


def looks_like_cicd(payload: object) -> bool:
    return isinstance(payload, Mapping) and (
        "workflow_run" in payload
        or "check_run" in payload
        or payload.get("object_kind") == "pipeline"
    )


def _gitlab_time(value: object) -> object:
    """GitLab hooks write `2026-11-24 13:05:00 UTC`; make that RFC 3339."""
    if isinstance(value, str) and value.endswith(" UTC"):
        return value[:-4].replace(" ", "T") + "+00:00"
    return value


def _m(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _signal(
    system: str,
    repository: str,
    pipeline: str,
    branch: str,
    default_branch: str,
    outcome: str,
    when: object,
    url: str,
    commit: str,
    received_at: datetime,
    payload: Mapping[str, Any],
) -> Signal | None:
    outcome = outcome.lower()
    if outcome not in FAILED and outcome not in SUCCEEDED:
        return None  # in progress, cancelled, skipped, neutral: nothing to remediate
    if not repository or not pipeline:
        raise InputError(f"{system}: the payload names no repository or workflow")
    observed = parse_time(when, f"{system} time") if when else received_at
    stable = "ci:" + fingerprint(system, repository, pipeline, branch)
    failed = outcome in FAILED
    service = repository.rsplit("/", 1)[-1]
    return Signal(
        signal_id="sig-" + fingerprint(stable, outcome, observed.isoformat(), commit)[:20],
        source=system,
        kind=SignalKind.EVENT,
        fingerprint=stable,
        service=service,
        resource=f"{repository}@{branch}"[:500],
        severity=(Severity.HIGH if branch == default_branch else Severity.MEDIUM)
        if failed
        else Severity.INFO,
        status=SignalStatus.FIRING if failed else SignalStatus.RESOLVED,
        title=f"CI {pipeline} {outcome} on {repository}@{branch}"[:2000],
        body=url[:2000],
        labels={"pipeline": pipeline[:200], "branch": branch[:200], "outcome": outcome},
        attributes={"change_type": "ci", "commit": commit, "url": url, "repository": repository},
        observed_at=observed,
        received_at=received_at,
        payload_digest=payload_digest(dict(payload)),
    )


def parse_cicd(payload: object, received_at: datetime) -> ParseResult:
    if not isinstance(payload, Mapping) or not looks_like_cicd(payload):
        raise InputError("ci: expected a GitHub workflow_run/check_run or GitLab pipeline hook")
    repo = _m(payload.get("repository"))
    if "workflow_run" in payload:
        run = _m(payload["workflow_run"])
        signal = _signal(
            "github-actions",
            str(repo.get("full_name") or ""),
            str(run.get("name") or ""),
            str(run.get("head_branch") or ""),
            str(repo.get("default_branch") or "main"),
            str(run.get("conclusion") or ""),
            run.get("updated_at"),
            str(run.get("html_url") or ""),
            str(run.get("head_sha") or ""),
            received_at,
            payload,
        )
    elif "check_run" in payload:
        check = _m(payload["check_run"])
        suite = _m(check.get("check_suite"))
        signal = _signal(
            "github-checks",
            str(repo.get("full_name") or ""),
            str(check.get("name") or ""),
            str(suite.get("head_branch") or ""),
            str(repo.get("default_branch") or "main"),
            str(check.get("conclusion") or ""),
            check.get("completed_at"),
            str(check.get("html_url") or ""),
            str(check.get("head_sha") or ""),
            received_at,
            payload,
        )
    else:
        attributes = _m(payload.get("object_attributes"))
        project = _m(payload.get("project"))
        signal = _signal(
            "gitlab-ci",
            str(project.get("path_with_namespace") or ""),
            str(attributes.get("name") or "pipeline"),
            str(attributes.get("ref") or ""),
            str(project.get("default_branch") or "main"),
            str(attributes.get("status") or ""),
            _gitlab_time(attributes.get("finished_at")) or None,
            str(attributes.get("url") or ""),
            str(attributes.get("sha") or ""),
            received_at,
            payload,
        )
    return ParseResult(() if signal is None else (signal,))
