"""Curated fixes for Terraform (AWS), applied as text edits inside the one resource block they
concern (or as a new block right after it), so the diff is the fix and nothing else."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from arf.core.errors import ExecutionError

Params = Mapping[str, Any]


@dataclass(frozen=True)
class Block:
    start: int  # offset of `resource`
    open_brace: int
    close_brace: int  # offset of the matching `}`

    def body(self, text: str) -> str:
        return text[self.open_brace + 1 : self.close_brace]


def _match_brace(text: str, open_at: int) -> int:
    depth, index, quoted = 0, open_at, False
    while index < len(text):
        char = text[index]
        if quoted:
            if char == "\\":
                index += 1
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char == "#" or text.startswith("//", index):
            index = text.find("\n", index)
            if index < 0:
                break
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    raise ExecutionError("unbalanced braces: the file does not parse")


def find_block(text: str, resource: str) -> Block:
    """`aws_s3_bucket.logs` -> the `resource "aws_s3_bucket" "logs" { ... }` block."""
    kind, _, name = resource.partition(".")
    pattern = re.compile(
        rf'^resource\s+"{re.escape(kind)}"\s+"{re.escape(name)}"\s*\{{', re.MULTILINE
    )
    match = pattern.search(text)
    if match is None:
        raise ExecutionError(f"{resource} is not in the file")
    open_brace = match.end() - 1
    return Block(match.start(), open_brace, _match_brace(text, open_brace))


def _insert_at_end(text: str, block: Block, lines: list[str]) -> str:
    body = text[: block.close_brace].rstrip(" ")
    addition = "".join(f"  {line}\n" if line else "\n" for line in lines)
    if not body.endswith("\n"):
        body += "\n"
    return body + addition + text[block.close_brace :]


def _private_acl(text: str, resource: str, params: Params) -> str:
    block = find_block(text, resource)
    body = block.body(text)
    fixed, count = re.subn(r'(\bacl\s*=\s*)"public-read(?:-write)?"', r'\1"private"', body)
    if count == 0:
        raise ExecutionError(f"{resource} has no public ACL to make private")
    return text[: block.open_brace + 1] + fixed + text[block.close_brace :]


def _versioning(text: str, resource: str, params: Params) -> str:
    block = find_block(text, resource)
    if re.search(r"^\s*versioning\s*\{", block.body(text), re.MULTILINE):
        raise ExecutionError(f"{resource} already has a versioning block: a person should look")
    return _insert_at_end(text, block, ["", "versioning {", "  enabled = true", "}"])


def _kms_encryption(text: str, resource: str, params: Params) -> str:
    block = find_block(text, resource)
    if "server_side_encryption_configuration" in block.body(text):
        raise ExecutionError(f"{resource} already configures encryption: a person should look")
    return _insert_at_end(
        text,
        block,
        [
            "",
            "server_side_encryption_configuration {",
            "  rule {",
            "    apply_server_side_encryption_by_default {",
            '      sse_algorithm = "aws:kms"',
            "    }",
            "  }",
            "}",
        ],
    )


def _public_access_block(text: str, resource: str, params: Params) -> str:
    block = find_block(text, resource)
    _, _, name = resource.partition(".")
    new = (
        f'\n\nresource "aws_s3_bucket_public_access_block" "{name}" {{\n'
        f"  bucket                  = aws_s3_bucket.{name}.id\n"
        "  block_public_acls       = true\n"
        "  block_public_policy     = true\n"
        "  ignore_public_acls      = true\n"
        "  restrict_public_buckets = true\n"
        "}"
    )
    end = block.close_brace + 1
    return text[:end] + new + text[end:]


def _sub_blocks(body: str, kind: str) -> list[tuple[int, int]]:
    """(start, end) offsets in `body` of each `kind { ... }` sub-block."""
    found = []
    for match in re.finditer(rf"^(\s*){kind}\s*\{{", body, re.MULTILINE):
        open_brace = match.end() - 1
        found.append((match.start(), _match_brace(body, open_brace)))
    return found


def _ssh_not_from_world(text: str, resource: str, params: Params) -> str:
    allowed = str(params.get("allowed_cidr", "10.0.0.0/8"))
    if allowed in ("0.0.0.0/0", "::/0") or not re.match(r"^[0-9a-fA-F:.]+/\d{1,3}$", allowed):
        raise ExecutionError(f"allowed_cidr {allowed!r} is not a private CIDR")
    block = find_block(text, resource)
    body = block.body(text)
    changed = body
    for start, end in reversed(_sub_blocks(body, "ingress")):
        rule = body[start:end]
        ports = {k: int(v) for k, v in re.findall(r"\b(from_port|to_port)\s*=\s*(\d+)", rule)}
        if not ports.get("from_port", 99999) <= 22 <= ports.get("to_port", -1):
            continue
        fixed = re.sub(r'"0\.0\.0\.0/0"', f'"{allowed}"', rule)
        changed = changed[:start] + fixed + changed[end:]
    if changed == body:
        raise ExecutionError(f"{resource} has no SSH ingress from 0.0.0.0/0")
    return text[: block.open_brace + 1] + changed + text[block.close_brace :]


def _rule_descriptions(text: str, resource: str, params: Params) -> str:
    description = str(params.get("description", "managed by ARF: describe this rule"))
    block = find_block(text, resource)
    body = block.body(text)
    changed = body
    for kind in ("egress", "ingress"):
        for start, end in reversed(_sub_blocks(changed, kind)):
            rule = changed[start:end]
            if re.search(r"^\s*description\s*=", rule, re.MULTILINE):
                continue
            header_end = rule.index("{") + 1
            indent = re.match(r"\s*", rule.lstrip("\n")).group(0)  # type: ignore[union-attr]
            line = f'\n{indent}  description = "{description}"'
            changed = changed[: start + header_end] + line + changed[start + header_end :]
    if changed == body:
        raise ExecutionError(f"every rule of {resource} already has a description")
    return text[: block.open_brace + 1] + changed + text[block.close_brace :]


FIXES: Mapping[str, Callable[[str, str, Params], str]] = {
    "s3_private_acl": _private_acl,
    "s3_versioning": _versioning,
    "s3_kms_encryption": _kms_encryption,
    "s3_public_access_block": _public_access_block,
    "ssh_not_from_world": _ssh_not_from_world,
    "rule_descriptions": _rule_descriptions,
}


def apply_fix(text: str, resource: str, fix: str, params: Params) -> str:
    return FIXES[fix](text, resource, params)
