"""`arf lab up|down|status|inject`: a real, small production on loopback.

`up` writes a lab folder and starts, each as its own process with its log in `logs/`:
Prometheus (scraping every second, alert rules evaluated every second), Alertmanager (sending
to ARF's webhook with a bearer token), three small services exposing `/metrics`
(`arf.lab.service`), a deploy API (`arf.lab.deployer`) and `arf serve` on the `hosts`
platform: ARF reads service state from the deploy API, rolls releases back through it (an
allowlisted HTTP action), sets configuration and restarts processes through Ansible
playbooks, fixes IaC in the lab's Git repository proved by Checkov, and verifies through
PromQL and Checkov re-scans. Nothing in ARF knows it runs in a lab.

`inject` plays the outside world: a CD system deploying a bad release (and announcing it as a
CloudEvent), a hand edit of a configuration file (announced by config management), a process
killed, a teammate's commit that makes a bucket public (found by the CI's Checkov job, whose
JSON report is posted to ARF). Everything after that is ARF's.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import yaml

from arf.core.errors import ConfigError, InputError
from arf.core.git_command import GitCommandError, run_git
from arf.lab.deployer import running

SERVICES: Mapping[str, Mapping[str, Any]] = {
    "lab-web": {"depends_on": ["lab-api"], "criticality": "medium"},
    "lab-api": {"depends_on": [], "criticality": "medium"},
    "lab-worker": {"depends_on": [], "criticality": "low"},
}
RELEASES = {"v1": 0.0, "v2": 0.0, "v3": 0.4}  # release -> share of requests it fails
BUCKET = "aws_s3_bucket.lab_logs"
CHECKS = "CKV_AWS_20,CKV_AWS_21,CKV_AWS_57"  # the team's selected Checkov checks
MAIN_TF = """\
resource "aws_s3_bucket" "lab_logs" {
  bucket = "arf-lab-logs"
  acl    = "private"

  versioning {
    enabled = true
  }
}
"""
FAULTS = ("bad-release", "config-drift", "crash", "iac")
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Lab:
    root: Path
    ports: Mapping[str, int]
    token: str  # the deploy API's bearer token (ARF's HTTP actions use it)
    webhook_token: str  # what Alertmanager and the injectors send to ARF
    checkov: str

    @property
    def arf_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['arf']}"

    @property
    def arf_home(self) -> Path:
        return self.root / "arf"

    @property
    def iac(self) -> Path:
        return self.root / "iac"

    def service_dir(self, name: str) -> Path:
        return self.root / "services" / name

    @classmethod
    def load(cls, root: Path) -> Lab:
        try:
            raw = json.loads((root / "lab.json").read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"{root} holds no lab (run `arf lab up` first)") from exc
        return cls(root, raw["ports"], raw["token"], raw["webhook_token"], raw["checkov"])


def _ports(base: int) -> dict[str, int]:
    ports = {"arf": base, "prometheus": base + 1, "alertmanager": base + 2, "deployer": base + 3}
    for index, name in enumerate(SERVICES):
        ports[name] = base + 4 + index
    return ports


def find_tools(checkov: str | None = None) -> dict[str, str]:
    """The real components the lab runs; a clear error names what is missing and how to get it."""
    found = {
        "prometheus": shutil.which("prometheus"),
        "alertmanager": shutil.which("prometheus-alertmanager") or shutil.which("alertmanager"),
        "checkov": checkov or os.environ.get("ARF_CHECKOV") or shutil.which("checkov"),
        "git": shutil.which("git"),
    }
    missing = [name for name, path in found.items() if not path]
    if missing:
        raise ConfigError(
            f"the lab needs {', '.join(missing)}: `make lab` installs them (Prometheus and"
            " Alertmanager from Debian's packages, Checkov in its own environment)"
        )
    return {k: str(v) for k, v in found.items()}


def _write_yaml(path: Path, value: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(value, sort_keys=False), "utf-8")


def _git(repo: Path, *args: str, author: str = "ARF lab") -> str:
    try:
        return run_git(repo, *args, author=author, email="lab@localhost").strip()
    except GitCommandError as exc:
        raise ConfigError(str(exc)) from exc


def _write_services(lab: Lab) -> None:
    for name in SERVICES:
        folder = lab.service_dir(name)
        (folder / "restarts").mkdir(parents=True, exist_ok=True)
        (folder / "release").write_text("v2\n", "utf-8")
        _write_yaml(folder / "releases.yaml", RELEASES)
        (folder / "config.yaml").write_text("max_connections: 50\n", "utf-8")
        (folder / "history.json").write_text(json.dumps({"release": ["v1", "v2"]}), "utf-8")
        (folder / "port").write_text(str(lab.ports[name]), "utf-8")
        run = folder / "run.sh"
        run.write_text(
            "#!/bin/sh\n"
            f"exec {sys.executable} -m arf.lab.service --name {name}"
            f" --port {lab.ports[name]} --dir {folder}\n",
            "utf-8",
        )
        run.chmod(0o755)


def _write_monitoring(lab: Lab) -> None:
    scrape = [
        {
            "targets": [f"127.0.0.1:{lab.ports[name]}"],
            "labels": {"service": name},
        }
        for name in SERVICES
    ]
    _write_yaml(
        lab.root / "prometheus" / "prometheus.yml",
        {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(lab.root / "prometheus" / "rules.yml")],
            "alerting": {
                "alertmanagers": [
                    {"static_configs": [{"targets": [f"127.0.0.1:{lab.ports['alertmanager']}"]}]}
                ]
            },
            "scrape_configs": [{"job_name": "lab", "static_configs": scrape}],
        },
    )
    errors = 'sum by (service) (rate(http_requests_total{job="lab",code=~"5.."}[10s]))'
    total = 'sum by (service) (rate(http_requests_total{job="lab"}[10s]))'
    _write_yaml(
        lab.root / "prometheus" / "rules.yml",
        {
            "groups": [
                {
                    "name": "lab",
                    "interval": "1s",
                    "rules": [
                        {
                            "alert": "HighErrorRate",
                            "expr": f"{errors} / {total} > 0.05",
                            "for": "2s",
                            "labels": {"severity": "critical", "environment": "lab"},
                            "annotations": {"summary": "{{ $labels.service }} fails requests"},
                        },
                        {
                            "alert": "ServiceDown",
                            "expr": 'up{job="lab"} == 0',
                            "for": "2s",
                            "labels": {"severity": "critical", "environment": "lab"},
                            "annotations": {"summary": "{{ $labels.service }} is down"},
                        },
                    ],
                }
            ]
        },
    )
    _write_yaml(
        lab.root / "alertmanager" / "alertmanager.yml",
        {
            "route": {
                "receiver": "arf",
                "group_by": ["alertname", "service"],
                "group_wait": "1s",
                "group_interval": "1s",
                "repeat_interval": "1h",
            },
            "receivers": [
                {
                    "name": "arf",
                    "webhook_configs": [
                        {
                            "url": f"{lab.arf_url}/api/v1/alerts/alertmanager",
                            "send_resolved": True,
                            "http_config": {"authorization": {"credentials": lab.webhook_token}},
                        }
                    ],
                }
            ],
        },
    )


def _write_iac(lab: Lab) -> None:
    (lab.iac / "tf").mkdir(parents=True, exist_ok=True)
    (lab.iac / "tf" / "main.tf").write_text(MAIN_TF, "utf-8")
    _git(lab.iac, "init", "-q", "-b", "main")
    _git(lab.iac, "add", "-A")
    _git(lab.iac, "commit", "-q", "-m", "lab: the logs bucket")


def _write_arf(lab: Lab) -> None:
    home = lab.arf_home
    playbooks = resources.files("arf.lab").joinpath("playbooks")
    (home / "playbooks").mkdir(parents=True, exist_ok=True)
    for name in ("set_config.yml", "restart_service.yml"):
        (home / "playbooks" / name).write_text(playbooks.joinpath(name).read_text("utf-8"))
    inventory = f"localhost ansible_connection=local lab_dir={lab.root}"
    name_pattern = "^lab-[a-z]+$"
    _write_yaml(
        home / "platform.yaml",
        {
            "describe": {
                "url": f"http://127.0.0.1:{lab.ports['deployer']}/services/{{target}}",
                "auth": {"type": "bearer", "token_env": "ARF_LAB_TOKEN"},
            },
            "operations": {
                "deploy": {
                    "http": "set_release",
                    "with": {"service": "target", "version": "version"},
                },
                "set_config": {
                    "ansible": "set_config",
                    "with": {"service": "target", "key": "key", "value": "value"},
                },
                "restart": {"ansible": "restart_service", "with": {"service": "target"}},
            },
            "iac": {
                "repository": str(lab.iac),
                "resources": ["aws_*.*"],
                "scanner": [lab.checkov, "--check", CHECKS],
            },
            "playbooks": "playbooks",
            "http_actions": {
                "set_release": {
                    "method": "POST",
                    "url": f"http://127.0.0.1:{lab.ports['deployer']}/services/{{service}}/release",
                    "body": {"version": "{version}"},
                    "auth": {"type": "bearer", "token_env": "ARF_LAB_TOKEN"},
                    "params": {
                        "service": {"type": "string", "pattern": name_pattern},
                        "version": {"type": "string", "pattern": "^v[0-9]{1,4}$"},
                    },
                    "rollback": "none",  # the catalog's rollback deploys the captured release
                }
            },
            "ansible_actions": {
                "set_config": {
                    "playbook": "set_config.yml",
                    "rollback_playbook": "none",  # the catalog's rollback sets the old value
                    "inventory": inventory,
                    "vars": {
                        "service": {"type": "string", "pattern": name_pattern},
                        "key": {"type": "string", "pattern": "^[a-z_]{1,40}$"},
                        "value": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"},
                    },
                },
                "restart_service": {
                    "playbook": "restart_service.yml",
                    "rollback_playbook": "none",
                    "inventory": inventory,
                    "vars": {"service": {"type": "string", "pattern": name_pattern}},
                },
            },
        },
    )
    window = "[15s]"
    _write_yaml(
        home / "queries.yaml",
        {
            "error_rate": (
                f'sum(rate(http_requests_total{{service="{{service}}",code=~"5.."}}{window}))'
                f' / sum(rate(http_requests_total{{service="{{service}}"}}{window}))'
            ),
            "latency_p99_ms": (
                "1000 * histogram_quantile(0.99, sum by (le) (rate("
                f'http_request_duration_seconds_bucket{{service="{{service}}"}}{window})))'
            ),
            "up": 'min(up{service="{service}"})',
        },
    )
    catalog = [
        {
            "name": name,
            "owner": "team-lab",
            "environment": "lab",
            "criticality": spec["criticality"],
            "depends_on": list(spec["depends_on"]),
            "slo": {"max_error_rate": 0.02, "max_latency_p99_ms": 500},
        }
        for name, spec in SERVICES.items()
    ]
    catalog.append(
        {
            "name": BUCKET,
            "owner": "team-lab",
            "environment": "lab",
            "criticality": "medium",
            "kind": "resource",
            "slo": {"max_error_rate": 1.0, "max_latency_p99_ms": 100000},
        }
    )
    _write_yaml(home / "services.yaml", {"services": catalog})
    # The default pack, except that a lab service runs one instance: redeploying or
    # restarting it takes its whole capacity out, which the pack's 50% limit would refuse.
    pack = resources.files("arf.governance").joinpath("default_policy.yaml").read_text("utf-8")
    limited = "max_replica_share: 0.5"
    if pack.count(limited) != 2:
        raise ConfigError("the default policy pack changed: review the lab's copy of it")
    (home / "policy.yaml").write_text(
        "# The lab's policy: ARF's default pack with whole-target changes allowed (one\n"
        "# instance per lab service). Keep 0.5 in production.\n"
        + pack.replace(limited, "max_replica_share: 1.0"),
        "utf-8",
    )
    _write_yaml(
        home / "arf.yaml",
        {
            "platform": "hosts",
            "platform_file": str(home / "platform.yaml"),
            "prometheus_url": f"http://127.0.0.1:{lab.ports['prometheus']}",
            "promql_queries": str(home / "queries.yaml"),
            "service_catalog": str(home / "services.yaml"),
            "policy": str(home / "policy.yaml"),
            "group_wait_s": 3.0,
            "verify_initial_delay_s": 20.0,
            "verify_interval_s": 5.0,
            "verify_samples": 3,
            "public_url": lab.arf_url,
        },
    )


# Starts a command in its own session and prints its pid, then exits: the lab's processes
# are nobody's children (they outlive `arf lab up`, and no handle of ours is left running).
_LAUNCHER = (
    "import subprocess, sys\n"
    "log = open(sys.argv[1], 'ab')\n"
    "child = subprocess.Popen(sys.argv[2:], stdout=log, stderr=subprocess.STDOUT,"
    " stdin=subprocess.DEVNULL, start_new_session=True)\n"
    "print(child.pid)\n"
)


def _start(lab: Lab, name: str, command: list[str], env: Mapping[str, str] | None = None) -> int:
    (lab.root / "logs").mkdir(exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, str(lab.root / "logs" / f"{name}.log"), *command],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
        env={**os.environ, **(env or {})},
        cwd=lab.root,
    )
    if done.returncode != 0 or not done.stdout.strip().isdigit():
        raise ConfigError(f"could not start {name}: {done.stderr.strip()[-300:]}")
    return int(done.stdout.strip())


def _wait(url: str, what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise ConfigError(f"{what} did not answer at {url} within {timeout_s:.0f} s (see its log)")


def _arf_command() -> list[str]:
    return [sys.executable, "-c", "from arf.cli.main import run; run()"]


def up(
    root: Path, base_port: int = 18080, checkov: str | None = None, progress: Progress = print
) -> Lab:
    """Write the lab and start every process; returns once all of them answer."""
    if (root / "lab.json").exists():
        raise InputError(f"{root} already holds a lab: `arf lab down` first")
    tools = find_tools(checkov)
    root = root.resolve()
    root.mkdir(parents=True, exist_ok=True)
    lab = Lab(
        root, _ports(base_port), secrets.token_hex(16), secrets.token_hex(16), tools["checkov"]
    )
    started = time.monotonic()
    _write_services(lab)
    _write_monitoring(lab)
    _write_iac(lab)
    _write_arf(lab)
    pids: dict[str, int] = {}
    (root / "lab.json").write_text(
        json.dumps(
            {
                "ports": dict(lab.ports),
                "token": lab.token,
                "webhook_token": lab.webhook_token,
                "checkov": lab.checkov,
                "pids": pids,
            }
        ),
        "utf-8",
    )
    try:
        for name in SERVICES:
            pids[name] = _start(lab, name, [str(lab.service_dir(name) / "run.sh")])
        pids["deployer"] = _start(
            lab,
            "deployer",
            [
                sys.executable,
                "-m",
                "arf.lab.deployer",
                "--port",
                str(lab.ports["deployer"]),
                "--dir",
                str(root),
            ],
            {"ARF_LAB_TOKEN": lab.token},
        )
        pids["prometheus"] = _start(
            lab,
            "prometheus",
            [
                tools["prometheus"],
                f"--config.file={root / 'prometheus' / 'prometheus.yml'}",
                f"--storage.tsdb.path={root / 'prometheus' / 'data'}",
                f"--web.listen-address=127.0.0.1:{lab.ports['prometheus']}",
            ],
        )
        pids["alertmanager"] = _start(
            lab,
            "alertmanager",
            [
                tools["alertmanager"],
                f"--config.file={root / 'alertmanager' / 'alertmanager.yml'}",
                f"--storage.path={root / 'alertmanager' / 'data'}",
                f"--web.listen-address=127.0.0.1:{lab.ports['alertmanager']}",
                "--cluster.listen-address=",
            ],
        )
        pids["arf"] = _start(
            lab,
            "arf",
            [
                *_arf_command(),
                "serve",
                "--port",
                str(lab.ports["arf"]),
                "--home",
                str(lab.arf_home),
            ],
            {
                "ARF_HOME": str(lab.arf_home),
                "ARF_LAB_TOKEN": lab.token,
                "ARF_WEBHOOK_TOKEN": lab.webhook_token,
                "ARF_CHECKOV": lab.checkov,
            },
        )
        _save_pids(lab, pids)
        for name in SERVICES:
            _wait(f"http://127.0.0.1:{lab.ports[name]}/healthz", name)
        _wait(f"http://127.0.0.1:{lab.ports['deployer']}/healthz", "the deploy API")
        _wait(f"http://127.0.0.1:{lab.ports['prometheus']}/-/ready", "Prometheus")
        _wait(f"http://127.0.0.1:{lab.ports['alertmanager']}/-/ready", "Alertmanager")
        _wait(f"{lab.arf_url}/healthz", "arf serve", timeout_s=120)
    except BaseException:
        down(root, progress=lambda _m: None)
        raise
    progress(f"lab up in {time.monotonic() - started:.1f} s at {root}")
    return lab


def _save_pids(lab: Lab, pids: Mapping[str, int]) -> None:
    path = lab.root / "lab.json"
    raw = json.loads(path.read_text("utf-8"))
    raw["pids"] = dict(pids)
    path.write_text(json.dumps(raw), "utf-8")


def _pids(lab: Lab) -> dict[str, int]:
    raw = json.loads((lab.root / "lab.json").read_text("utf-8"))
    pids = {str(k): int(v) for k, v in (raw.get("pids") or {}).items()}
    for name in SERVICES:  # a restarted service has a new pid: its own file says which
        with contextlib.suppress(OSError, ValueError):
            pids[name] = int((lab.service_dir(name) / "pid").read_text("utf-8"))
    return pids


def _stop(pid: int) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if not running(pid):
                return
            time.sleep(0.1)


def down(root: Path, progress: Progress = print) -> None:
    """Stop every process of the lab and remove its folder."""
    lab = Lab.load(root)
    for name, pid in sorted(_pids(lab).items(), key=lambda item: item[0] != "arf"):
        _stop(pid)
        progress(f"stopped {name} ({pid})")
    shutil.rmtree(root, ignore_errors=True)


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _post(lab: Lab, path: str, body: object) -> None:
    response = httpx.post(
        f"{lab.arf_url}{path}",
        json=body,
        headers={"Authorization": f"Bearer {lab.webhook_token}"},
        timeout=60,
    )
    if response.status_code >= 300:
        raise InputError(f"ARF refused {path}: HTTP {response.status_code} {response.text[:200]}")


def _change_event(lab: Lab, kind: str, subject: str, data: Mapping[str, str]) -> None:
    _post(
        lab,
        "/api/v1/events",
        {
            "specversion": "1.0",
            "id": secrets.token_hex(8),
            "source": "lab/cd" if kind == "deploy" else "lab/config-management",
            "type": f"dev.arf.change.{kind}",
            "subject": subject,
            "time": _now(),
            "datacontenttype": "application/json",
            "data": {**data, "environment": "lab"},
        },
    )


def scan(lab: Lab) -> Any:
    """The CI's Checkov job on the lab's repository: its JSON report."""
    done = subprocess.run(
        [
            lab.checkov,
            "--skip-download",
            "-d",
            str(lab.iac),
            "--check",
            CHECKS,
            "-o",
            "json",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if done.returncode not in (0, 1):
        raise ConfigError(f"checkov failed ({done.returncode}): {done.stderr[-300:]}")
    return json.loads(done.stdout) if done.stdout.strip() else []


def failing_checks(report: Any) -> set[tuple[str, str]]:
    reports = report if isinstance(report, list) else [report]
    return {
        (str(c["check_id"]), str(c["resource"]))
        for r in reports
        if isinstance(r, dict)
        for c in (r.get("results") or {}).get("failed_checks") or []
    }


def inject(lab: Lab, fault: str) -> str:
    """Make one fault happen, the way the outside world would; returns what was done."""
    if fault == "bad-release":
        response = httpx.post(
            f"http://127.0.0.1:{lab.ports['deployer']}/services/lab-api/release",
            json={"version": "v3"},
            headers={"Authorization": f"Bearer {lab.token}"},
            timeout=10,
        )
        response.raise_for_status()
        _change_event(lab, "deploy", "lab-api", {"from": "v2", "to": "v3", "author": "lab-cd"})
        return "deployed v3 of lab-api (it fails 40% of its requests)"
    if fault == "config-drift":
        config = lab.service_dir("lab-web") / "config.yaml"
        config.write_text("max_connections: 2\n", "utf-8")
        _change_event(lab, "config", "lab-web", {"key": "max_connections", "from": "50", "to": "2"})
        return "set max_connections of lab-web from 50 to 2 by hand"
    if fault == "crash":
        pid = int((lab.service_dir("lab-worker") / "pid").read_text("utf-8"))
        os.kill(pid, signal.SIGKILL)
        return f"killed lab-worker (pid {pid})"
    if fault == "iac":
        main = lab.iac / "tf" / "main.tf"
        main.write_text(main.read_text("utf-8").replace('"private"', '"public-read"'), "utf-8")
        _git(lab.iac, "commit", "-q", "-am", "make the logs bucket readable", author="A teammate")
        _post(lab, "/api/v1/findings/checkov", scan(lab))
        return f"committed a public-read ACL on {BUCKET}; the CI's Checkov report was posted"
    raise InputError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")


def undone(lab: Lab, fault: str) -> bool:
    """Whether the platform is back to health for this fault (read from the real components)."""
    state = httpx.get(
        f"http://127.0.0.1:{lab.ports['deployer']}/services/"
        + {"bad-release": "lab-api", "config-drift": "lab-web"}.get(fault, "lab-worker"),
        headers={"Authorization": f"Bearer {lab.token}"},
        timeout=10,
    ).json()
    if fault == "bad-release":
        return bool(state["version"] == "v2")
    if fault == "config-drift":
        return bool(state["config"].get("max_connections") == "50")
    if fault == "crash":
        return bool(state["running"])
    if fault == "iac":
        return ("CKV_AWS_20", BUCKET) not in failing_checks(scan(lab))
    raise InputError(f"unknown fault {fault!r}")


def status(lab: Lab) -> dict[str, str]:
    """Each process: running or not."""
    return {
        name: f"running (pid {pid})" if running(pid) else "stopped"
        for name, pid in _pids(lab).items()
    }
