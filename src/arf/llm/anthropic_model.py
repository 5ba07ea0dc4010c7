"""Anthropic's Messages API through its SDK (optional extra `arf[anthropic]`).

Structured output comes from a forced tool call whose `input_schema` is the answer schema; the
tool's `input` is the answer. System messages go in the top-level `system` field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import JsonValue

from arf.core.errors import ConfigError, ReasoningError
from arf.core.records import ChatMessage, Completion

_TOOL = "submit_diagnosis"


class AnthropicModel:
    """A `ChatModel` over Anthropic's Messages API. Always hosted."""

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        client: Any = None,
    ) -> None:
        try:
            import anthropic
        except ImportError as exc:
            raise ConfigError(
                "the anthropic backend needs its SDK: pip install 'arf[anthropic]'"
            ) from exc
        self._sdk = anthropic
        self._model = model
        self._client: Any = client or anthropic.Anthropic(
            api_key=api_key, base_url=base_url, max_retries=0
        )

    @property
    def model_id(self) -> str:
        return f"anthropic:{self._model}"

    @property
    def hosted(self) -> bool:
        return True

    @property
    def grammar_constrained(self) -> bool:
        return False

    def complete(
        self,
        messages: Sequence[ChatMessage],
        schema: Mapping[str, JsonValue],
        *,
        max_tokens: int,
        timeout_s: float,
    ) -> Completion:
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        turns = [{"role": m.role, "content": m.content} for m in messages if m.role != "system"]
        try:
            response = self._client.messages.create(
                model=self._model,
                max_tokens=max_tokens,
                system=system,
                messages=turns,
                tools=[
                    {
                        "name": _TOOL,
                        "description": "Submit the diagnosis.",
                        "input_schema": dict(schema),
                    }
                ],
                tool_choice={"type": "tool", "name": _TOOL},
                timeout=timeout_s,
            )
        except self._sdk.APITimeoutError as exc:
            raise ReasoningError(f"the model did not answer within {timeout_s:.0f} s") from exc
        except self._sdk.AnthropicError as exc:
            raise ReasoningError(f"the model call failed: {str(exc)[:200]}") from exc
        text = ""
        for block in response.content or []:
            if getattr(block, "type", "") == "tool_use" and getattr(block, "name", "") == _TOOL:
                text = json.dumps(block.input)
                break
            if getattr(block, "type", "") == "text" and not text:
                text = str(block.text)
        usage = response.usage
        return Completion(
            text=text,
            model_id=f"anthropic:{response.model or self._model}",
            tokens_in=int(getattr(usage, "input_tokens", 0) or 0),
            tokens_out=int(getattr(usage, "output_tokens", 0) or 0),
            mode="tools",
        )
