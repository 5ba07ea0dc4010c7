"""IaC fixes as pull requests (GitHub) and merge requests (GitLab), for real over HTTP.

The forge is a local server speaking the documented subset of each REST API that ARF uses
(list by branch, create, comment, close), checking the token the way each does and refusing a
request whose head branch was never pushed (as GitHub answers 422). The Git remote is a real
bare repository; the scans are real Checkov runs. No GitHub or GitLab was reached: this proves
ARF's side of the contract as documented, not the hosted services.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import JsonValue

from arf.core.errors import ConfigError, ExecutionError
from arf.execution.hosts import HostsDriver, load_config
from tests.integration.local_http import JsonHandler, LocalServer

TOKEN = "forge-t0ken-1234"
BUCKET = "aws_s3_bucket.logs"
MAIN_TF = """\
resource "aws_s3_bucket" "logs" {
  bucket = "acme-logs"
  acl    = "public-read"
}
"""
FIX: dict[str, JsonValue] = {"attribute": "acl", "value": "private", "check_id": "CKV_AWS_20"}
KEY = "INC-7/abc/0/forward/0"
BRANCH = "arf/inc-7-ckv_aws_20"


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=T", "-c", "user.email=t@localhost", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@dataclass
class Request:
    number: int
    head: str
    base: str
    title: str
    body: str
    open: bool = True
    comments: list[str] = field(default_factory=list)


class Forge:
    """GitHub's and GitLab's pull/merge request endpoints over one bare repository."""

    def __init__(self, provider: str, remote: Path) -> None:
        self.provider = provider
        self.remote = remote
        self.requests: list[Request] = []
        self.calls: list[tuple[str, str]] = []
        outer = self

        class Handler(JsonHandler):
            def _handle(self) -> None:
                raw = self.body()
                url = urlsplit(self.path)
                outer.calls.append((self.command, url.path))
                status, answer = outer.answer(
                    self.command,
                    url.path,
                    parse_qs(url.query),
                    dict(self.headers),
                    json.loads(raw) if raw else {},
                )
                self.reply(status, answer)

            do_GET = do_POST = do_PATCH = do_PUT = _handle

        self.local = LocalServer(Handler)
        self.base = self.local.base

    def pushed(self, branch: str) -> bool:
        found = subprocess.run(
            ["git", "--git-dir", str(self.remote), "rev-parse", "--verify", f"refs/heads/{branch}"],
            capture_output=True,
            check=False,
        )
        return found.returncode == 0

    def _view(self, r: Request) -> dict[str, Any]:
        if self.provider == "github":
            return {
                "number": r.number,
                "html_url": f"https://github.test/acme/infra/pull/{r.number}",
                "state": "open" if r.open else "closed",
                "head": {"ref": r.head},
                "base": {"ref": r.base},
            }
        return {
            "iid": r.number,
            "web_url": f"https://gitlab.test/acme/infra/-/merge_requests/{r.number}",
            "state": "opened" if r.open else "closed",
            "source_branch": r.head,
            "target_branch": r.base,
        }

    def answer(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: dict[str, Any],
    ) -> tuple[int, Any]:
        if self.provider == "github":
            if headers.get("Authorization") != f"Bearer {TOKEN}":
                return 401, {"message": "Bad credentials"}
            prefix = "/repos/acme/infra"
            head_key, base_key, text_key = "head", "base", "body"
        else:
            if headers.get("PRIVATE-TOKEN") != TOKEN:
                return 401, {"message": "401 Unauthorized"}
            prefix = "/api/v4/projects/acme%2Finfra"
            head_key, base_key, text_key = "source_branch", "target_branch", "description"
        collection = f"{prefix}/pulls" if self.provider == "github" else f"{prefix}/merge_requests"
        if path == collection and method == "GET":
            if self.provider == "github":
                wanted = query["head"][0].split(":", 1)[1]
            else:
                wanted = query["source_branch"][0]
            return 200, [self._view(r) for r in reversed(self.requests) if r.head == wanted]
        if path == collection and method == "POST":
            if not self.pushed(body[head_key]):
                return 422, {"message": "Validation Failed: head does not exist"}
            request = Request(
                len(self.requests) + 1,
                body[head_key],
                body[base_key],
                body["title"],
                body.get(text_key, ""),
            )
            self.requests.append(request)
            return 201, self._view(request)
        for request in self.requests:
            n = request.number
            comment = (
                f"{prefix}/issues/{n}/comments"
                if self.provider == "github"
                else f"{collection}/{n}/notes"
            )
            if path == comment and method == "POST":
                request.comments.append(body["body"])
                return 201, {"id": len(request.comments)}
            if path == f"{collection}/{n}" and method in ("PATCH", "PUT"):
                if body.get("state") == "closed" or body.get("state_event") == "close":
                    request.open = False
                return 200, self._view(request)
        return 404, {"message": "Not Found"}


@dataclass
class Setup:
    forge: Forge
    repo: Path
    platform: Path
    client: httpx.Client


@pytest.fixture(params=["github", "gitlab"])
def setup(request: pytest.FixtureRequest, tmp_path: Path, checkov: list[str]) -> Iterator[Setup]:
    provider = str(request.param)
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    repo = tmp_path / "iac"
    repo.mkdir()
    (repo / "main.tf").write_text(MAIN_TF, "utf-8")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "the logs bucket")
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "origin", "main")
    forge = Forge(provider, remote)
    api = forge.base if provider == "github" else f"{forge.base}/api/v4"
    platform = tmp_path / "platform.yaml"
    platform.write_text(
        textwrap.dedent(
            f"""\
            describe: {{url: "http://deploy.test/services/{{target}}"}}
            iac:
              repository: {repo}
              resources: ["aws_*.*"]
              scanner: {json.dumps([*checkov, "--check", "CKV_AWS_20"])}
              pull_requests:
                provider: {provider}
                api_url: {api}
                project: acme/infra
                token_env: FORGE_TOKEN
            """
        ),
        "utf-8",
    )
    with httpx.Client(timeout=10) as client:
        yield Setup(forge, repo, platform, client)
    forge.local.close()


def driver(setup: Setup, token: str = TOKEN) -> HostsDriver:
    config = load_config(setup.platform, ["checkov"])
    return HostsDriver(config, setup.client, environ={"FORGE_TOKEN": token})


def test_a_fix_is_pushed_and_proposed_once_and_its_rollback_closes_the_request(
    setup: Setup,
) -> None:
    hosts = driver(setup)
    assert hosts.describe(BUCKET) is not None
    done = str(hosts.perform("set_attribute", BUCKET, FIX, KEY)["result"])
    assert "CKV_AWS_20 fixed on arf/inc-7-ckv_aws_20" in done and "opened https://" in done
    fix = git(setup.repo, "rev-parse", BRANCH)
    assert git(setup.forge.remote, "rev-parse", BRANCH) == fix  # pushed as committed
    (request,) = setup.forge.requests
    assert (request.head, request.base) == (BRANCH, "main")
    assert request.title == f"ARF INC-7: fix CKV_AWS_20 on {BUCKET}"
    assert "verified by a full re-scan" in request.body and "incident INC-7" in request.body
    # a retry of the same step (a crash before its outcome was stored) opens nothing new
    again = str(hosts.perform("set_attribute", BUCKET, FIX, KEY)["result"])
    assert "already fixed" in again and "already open" in again
    assert len(setup.forge.requests) == 1

    back: dict[str, JsonValue] = {**FIX, "value": "public-read", "revert": True}
    undone = str(hosts.perform("set_attribute", BUCKET, back, "INC-7/abc/0/rollback/0")["result"])
    assert "reverted" in undone and "closed https://" in undone
    remote_head = git(setup.forge.remote, "log", "-1", "--format=%s", BRANCH)
    assert remote_head.startswith("ARF INC-7: revert")
    assert not request.open
    assert len(request.comments) == 1 and "rolled this fix back" in request.comments[0]
    retried = str(hosts.perform("set_attribute", BUCKET, back, "INC-7/abc/0/rollback/0")["result"])
    assert "already reverted" in retried and "already closed" in retried
    assert len(request.comments) == 1


def test_a_refused_token_fails_the_step_without_showing_the_token(setup: Setup) -> None:
    hosts = driver(setup, token="wrong-token-5678")
    with pytest.raises(ExecutionError, match="HTTP 401") as failure:
        hosts.perform("set_attribute", BUCKET, FIX, KEY)
    assert "wrong-token-5678" not in str(failure.value) and TOKEN not in str(failure.value)
    assert setup.forge.requests == []


def test_a_platform_file_without_the_remote_or_token_is_refused(setup: Setup) -> None:
    text = setup.platform.read_text("utf-8")
    with pytest.raises(ConfigError, match="FORGE_TOKEN is not set"):
        HostsDriver(load_config(setup.platform, ["checkov"]), setup.client, environ={})
    setup.platform.write_text(
        text.replace("token_env: FORGE_TOKEN", "token_env: T\n    remote: up")
    )
    with pytest.raises(ConfigError, match="has no remote 'up'"):
        load_config(setup.platform, ["checkov"])
    setup.platform.write_text(text.replace("project: acme/infra", "project: infra"))
    if setup.forge.provider == "github":
        with pytest.raises(ConfigError, match="project must be owner/name"):
            load_config(setup.platform, ["checkov"])
    setup.platform.write_text(text.replace(f"provider: {setup.forge.provider}", "provider: svn"))
    with pytest.raises(ConfigError, match="provider must be one of github, gitlab"):
        load_config(setup.platform, ["checkov"])
