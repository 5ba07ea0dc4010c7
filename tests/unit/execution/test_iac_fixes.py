"""Curated IaC fixes as pure text transformations (no scanner, no git): what they write, what
they keep, and what they refuse."""

from __future__ import annotations

from pathlib import Path

import hcl2
import pytest
import yaml

from arf.core.errors import ExecutionError
from arf.execution.iac import k8s, terraform
from arf.execution.iac.engine import UNKNOWN_SEVERITY, CheckCatalog, Remedy, patch_problems

DIGEST = "nginx:1.27.3@sha256:" + "ab" * 32


@pytest.fixture
def manifest(shared_data: Path) -> str:
    return (shared_data / "checkov" / "iac" / "k8s" / "deployment.yaml").read_text("utf-8")


@pytest.fixture
def main_tf(shared_data: Path) -> str:
    return (shared_data / "checkov" / "iac" / "tf" / "main.tf").read_text("utf-8")


def container(text: str) -> dict[str, object]:
    document = yaml.safe_load(text)
    found = document["spec"]["template"]["spec"]["containers"][0]
    assert isinstance(found, dict)
    return found


def changed_lines(before: str, after: str) -> int:
    return len(set(after.splitlines()) - set(before.splitlines()))


@pytest.mark.parametrize("fix", sorted(k8s.FIXES))
def test_every_k8s_fix_parses_keeps_the_layout_and_stays_small(manifest: str, fix: str) -> None:
    fixed = k8s.apply_fix(manifest, "Deployment.demo.checkout", fix, {"image": DIGEST})
    assert fixed != manifest
    yaml.safe_load(fixed)  # still parses
    kept = [line for line in manifest.splitlines() if line in fixed.splitlines()]
    assert len(kept) >= len(manifest.splitlines()) - 2  # everything else untouched
    assert changed_lines(manifest, fixed) <= 3


def test_k8s_fixes_write_what_the_checks_want(manifest: str) -> None:
    resource = "Deployment.demo.checkout"
    fixed = manifest
    for fix in ("not_privileged", "no_privilege_escalation", "non_root", "drop_capabilities"):
        fixed = k8s.apply_fix(fixed, resource, fix, {})
    context = container(fixed)["securityContext"]
    assert context == {
        "privileged": False,
        "runAsUser": 10001,
        "allowPrivilegeEscalation": False,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    probed = container(k8s.apply_fix(manifest, resource, "readiness_probe", {}))
    assert probed["readinessProbe"] == {"tcpSocket": {"port": 80}}


def test_pinning_an_image_needs_a_digest_and_never_latest(manifest: str) -> None:
    resource = "Deployment.demo.checkout"
    for bad in ("", "nginx:1.27.3", "nginx:latest@sha256:" + "ab" * 32, "nginx@sha256:short"):
        with pytest.raises(ExecutionError, match="ARF never guesses"):
            k8s.apply_fix(manifest, resource, "pin_image", {"image": bad})
    assert (
        container(k8s.apply_fix(manifest, resource, "pin_image", {"image": DIGEST}))["image"]
        == DIGEST
    )


def test_a_network_policy_opens_only_the_declared_ports(manifest: str) -> None:
    name, text = k8s.network_policy(manifest, "Pod.demo.checkout.app-checkout")
    policy = yaml.safe_load(text)
    assert name == "checkout-networkpolicy.yaml"
    assert policy["spec"]["podSelector"] == {"matchLabels": {"app": "checkout"}}
    assert policy["spec"]["ingress"] == [{"ports": [{"port": 80, "protocol": "TCP"}]}]


def test_an_unknown_workload_is_refused(manifest: str) -> None:
    with pytest.raises(ExecutionError, match="not in the manifest"):
        k8s.apply_fix(manifest, "Deployment.demo.other", "not_privileged", {})


@pytest.mark.parametrize(
    ("fix", "resource", "expect"),
    [
        ("s3_private_acl", "aws_s3_bucket.logs", 'acl    = "private"'),
        ("s3_versioning", "aws_s3_bucket.logs", "enabled = true"),
        ("s3_kms_encryption", "aws_s3_bucket.logs", 'sse_algorithm = "aws:kms"'),
        ("s3_public_access_block", "aws_s3_bucket.logs", "restrict_public_buckets = true"),
        ("ssh_not_from_world", "aws_security_group.ssh_open", 'cidr_blocks = ["10.0.0.0/8"]'),
        ("rule_descriptions", "aws_security_group.ssh_open", "description = "),
    ],
)
def test_terraform_fixes(main_tf: str, fix: str, resource: str, expect: str) -> None:
    fixed = terraform.apply_fix(main_tf, resource, fix, {})
    assert expect in fixed
    hcl2.loads(fixed)  # still parses
    assert fixed.count("0.0.0.0/0") >= main_tf.count("0.0.0.0/0") - 1


def test_terraform_fixes_refuse_what_they_cannot_do_safely(main_tf: str) -> None:
    with pytest.raises(ExecutionError, match="not a private CIDR"):
        terraform.apply_fix(
            main_tf,
            "aws_security_group.ssh_open",
            "ssh_not_from_world",
            {"allowed_cidr": "0.0.0.0/0"},
        )
    once = terraform.apply_fix(main_tf, "aws_s3_bucket.logs", "s3_private_acl", {})
    with pytest.raises(ExecutionError, match="no public ACL"):
        terraform.apply_fix(once, "aws_s3_bucket.logs", "s3_private_acl", {})
    with pytest.raises(ExecutionError, match="not in the file"):
        terraform.apply_fix(main_tf, "aws_s3_bucket.other", "s3_versioning", {})


def test_patch_checks_refuse_suppression_bloat_and_broken_files() -> None:
    remedy = Remedy(check_id="CKV_X", severity="high", fix="x", max_lines=2)
    before = {"main.tf": 'resource "a" "b" {\n  x = 1\n}\n'}
    skip = {"main.tf": 'resource "a" "b" {\n  #checkov:skip=CKV_X\n  x = 1\n}\n'}
    assert any("suppress" in p for p in patch_problems(before, skip, remedy))
    bloat = {"main.tf": 'resource "a" "b" {\n  x = 1\n  y = 2\n  z = 3\n  w = 4\n}\n'}
    assert any("at most 2" in p for p in patch_problems(before, bloat, remedy))
    broken = {"main.tf": 'resource "a" "b" {\n  x = \n'}
    assert any("does not parse" in p for p in patch_problems(before, broken, remedy))
    fine = {"main.tf": 'resource "a" "b" {\n  x = 2\n}\n'}
    assert patch_problems(before, fine, remedy) == []


def test_the_check_catalog_covers_the_required_checks_and_unknown_is_high() -> None:
    catalog = CheckCatalog.packaged()
    for check in (
        "CKV_AWS_20",
        "CKV_AWS_24",
        "CKV_AWS_21",
        "CKV_AWS_145",
        "CKV2_AWS_6",
        "CKV_AWS_23",
    ):
        assert catalog.remedy(check).fix is not None
    for check in ("CKV_AWS_144", "CKV2_AWS_61", "CKV2_AWS_62"):
        remedy = catalog.remedy(check)
        assert remedy.fix is None and remedy.human
    unknown = catalog.remedy("CKV_NEW_1")
    assert unknown.severity == UNKNOWN_SEVERITY == "high" and unknown.fix is None
    assert all(
        catalog.remedy(c).severity in ("low", "medium", "high", "critical")
        for c in catalog.checks()
    )
