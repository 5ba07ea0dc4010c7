"""The `hosts` platform's bindings: a platform file is checked when loaded, and a catalogued
operation reaches exactly the bound allowlisted action with values from the target and the
operation's own arguments."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import httpx
import pytest

from arf.core.errors import ConfigError, ExecutionError
from arf.execution.hosts import HostsDriver, load_config

PLATFORM = """\
describe:
  url: "http://deploy.test/services/{target}"
  auth: {type: bearer, token_env: DEPLOY_TOKEN}
operations:
  deploy: {http: set_release, with: {service: target, version: version}}
http_actions:
  set_release:
    url: "http://deploy.test/services/{service}/release"
    body: {version: "{version}"}
    auth: {type: bearer, token_env: DEPLOY_TOKEN}
    params:
      service: {type: string, pattern: "^[a-z-]+$"}
      version: {type: string, pattern: "^v[0-9]+$"}
    rollback: none
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "platform.yaml"
    path.write_text(textwrap.dedent(text), "utf-8")
    return path


def test_an_operation_reaches_the_bound_action_with_the_target_and_its_arguments(
    tmp_path: Path,
) -> None:
    seen: list[httpx.Request] = []

    def deploy_api(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "GET" and request.url.path == "/services/web":
            return httpx.Response(200, json={"kind": "service", "version": "v3"})
        if request.method == "POST" and request.url.path == "/services/web/release":
            return httpx.Response(200, json={"version": json.loads(request.content)["version"]})
        return httpx.Response(404, json={"error": "no such service"})

    config = load_config(_write(tmp_path, PLATFORM), ["checkov"])
    client = httpx.Client(transport=httpx.MockTransport(deploy_api))
    driver = HostsDriver(config, client, environ={"DEPLOY_TOKEN": "t0k"})
    assert driver.describe("web") == {"kind": "service", "version": "v3"}
    assert driver.describe("nope") is None
    result = driver.perform("deploy", "web", {"version": "v2"}, "inc-1/abc/0/forward/0")
    assert "HTTP 200" in str(result["result"])
    post = seen[-1]
    assert json.loads(post.content) == {"version": "v2"}
    assert post.headers["Idempotency-Key"] == "inc-1/abc/0/forward/0"
    assert post.headers["Authorization"] == "Bearer t0k"
    with pytest.raises(ExecutionError, match="binds no action to 'restart'"):
        driver.perform("restart", "web", {}, "k")
    with pytest.raises(ExecutionError, match="does not match"):
        driver.perform("deploy", "web", {"version": "v2; rm -rf /"}, "k")
    with pytest.raises(ExecutionError, match="no argument 'version'"):
        driver.perform("deploy", "web", {}, "k")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("http: set_release, with", "http: nowhere, with"), "'nowhere' is not declared"),
        (
            ("with: {service: target, version: version}", "with: {service: target}"),
            "no value for 'version'",
        ),
        (("{http: set_release,", "{http: set_release, ansible: x,"), "exactly one of"),
        (('url: "http://deploy.test/services/{target}"', "url: 12"), "absolute http"),
    ],
)
def test_a_bad_platform_file_is_refused_with_its_name(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    text = PLATFORM.replace(*change)
    assert text != PLATFORM
    with pytest.raises(ConfigError, match=message) as caught:
        load_config(_write(tmp_path, text), ["checkov"])
    assert "platform.yaml" in str(caught.value)


def test_an_iac_repository_must_be_a_git_work_tree(tmp_path: Path) -> None:
    (tmp_path / "iac").mkdir()
    text = PLATFORM + "iac: {repository: iac}\n"
    with pytest.raises(ConfigError, match="is not a git work tree"):
        load_config(_write(tmp_path, text), ["checkov"])


def test_a_missing_platform_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the platform file"):
        load_config(tmp_path / "absent.yaml", ["checkov"])
