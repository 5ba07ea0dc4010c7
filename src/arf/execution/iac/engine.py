"""The Git/IaC executor: a curated, minimal patch for one scanner finding, on a new branch,
accepted only if a full re-scan proves it.

A fix is accepted only if (1) the files still parse, (2) the patch adds no skip or suppress
annotation, (3) the patch is minimal (no more lines than the check's declared bound, nothing
removed that is not replaced), (4) the targeted finding is gone and (5) a full re-scan shows no
finding that was not there before. Otherwise the working tree is restored and nothing is
committed. Findings that need a human decision are routed to a person with the reason, never
patched. The rollback of an accepted fix is `git revert` of its commit.
"""

from __future__ import annotations

import difflib
import json
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import hcl2
import yaml

from arf.core.errors import ConfigError, ExecutionError
from arf.core.git_command import GitCommandError, run_git
from arf.execution.iac import k8s, terraform

SUPPRESSION = re.compile(
    r"checkov:skip|#\s*nosec|tfsec:ignore|trivy:ignore|kics-scan\s+ignore|bridgecrew:skip",
    re.IGNORECASE,
)
UNKNOWN_SEVERITY = "high"  # Checkov's severities are null offline: unknown is never low


@dataclass(frozen=True)
class Finding:
    check_id: str
    resource: str
    file: str  # relative to the repository root, forward slashes

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.check_id, self.resource, self.file)


@dataclass(frozen=True)
class Remedy:
    check_id: str
    severity: str
    fix: str | None = None  # a curated fix, or
    human: str | None = None  # why a person must decide
    max_lines: int = 0


class CheckCatalog:
    def __init__(self, entries: Mapping[str, Remedy]) -> None:
        self._entries = dict(entries)

    @classmethod
    def packaged(cls) -> CheckCatalog:
        text = resources.files("arf.execution.iac").joinpath("checks.yaml").read_text("utf-8")
        document = yaml.safe_load(text)
        entries = {}
        for check_id, item in (document.get("checks") or {}).items():
            if not isinstance(item, Mapping) or ("fix" in item) == ("human" in item):
                raise ConfigError(f"checks.yaml: {check_id} needs exactly one of fix or human")
            fix = item.get("fix")
            known = (*k8s.FIXES, *terraform.FIXES, "network_policy")
            if fix is not None and fix not in known:
                raise ConfigError(f"checks.yaml: {check_id}: unknown fix {fix!r}")
            entries[check_id] = Remedy(
                check_id=check_id,
                severity=str(item.get("severity") or UNKNOWN_SEVERITY),
                fix=fix,
                human=item.get("human"),
                max_lines=int(item.get("max_lines", 0)),
            )
        return cls(entries)

    def remedy(self, check_id: str) -> Remedy:
        found = self._entries.get(check_id)
        if found is not None:
            return found
        return Remedy(
            check_id=check_id,
            severity=UNKNOWN_SEVERITY,
            human=f"ARF has no curated fix for {check_id}; a person must decide",
        )

    def checks(self) -> tuple[str, ...]:
        return tuple(self._entries)


class Scanner(Protocol):
    def scan(self, directory: Path) -> list[Finding]: ...


class CheckovScanner:
    """Checkov as a subprocess (it lives in its own virtual environment: its pins are its
    own), always `--skip-download`, always an absolute `-d`."""

    def __init__(self, command: Sequence[str], timeout_s: float = 300.0) -> None:
        self._command = list(command)
        self._timeout_s = timeout_s

    def scan(self, directory: Path) -> list[Finding]:
        root = directory.resolve()
        try:
            done = subprocess.run(
                [*self._command, "--skip-download", "-d", str(root), "-o", "json", "--quiet"],
                capture_output=True,
                text=True,
                timeout=self._timeout_s,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ExecutionError(f"the scanner did not run: {exc}") from exc
        if done.returncode not in (0, 1):
            raise ExecutionError(f"the scanner failed ({done.returncode}): {done.stderr[-300:]}")
        return parse_checkov(done.stdout, root)


def parse_checkov(output: str, root: Path) -> list[Finding]:
    try:
        document: Any = json.loads(output) if output.strip() else []
    except json.JSONDecodeError as exc:
        raise ExecutionError(f"the scanner's output is not JSON: {exc}") from exc
    reports = document if isinstance(document, list) else [document]
    found: list[Finding] = []
    for report in reports:
        if not isinstance(report, Mapping):
            continue
        for item in (report.get("results") or {}).get("failed_checks") or []:
            path = str(item.get("file_abs_path") or item.get("file_path") or "")
            try:
                relative = Path(path).resolve().relative_to(root).as_posix()
            except ValueError:
                relative = path.lstrip("/")
            found.append(Finding(str(item["check_id"]), str(item["resource"]), relative))
    return found


def parses(name: str, text: str) -> str | None:
    """None if the file parses, else why not."""
    try:
        if name.endswith((".yaml", ".yml")):
            list(yaml.safe_load_all(text))
        elif name.endswith(".tf"):
            hcl2.loads(text)
    except Exception as exc:  # noqa: BLE001 - any parser error means "does not parse"
        return f"{name} does not parse after the fix: {str(exc).splitlines()[0][:200]}"
    return None


def patch_problems(
    before: Mapping[str, str], after: Mapping[str, str], remedy: Remedy
) -> list[str]:
    problems = []
    added = removed = 0
    for name, new in after.items():
        old = before.get(name, "")
        for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0):
            if line.startswith("+") and not line.startswith("+++"):
                added += 1
                if SUPPRESSION.search(line):
                    problems.append("the patch adds a skip or suppress annotation: never a fix")
            elif line.startswith("-") and not line.startswith("---"):
                removed += 1
        problem = parses(name, new)
        if problem:
            problems.append(problem)
    if added > remedy.max_lines:
        problems.append(
            f"the patch adds {added} lines; a minimal fix takes at most {remedy.max_lines}"
        )
    if removed > added:
        problems.append("the patch removes more than it adds: not a minimal fix")
    return problems


def propose(
    root: Path, finding: Finding, remedy: Remedy, params: Mapping[str, Any]
) -> dict[str, str]:
    """The new contents of every file the fix touches (relative path -> text)."""
    if remedy.fix is None:
        raise ExecutionError(remedy.human or "no curated fix")
    path = root / finding.file
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise ExecutionError(f"cannot read {finding.file}: {exc.strerror}") from exc
    if remedy.fix == "network_policy":
        name, manifest = k8s.network_policy(text, finding.resource)
        target = (Path(finding.file).parent / name).as_posix()
        if (root / target).exists():
            raise ExecutionError(f"{target} exists already: a person should look")
        return {target: manifest}
    if remedy.fix in k8s.FIXES:
        return {finding.file: k8s.apply_fix(text, finding.resource, remedy.fix, params)}
    return {finding.file: terraform.apply_fix(text, finding.resource, remedy.fix, params)}


class GitRepo:
    """The few git operations the executor needs, through the git command line."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def git(self, *args: str) -> str:
        try:
            return run_git(self.root, *args).strip()
        except GitCommandError as exc:
            raise ExecutionError(str(exc)) from exc

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")

    def branch(self) -> str:
        return self.git("rev-parse", "--abbrev-ref", "HEAD")

    def clean(self) -> bool:
        return self.git("status", "--porcelain") == ""


class CommitScanCache:
    """A scanner that remembers the findings of a clean tree per commit (the tree is then the
    commit, so the answer cannot change); a dirty tree is always scanned afresh."""

    def __init__(self, inner: Scanner, repo: GitRepo) -> None:
        self._inner, self._repo = inner, repo
        self._seen: dict[str, list[Finding]] = {}

    def scan(self, directory: Path) -> list[Finding]:
        if directory.resolve() != self._repo.root.resolve() or not self._repo.clean():
            return self._inner.scan(directory)
        head = self._repo.head()
        if head not in self._seen:
            self._seen[head] = self._inner.scan(directory)
        return list(self._seen[head])


@dataclass(frozen=True)
class FixResult:
    finding: Finding
    branch: str
    commit: str
    base: str
    files: tuple[str, ...]
    diff: str
    rescan: tuple[Finding, ...] = field(default=())


def remediate(
    repo: GitRepo,
    scanner: Scanner,
    catalog: CheckCatalog,
    finding: Finding,
    params: Mapping[str, Any],
    incident_id: str,
) -> FixResult:
    """Fix one finding on a new branch `arf/<incident>-<check>`, proved by a full re-scan."""
    remedy = catalog.remedy(finding.check_id)
    if remedy.fix is None:
        raise ExecutionError(f"{finding.check_id} needs a person: {remedy.human}")
    if not repo.clean():
        raise ExecutionError("the repository has uncommitted changes: refusing to patch")
    before_findings = {f.key for f in scanner.scan(repo.root)}
    if finding.key not in before_findings:
        raise ExecutionError(f"{finding.check_id} on {finding.resource} is not failing now")
    start_branch, base = repo.branch(), repo.head()
    after = propose(repo.root, finding, remedy, params)
    before = {name: _read(repo.root / name) for name in after}
    problems = patch_problems(before, after, remedy)
    if problems:
        raise ExecutionError("; ".join(problems))
    branch = f"arf/{incident_id}-{finding.check_id}".lower()
    repo.git("checkout", "-q", "-b", branch)
    try:
        for name, text in after.items():
            (repo.root / name).write_text(text, "utf-8")
        rescan = scanner.scan(repo.root)
        keys = {f.key for f in rescan}
        if finding.key in keys:
            raise ExecutionError(f"the re-scan still reports {finding.check_id}: fix refused")
        new = sorted(keys - before_findings)
        if new:
            raise ExecutionError(f"the re-scan reports new findings {new[:3]}: fix refused")
        repo.git("add", *after)
        message = (
            f"ARF {incident_id}: fix {finding.check_id} on {finding.resource}\n\n"
            f"Curated fix `{remedy.fix}` (severity {remedy.severity}); verified by a full"
            " re-scan: the finding is gone and nothing new appeared."
        )
        repo.git("commit", "-q", "-m", message)
        commit = repo.head()
        diff = repo.git("diff", base, commit)
    except ExecutionError:
        tracked = _tracked(repo, base)
        for name in after:
            if name in tracked:
                repo.git("checkout", "-q", base, "--", name)
            else:
                (repo.root / name).unlink(missing_ok=True)
        repo.git("checkout", "-q", start_branch)
        repo.git("branch", "-q", "-D", branch)
        raise
    return FixResult(finding, branch, commit, base, tuple(after), diff, tuple(rescan))


def revert(repo: GitRepo, result: FixResult, incident_id: str) -> str:
    """Roll an accepted fix back: a revert commit on its branch."""
    current = repo.branch()
    if current != result.branch:
        repo.git("checkout", "-q", result.branch)
    repo.git("revert", "--no-commit", result.commit)
    repo.git(
        "commit",
        "-q",
        "-m",
        f"ARF {incident_id}: revert {result.commit[:12]} ({result.finding.check_id} on"
        f" {result.finding.resource})",
    )
    return repo.head()


def _read(path: Path) -> str:
    return path.read_text("utf-8") if path.exists() else ""


def _tracked(repo: GitRepo, commit: str) -> set[str]:
    return set(repo.git("ls-tree", "-r", "--name-only", commit).splitlines())
