"""Secret redaction: applied to every signal before it is stored, shown, ledgered or sent on.

Secrets are replaced by typed placeholders such as `[REDACTED:github_token]`. Patterns cover
cloud keys, GitHub/GitLab/Slack/Stripe/Google tokens, private keys, JWTs, passwords in URLs
and connection strings, Kubernetes Secret data, and assignments whose name says secret with a
value that is not an obvious placeholder. Hashes, UUIDs and image digests are left alone.
PII patterns are off by default and configurable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pydantic import JsonValue

from arf.core.records import Signal

PLACEHOLDER = "[REDACTED:{kind}]"
_SHORTEST_SECRET = 5  # no pattern matches fewer characters (the shortest: "pwd=x")
_CACHED_LENGTH = 256  # short texts (label values, titles) repeat; their results are cached
_CACHE_SIZE = 50_000


@dataclass(frozen=True)
class SecretPattern:
    kind: str
    regex: re.Pattern[str]
    group: int = 0  # the part of the match that is secret (0: all of it)
    # Lower-case literals of which at least one occurs in every match: a cheap pre-check.
    # Empty: always run the regex.
    triggers: tuple[str, ...] = ()


def _p(
    kind: str, pattern: str, triggers: tuple[str, ...], group: int = 0, flags: int = 0
) -> SecretPattern:
    return SecretPattern(kind, re.compile(pattern, flags), group, triggers)


_NAME = r"[A-Za-z0-9_.\-]*"
# Names that refer to a secret rather than hold one: secretName, tokenFile, password_ref, ...
_REFERENCE = r"(?i:name|ref|file|path|count|length|ttl|type|id_field)"
_REFERENCE_END = re.compile(rf"{_REFERENCE}$")
_NOT_REFERENCE = rf"(?![A-Za-z0-9_.\-]*{_REFERENCE}['\"]?\s*[:=])"
_SECRET_WORDS = (
    r"(?:secret|token|passw(?:or)?d|passwd|pwd|api[_\-]?key|access[_\-]?key"
    r"|private[_\-]?key|client[_\-]?secret|credentials?|authorization"
    r"|auth[_\-]?(?:token|key|header))"
)

_SECRET_TRIGGERS = ("secret", "token", "passw", "pwd", "key", "credential", "auth")
_SECRET_KEY = re.compile(rf"(?i){_NAME}{_SECRET_WORDS}{_NAME}")

DEFAULT_PATTERNS: tuple[SecretPattern, ...] = (
    _p(
        "private_key",
        r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?"
        r"-----END [A-Z0-9 ]*PRIVATE KEY-----",
        ("private key-----",),
    ),
    _p(
        "aws_access_key_id",
        r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b",
        ("akia", "asia", "abia", "acca"),
    ),
    _p(
        "github_token",
        r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255}\b",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    ),
    _p("github_token", r"\bgithub_pat_[A-Za-z0-9_]{22,255}\b", ("github_pat_",)),
    _p(
        "gitlab_token",
        r"\b(?:glpat|gldt|glrt|glptt|glsoat|glcbt)-[A-Za-z0-9_\-]{20,}\b",
        ("glpat-", "gldt-", "glrt-", "glptt-", "glsoat-", "glcbt-"),
    ),
    _p("slack_token", r"\bxox[abposr]-[A-Za-z0-9\-]{10,}\b", ("xox",)),
    _p("stripe_key", r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}\b", ("_live_", "_test_")),
    _p("google_api_key", r"\bAIza[0-9A-Za-z_\-]{35}\b", ("aiza",)),
    _p("jwt", r"\beyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{10,}", ("eyj",)),
    _p("url_password", r"(?i)\b[a-z][a-z0-9+.\-]*://[^\s:/@]+:([^\s@/]+)@", ("://",), group=1),
    _p(
        "connection_string_password",
        r"(?i)(?:^|[;\s])(?:password|pwd)\s*=\s*([^;\s'\"]+)",
        ("password", "pwd"),
        group=1,
    ),
    _p(
        "aws_secret_access_key",
        r"(?i)aws_?secret_?access_?key['\"]?\s*[:=]\s*['\"]?"
        r"([A-Za-z0-9/+=]{40})\b",
        ("aws",),
        group=1,
    ),
    _p(
        "secret_assignment",
        rf"(?i)\b{_NAME}{_SECRET_WORDS}{_NOT_REFERENCE}{_NAME}['\"]?\s*[:=]\s*['\"]?"
        r"([^\s'\",;}{\]\[]{6,})",
        _SECRET_TRIGGERS,
        group=1,
    ),
    _p("bearer_token", r"(?i)\bbearer\s+([A-Za-z0-9._~+/\-]{16,}=*)", ("bearer",), group=1),
)

PII_PATTERNS: tuple[SecretPattern, ...] = (
    _p("email", r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}\b", ("@",)),
    _p("phone", r"\+\d{1,3}[\s\-]?\(?\d{2,4}\)?[\s\-]?\d{3,4}[\s\-]?\d{3,4}\b", ("+",)),
)

# Values that name no secret: left as they are after a secret-sounding key.
_HARMLESS = re.compile(
    r"(?i)^(?:true|false|null|none|nil|yes|no|on|off|required|optional|enabled|disabled"
    r"|redacted|\*+|x+|<[^>]*>|\$\{[^}]*\}|\{\{[^}]*\}\}|changeme)$|^\d+$|^\[REDACTED:"
)


class Redactor:
    """Finds and replaces secrets in text and JSON values."""

    def __init__(self, patterns: Sequence[SecretPattern] = DEFAULT_PATTERNS) -> None:
        self._patterns = tuple(patterns)
        self._untriggered = tuple(p for p in self._patterns if not p.triggers)
        # One scan for every trigger at once: most texts hold none, and then only the
        # patterns without triggers need to run.
        triggers = sorted({t for p in self._patterns for t in p.triggers}, key=len, reverse=True)
        self._any_trigger = re.compile("|".join(map(re.escape, triggers))) if triggers else None
        self._cache: dict[str, str] = {}
        self._keys: dict[str, bool] = {}

    @classmethod
    def with_pii(cls, extra: Iterable[SecretPattern] = ()) -> Redactor:
        return cls((*DEFAULT_PATTERNS, *PII_PATTERNS, *extra))

    def _spans(self, text: str) -> list[tuple[int, int, str]]:
        spans: list[tuple[int, int, str]] = []
        lowered = text.lower()
        if self._any_trigger is None or self._any_trigger.search(lowered) is None:
            candidates: Sequence[SecretPattern] = self._untriggered
        else:
            candidates = [
                p for p in self._patterns if not p.triggers or any(t in lowered for t in p.triggers)
            ]
        for pattern in candidates:
            for match in pattern.regex.finditer(text):
                start, end = match.span(pattern.group)
                value = text[start:end]
                if start < 0 or not value:
                    continue
                if pattern.kind in (
                    "secret_assignment",
                    "connection_string_password",
                    "url_password",
                ) and _HARMLESS.search(value):
                    continue
                spans.append((start, end, pattern.kind))
        spans.sort(key=lambda s: (s[0], -(s[1] - s[0])))
        merged: list[tuple[int, int, str]] = []
        for span in spans:
            if merged and span[0] < merged[-1][1]:
                last = merged[-1]
                merged[-1] = (last[0], max(last[1], span[1]), last[2])
            else:
                merged.append(span)
        return merged

    def find(self, text: str) -> list[str]:
        """The kinds of secret found in a text (empty when clean)."""
        return [kind for _, _, kind in self._spans(text)]

    def redact_text(self, text: str) -> str:
        if len(text) < _SHORTEST_SECRET:
            return text  # no pattern can match: label values like "warning" are common
        if len(text) <= _CACHED_LENGTH:
            cached = self._cache.get(text)
            if cached is None:
                cached = self._redact(text)
                if len(self._cache) >= _CACHE_SIZE:
                    self._cache.clear()
                self._cache[text] = cached
            return cached
        return self._redact(text)

    def _redact(self, text: str) -> str:
        out: list[str] = []
        cursor = 0
        for start, end, kind in self._spans(text):
            out.append(text[cursor:start])
            out.append(PLACEHOLDER.format(kind=kind))
            cursor = end
        out.append(text[cursor:])
        return "".join(out)

    def redact_value(self, value: JsonValue, key: str = "") -> JsonValue:
        if isinstance(value, str):
            if key and self._secret_key(key) and not _HARMLESS.search(value):
                return PLACEHOLDER.format(kind="secret_field")
            return self.redact_text(value)
        if isinstance(value, list):
            return [self.redact_value(v) for v in value]
        if isinstance(value, dict):
            if str(value.get("kind", "")) == "Secret":  # a Kubernetes Secret: drop its data
                return {
                    k: (
                        {dk: PLACEHOLDER.format(kind="kubernetes_secret") for dk in v}
                        if k in ("data", "stringData") and isinstance(v, dict)
                        else self.redact_value(v, k)
                    )
                    for k, v in value.items()
                }
            return {k: self.redact_value(v, k) for k, v in value.items()}
        return value

    def _secret_key(self, key: str) -> bool:
        """Whether a field's name says it holds a secret (and is not a reference to one)."""
        known = self._keys.get(key)
        if known is None:
            known = bool(_SECRET_KEY.fullmatch(key)) and not _REFERENCE_END.search(key)
            if len(self._keys) < _CACHE_SIZE:
                self._keys[key] = known
        return known

    def redact_mapping(self, values: Mapping[str, JsonValue]) -> dict[str, JsonValue]:
        return {k: self.redact_value(v, k) for k, v in values.items()}

    def _plainly_clean(self, texts: list[str], values: Iterable[tuple[str, JsonValue]]) -> bool:
        """True when no pattern can match and no field needs a placeholder: no trigger
        literal anywhere, no secret-named field, no Kubernetes Secret (one scan of the joined
        text instead of one per value; most signals take this path)."""
        if self._untriggered or self._any_trigger is None:
            return False
        pending = list(values)
        while pending:
            key, value = pending.pop()
            if key and self._secret_key(key):
                return False
            if isinstance(value, str):
                texts.append(value)
            elif isinstance(value, list):
                pending.extend(("", v) for v in value)
            elif isinstance(value, dict):
                if str(value.get("kind", "")) == "Secret":
                    return False
                pending.extend(value.items())
        return self._any_trigger.search("\n".join(texts).lower()) is None

    def redact_signal(self, signal: Signal) -> Signal:
        if self._plainly_clean(
            [signal.title, signal.body],
            [*signal.labels.items(), *signal.attributes.items()],
        ):
            return signal
        return self.redact_fields(signal)

    def redact_fields(self, signal: Signal) -> Signal:
        """Redact a signal field by field (what `redact_signal` does unless one scan shows the
        signal plainly clean)."""
        labels = self.redact_mapping(dict(signal.labels))
        attributes = self.redact_mapping(signal.attributes)
        title, body = self.redact_text(signal.title), self.redact_text(signal.body)
        if (
            labels == signal.labels
            and attributes == signal.attributes
            and title == signal.title
            and body == signal.body
        ):
            return signal  # nothing secret: keep the record as it is
        return signal.model_copy(
            update={
                "title": title,
                "body": body,
                "labels": {k: str(v) for k, v in labels.items()},
                "attributes": attributes,
            }
        )
