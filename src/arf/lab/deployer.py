"""The lab's deploy API: `python -m arf.lab.deployer --port P --dir D`.

It stands where a team's deploy system stands (a CD server's API): it knows each service's
release and its history, reads each service's configuration file, and deploys a release when
asked. ARF reads service state from it (the `describe` binding of the platform file) and
rolls releases back through it (an allowlisted HTTP action). Requests that change anything need
`Authorization: Bearer $ARF_LAB_TOKEN`; a repeated `Idempotency-Key` gets the first answer.

    GET  /services/NAME           {kind, version, release_history, config, config_history,
                                   replicas, running}
    POST /services/NAME/release   {"version": "v2"}   (a release listed in releases.yaml)

Histories are what the API has seen: it re-reads every service's files once a second.
"""

from __future__ import annotations

import argparse
import hmac
import json
import os
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")


def running(pid: int) -> bool:
    """Alive and not a zombie (a killed process its parent has not reaped yet)."""
    try:
        os.kill(pid, 0)
        stat = Path(f"/proc/{pid}/stat").read_text("utf-8")
    except (ProcessLookupError, PermissionError, FileNotFoundError):
        return False
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _alive(pid_file: Path) -> bool:
    try:
        return running(int(pid_file.read_text("utf-8").strip()))
    except (OSError, ValueError):
        return False


class Releases:
    def __init__(self, root: Path) -> None:
        self._root = root
        self._lock = threading.Lock()

    def folder(self, name: str) -> Path | None:
        folder = self._root / "services" / name
        return folder if _NAME.match(name) and folder.is_dir() else None

    def _history(self, folder: Path) -> dict[str, Any]:
        try:
            loaded = json.loads((folder / "history.json").read_text("utf-8"))
        except (OSError, ValueError):
            loaded = {}
        return loaded if isinstance(loaded, dict) else {}

    def observe(self, folder: Path) -> dict[str, Any]:
        """The service's state now, its histories extended by what changed since."""
        with self._lock:
            history = self._history(folder)
            try:
                version = (folder / "release").read_text("utf-8").strip()
            except OSError:
                version = ""
            try:
                config = yaml.safe_load((folder / "config.yaml").read_text("utf-8")) or {}
            except (OSError, yaml.YAMLError):
                config = {}
            config = {str(k): str(v) for k, v in config.items()} if isinstance(config, dict) else {}
            releases = history.setdefault("release", [])
            if version and (not releases or releases[-1] != version):
                releases.append(version)
            values = history.setdefault("config", {})
            for key, value in config.items():
                seen = values.setdefault(key, [])
                if not seen or seen[-1] != value:
                    seen.append(value)
            (folder / "history.json").write_text(json.dumps(history), "utf-8")
        return {
            "kind": "service",
            "version": version,
            "release_history": releases[-20:],
            "config": config,
            "config_history": {k: v[-20:] for k, v in values.items()},
            "replicas": 1,
            "running": _alive(folder / "pid"),
        }

    def deploy(self, folder: Path, version: str) -> dict[str, Any] | None:
        try:
            known = yaml.safe_load((folder / "releases.yaml").read_text("utf-8")) or {}
        except (OSError, yaml.YAMLError):
            known = {}
        if version not in {str(k) for k in known}:
            return None
        self.observe(folder)
        (folder / "release").write_text(version + "\n", "utf-8")
        return self.observe(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", type=Path, required=True)
    args = parser.parse_args()
    token = os.environ.get("ARF_LAB_TOKEN", "")
    releases = Releases(args.dir)
    answered: dict[str, tuple[int, bytes]] = {}
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(1.0):
            for folder in sorted((args.dir / "services").glob("*")):
                if folder.is_dir():
                    releases.observe(folder)

    threading.Thread(target=poll, daemon=True).start()

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _answer(self, status: int, value: object) -> None:
            self._send(status, json.dumps(value).encode())

        def _authorised(self) -> bool:
            given = self.headers.get("Authorization", "")
            return bool(token) and hmac.compare_digest(given, f"Bearer {token}")

        def do_GET(self) -> None:
            parts = self.path.strip("/").split("/")
            if self.path == "/healthz":
                self._answer(200, {"status": "ok"})
                return
            if not self._authorised():
                self._answer(401, {"error": "bearer token required"})
                return
            folder = (
                releases.folder(parts[1]) if len(parts) == 2 and parts[0] == "services" else None
            )
            if folder is None:
                self._answer(404, {"error": "no such service"})
                return
            self._answer(200, releases.observe(folder))

        def do_POST(self) -> None:
            parts = self.path.strip("/").split("/")
            if not self._authorised():
                self._answer(401, {"error": "bearer token required"})
                return
            key = self.headers.get("Idempotency-Key", "")
            if key and key in answered:
                self._send(*answered[key])
                return
            ok = len(parts) == 3 and parts[0] == "services" and parts[2] == "release"
            folder = releases.folder(parts[1]) if ok else None
            if folder is None:
                self._answer(404, {"error": "no such service"})
                return
            try:
                length = int(self.headers.get("Content-Length", "0"))
                version = str(json.loads(self.rfile.read(length))["version"])
            except (ValueError, KeyError, TypeError):
                self._answer(400, {"error": 'expected {"version": "..."}'})
                return
            state = releases.deploy(folder, version)
            if state is None:
                self._answer(404, {"error": f"no release {version!r} of {parts[1]}"})
                return
            body = json.dumps(state).encode()
            if key:
                answered[key] = (200, body)
            self._send(200, body)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    try:
        server.serve_forever()
    finally:
        stop.set()


if __name__ == "__main__":
    main()
