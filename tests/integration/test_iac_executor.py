"""The Git/IaC executor against real Checkov 3.3.30 and real git, on the shared IaC files:
every failed Kubernetes check and six Terraform checks fixed on a branch and proved by a full
re-scan; the rest routed to a person; bad patches refused; a revert brings the finding back."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from arf.core.errors import ExecutionError
from arf.execution.iac.engine import (
    CheckCatalog,
    CheckovScanner,
    CommitScanCache,
    Finding,
    GitRepo,
    Remedy,
    remediate,
    revert,
)

PARAMS = {"image": "nginx:1.27.3@sha256:" + "ab" * 32}
TERRAFORM_FIXED = {
    "CKV_AWS_20",
    "CKV_AWS_24",
    "CKV_AWS_21",
    "CKV_AWS_145",
    "CKV2_AWS_6",
    "CKV_AWS_23",
}


@pytest.fixture
def repo(tmp_path: Path, shared_data: Path) -> GitRepo:
    root = tmp_path / "iac"
    shutil.copytree(shared_data / "checkov" / "iac", root)
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    found = GitRepo(root)
    found.git("add", ".")
    found.git("commit", "-q", "-m", "initial")
    return found


def recorded_failures(shared_data: Path) -> set[tuple[str, str]]:
    document = json.loads((shared_data / "checkov" / "checkov_output.json").read_text("utf-8"))
    return {
        (item["check_id"], item["resource"])
        for report in document
        for item in report["results"]["failed_checks"]
    }


@pytest.mark.timeout(900)
def test_every_required_finding_is_fixed_and_proved_by_a_rescan(
    repo: GitRepo, checkov: list[str], shared_data: Path
) -> None:
    scanner = CommitScanCache(CheckovScanner(checkov), repo)
    catalog = CheckCatalog.packaged()
    findings = scanner.scan(repo.root)
    assert {(f.check_id, f.resource) for f in findings} == recorded_failures(shared_data)
    fixed, human = set(), set()
    for finding in findings:
        remedy = catalog.remedy(finding.check_id)
        if remedy.fix is None:
            human.add(finding.check_id)
            with pytest.raises(ExecutionError, match="needs a person"):
                remediate(repo, scanner, catalog, finding, PARAMS, "INC-1")
            continue
        result = remediate(repo, scanner, catalog, finding, PARAMS, "INC-1")
        assert finding.key not in {f.key for f in result.rescan}
        assert result.branch == f"arf/inc-1-{finding.check_id.lower()}"
        message = repo.git("log", "-1", "--format=%B", result.commit)
        assert message.startswith(f"ARF INC-1: fix {finding.check_id}")
        assert "checkov:skip" not in result.diff
        fixed.add(finding.check_id)
        repo.git("checkout", "-q", "main")
        assert repo.clean()
    kubernetes = {c for c, r in recorded_failures(shared_data) if "K8S" in c}
    assert kubernetes <= fixed  # every failed Kubernetes check
    assert fixed >= TERRAFORM_FIXED
    assert {"CKV_AWS_144", "CKV2_AWS_61", "CKV2_AWS_62"} <= human
    assert repo.git("rev-list", "--count", "main") == "1"  # main itself never changed


def test_a_revert_brings_the_finding_back(repo: GitRepo, checkov: list[str]) -> None:
    scanner = CheckovScanner(checkov)
    catalog = CheckCatalog.packaged()
    finding = Finding("CKV_AWS_20", "aws_s3_bucket.logs", "tf/main.tf")
    result = remediate(repo, scanner, catalog, finding, {}, "INC-2")
    assert 'acl    = "private"' in (repo.root / "tf" / "main.tf").read_text("utf-8")
    reverted = revert(repo, result, "INC-2")
    assert reverted != result.commit
    assert repo.git("log", "-1", "--format=%s").startswith("ARF INC-2: revert")
    assert finding.key in {f.key for f in scanner.scan(repo.root)}


def test_a_patch_the_rescan_rejects_is_never_committed(repo: GitRepo, checkov: list[str]) -> None:
    scanner = CheckovScanner(checkov)
    # a "fix" that does not fix: the readiness probe fix offered for the liveness check
    wrong = CheckCatalog(
        {"CKV_K8S_8": Remedy("CKV_K8S_8", "medium", fix="readiness_probe", max_lines=4)}
    )
    finding = Finding("CKV_K8S_8", "Deployment.demo.checkout", "k8s/deployment.yaml")
    with pytest.raises(ExecutionError, match="still reports CKV_K8S_8"):
        remediate(repo, scanner, wrong, finding, {}, "INC-3")
    assert repo.clean() and repo.branch() == "main"
    assert "arf/" not in repo.git("branch", "--list")
    too_big = CheckCatalog(
        {"CKV_K8S_8": Remedy("CKV_K8S_8", "medium", fix="liveness_probe", max_lines=1)}
    )
    with pytest.raises(ExecutionError, match="at most 1"):
        remediate(repo, scanner, too_big, finding, {}, "INC-3")
    assert repo.clean() and repo.branch() == "main"


def test_a_dirty_repository_or_a_finding_that_is_not_failing_is_refused(
    repo: GitRepo, checkov: list[str]
) -> None:
    scanner = CheckovScanner(checkov)
    catalog = CheckCatalog.packaged()
    ghost = Finding("CKV_AWS_20", "aws_s3_bucket.nope", "tf/main.tf")
    with pytest.raises(ExecutionError, match="not failing now"):
        remediate(repo, scanner, catalog, ghost, {}, "INC-4")
    (repo.root / "tf" / "main.tf").write_text("# edited by hand\n", "utf-8")
    real = Finding("CKV_AWS_20", "aws_s3_bucket.logs", "tf/main.tf")
    with pytest.raises(ExecutionError, match="uncommitted changes"):
        remediate(repo, scanner, catalog, real, {}, "INC-4")
