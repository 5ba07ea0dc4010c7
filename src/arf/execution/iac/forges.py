"""Pull requests for IaC fixes on GitHub or GitLab, through their REST APIs.

After a fix is committed on its branch, the branch is pushed to the configured remote and a
pull request (GitHub) or merge request (GitLab) is opened against the base branch, its title and
body naming the incident, the check and the re-scan that proved the fix. The rollback pushes
the revert commit and closes the request with a comment saying why. Both are idempotent by
branch: an existing request for the branch is found before one is opened, and a closed one is
not closed again, so a step retried after a crash never opens a second request.

The token is read from the environment variable the platform file names and is sent only to
the configured API URL, as `Authorization: Bearer` (GitHub) or `PRIVATE-TOKEN` (GitLab).
Endpoints used (GitHub REST 2022-11-28; GitLab REST v4):

    GitHub  GET   /repos/{owner}/{repo}/pulls?head={owner}:{branch}&state=all
            POST  /repos/{owner}/{repo}/pulls                 {title, head, base, body}
            POST  /repos/{owner}/{repo}/issues/{number}/comments   {body}
            PATCH /repos/{owner}/{repo}/pulls/{number}        {state: closed}
    GitLab  GET   /projects/{id}/merge_requests?source_branch={branch}&state=all
            POST  /projects/{id}/merge_requests   {source_branch, target_branch, title, description}
            POST  /projects/{id}/merge_requests/{iid}/notes   {body}
            PUT   /projects/{id}/merge_requests/{iid}         {state_event: close}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from arf.core.errors import ConfigError, ExecutionError
from arf.execution.iac.engine import GitRepo

PROVIDERS = ("github", "gitlab")


@dataclass(frozen=True)
class ForgeSettings:
    provider: str  # github | gitlab
    api_url: str  # https://api.github.com, https://gitlab.example.com/api/v4
    project: str  # owner/name on GitHub; a numeric id or a namespace/path on GitLab
    token_env: str  # the environment variable that holds the token
    remote: str = "origin"  # the git remote the fix branches are pushed to
    base: str = "main"  # the branch requests target


def load_settings(raw: Mapping[str, Any], where: str) -> ForgeSettings:
    """`iac.pull_requests` of a platform file; every problem is a ConfigError naming it."""
    provider = str(raw.get("provider", ""))
    if provider not in PROVIDERS:
        raise ConfigError(f"{where}: provider must be one of {', '.join(PROVIDERS)}")
    api_url = str(raw.get("api_url") or "").rstrip("/")
    if not api_url.startswith(("https://", "http://")):
        raise ConfigError(f"{where}: api_url must be an http(s) URL")
    project = str(raw.get("project") or "")
    if not project or (provider == "github" and project.count("/") != 1):
        shape = "owner/name" if provider == "github" else "an id or namespace/path"
        raise ConfigError(f"{where}: project must be {shape}")
    token_env = str(raw.get("token_env") or "")
    if not token_env:
        raise ConfigError(f"{where}: token_env must name the variable that holds the token")
    return ForgeSettings(
        provider,
        api_url,
        project,
        token_env,
        str(raw.get("remote") or "origin"),
        str(raw.get("base") or "main"),
    )


@dataclass(frozen=True)
class PullRequest:
    number: int  # the pull request number (GitHub) or merge request iid (GitLab)
    url: str
    open: bool


class Forge(Protocol):
    def find(self, branch: str) -> PullRequest | None: ...

    def create(self, branch: str, title: str, body: str) -> PullRequest: ...

    def close(self, request: PullRequest, comment: str) -> PullRequest: ...


class _Api:
    """JSON over HTTP with one error shape: ExecutionError naming the call, never the token."""

    def __init__(self, client: httpx.Client, base: str, headers: Mapping[str, str]) -> None:
        self._client, self._base, self._headers = client, base, dict(headers)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._client.request(
                method, self._base + path, headers=self._headers, **kwargs
            )
        except httpx.HTTPError as exc:
            raise ExecutionError(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 400:
            raise ExecutionError(
                f"{method} {path}: HTTP {response.status_code}: {response.text[:300]}"
            )
        try:
            return response.json()
        except ValueError as exc:
            raise ExecutionError(f"{method} {path}: the answer is not JSON") from exc


class GitHub:
    def __init__(self, settings: ForgeSettings, client: httpx.Client, token: str) -> None:
        self._owner = settings.project.split("/", 1)[0]
        self._path = f"/repos/{settings.project}"
        self._base = settings.base
        self._api = _Api(
            client,
            settings.api_url,
            {
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
            },
        )

    @staticmethod
    def _request(item: Any) -> PullRequest:
        return PullRequest(int(item["number"]), str(item["html_url"]), item["state"] == "open")

    def find(self, branch: str) -> PullRequest | None:
        params = {"head": f"{self._owner}:{branch}", "state": "all"}
        found = self._api.call("GET", f"{self._path}/pulls", params=params)
        return self._request(found[0]) if isinstance(found, list) and found else None

    def create(self, branch: str, title: str, body: str) -> PullRequest:
        payload = {"title": title, "head": branch, "base": self._base, "body": body}
        return self._request(self._api.call("POST", f"{self._path}/pulls", json=payload))

    def close(self, request: PullRequest, comment: str) -> PullRequest:
        number = request.number
        self._api.call("POST", f"{self._path}/issues/{number}/comments", json={"body": comment})
        closed = self._api.call("PATCH", f"{self._path}/pulls/{number}", json={"state": "closed"})
        return self._request(closed)


class GitLab:
    def __init__(self, settings: ForgeSettings, client: httpx.Client, token: str) -> None:
        self._path = f"/projects/{quote(settings.project, safe='')}/merge_requests"
        self._base = settings.base
        self._api = _Api(client, settings.api_url, {"PRIVATE-TOKEN": token})

    @staticmethod
    def _request(item: Any) -> PullRequest:
        return PullRequest(int(item["iid"]), str(item["web_url"]), item["state"] == "opened")

    def find(self, branch: str) -> PullRequest | None:
        params = {"source_branch": branch, "state": "all"}
        found = self._api.call("GET", self._path, params=params)
        return self._request(found[0]) if isinstance(found, list) and found else None

    def create(self, branch: str, title: str, body: str) -> PullRequest:
        payload = {
            "source_branch": branch,
            "target_branch": self._base,
            "title": title,
            "description": body,
        }
        return self._request(self._api.call("POST", self._path, json=payload))

    def close(self, request: PullRequest, comment: str) -> PullRequest:
        iid = request.number
        self._api.call("POST", f"{self._path}/{iid}/notes", json={"body": comment})
        closed = self._api.call("PUT", f"{self._path}/{iid}", json={"state_event": "close"})
        return self._request(closed)


def connect(settings: ForgeSettings, client: httpx.Client, environ: Mapping[str, str]) -> Forge:
    token = environ.get(settings.token_env, "")
    if not token:
        raise ConfigError(f"{settings.token_env} is not set: no token to open pull requests")
    if settings.provider == "github":
        return GitHub(settings, client, token)
    return GitLab(settings, client, token)


class PullRequests:
    """Push a fix branch and open its request; push a revert and close the request."""

    def __init__(self, settings: ForgeSettings, forge: Forge, repo: GitRepo) -> None:
        self._settings, self._forge, self._repo = settings, forge, repo

    def _push(self, branch: str) -> None:
        self._repo.git("push", "-q", self._settings.remote, f"{branch}:{branch}")

    def propose(self, branch: str, title: str, body: str) -> str:
        self._push(branch)
        request = self._forge.find(branch)
        if request is None:
            request = self._forge.create(branch, title, body)
            return f"opened {request.url}"
        return f"{request.url} already {'open' if request.open else 'closed'}"

    def withdraw(self, branch: str, comment: str) -> str:
        self._push(branch)
        request = self._forge.find(branch)
        if request is None:
            return "no pull request to close"
        if not request.open:
            return f"{request.url} already closed"
        self._forge.close(request, comment)
        return f"closed {request.url}"
