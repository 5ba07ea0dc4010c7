"""OpenAI-compatible chat completions through the `openai` SDK.

Covers OpenAI, Azure OpenAI, vLLM, Ollama, LM Studio and llama.cpp's server. Structured output
is negotiated down a chain, and the first mode a server accepts is remembered:
1. `response_format: json_schema` (strict), the OpenAI API's own;
2. `response_format: json_object` with the schema alongside (llama.cpp's server and others);
3. a forced tool call whose parameters are the schema.
Only a refusal of the request's shape moves down the chain (400 or 422, or a 500 whose body is
a request validation error, as llama.cpp's server answers); anything else fails the call.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import openai
from pydantic import JsonValue

from arf.core.errors import ReasoningError
from arf.core.records import ChatMessage, Completion

MODES = ("json_schema", "json_object", "tools")
_TOOL = "submit_diagnosis"


def _refused(exc: openai.APIStatusError) -> bool:
    if exc.status_code in (400, 422):
        return True
    text = str(exc).lower()
    return exc.status_code == 500 and "validation error" in text


class OpenAICompatModel:
    """A `ChatModel` over any OpenAI-compatible endpoint."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        hosted: bool | None = None,
        client: Any = None,
        modes: Sequence[str] = MODES,
    ) -> None:
        self._model = model
        self._client: Any = client or openai.OpenAI(
            base_url=base_url, api_key=api_key or "unused", max_retries=0
        )
        url = str(self._client.base_url)
        self._hosted = (
            hosted
            if hosted is not None
            else not any(h in url for h in ("127.0.0.1", "localhost", "[::1]"))
        )
        self._modes = tuple(m for m in modes if m in MODES)
        if not self._modes:
            raise ValueError(f"modes must name some of {', '.join(MODES)}")
        self.mode: str | None = None  # the first mode the server accepted

    @property
    def model_id(self) -> str:
        return f"openai:{self._model}"

    @property
    def hosted(self) -> bool:
        return self._hosted

    @property
    def grammar_constrained(self) -> bool:
        return False

    def _request(self, mode: str, schema: Mapping[str, JsonValue]) -> dict[str, Any]:
        if mode == "json_schema":
            return {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "diagnosis", "schema": schema, "strict": True},
                }
            }
        if mode == "json_object":
            return {"response_format": {"type": "json_object", "schema": schema}}
        return {
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": _TOOL,
                        "description": "Submit the diagnosis.",
                        "parameters": schema,
                    },
                }
            ],
            "tool_choice": {"type": "function", "function": {"name": _TOOL}},
        }

    def complete(
        self,
        messages: Sequence[ChatMessage],
        schema: Mapping[str, JsonValue],
        *,
        max_tokens: int,
        timeout_s: float,
    ) -> Completion:
        modes = (self.mode,) if self.mode else self._modes
        refusals: list[str] = []
        for mode in modes:
            try:
                response = self._client.chat.completions.create(
                    model=self._model,
                    messages=[{"role": m.role, "content": m.content} for m in messages],
                    max_tokens=max_tokens,
                    temperature=0,
                    timeout=timeout_s,
                    **self._request(mode, schema),
                )
            except openai.APIStatusError as exc:
                if not _refused(exc):
                    raise ReasoningError(f"the model call failed: {str(exc)[:200]}") from exc
                refusals.append(f"{mode}: {str(exc)[:160]}")
                continue
            except openai.APITimeoutError as exc:
                raise ReasoningError(f"the model did not answer within {timeout_s:.0f} s") from exc
            except openai.OpenAIError as exc:
                raise ReasoningError(f"the model call failed: {str(exc)[:200]}") from exc
            self.mode = mode
            return self._completion(response, mode)
        raise ReasoningError(
            "the server accepted no structured-output mode: " + "; ".join(refusals)
        )

    def _completion(self, response: Any, mode: str) -> Completion:
        if not response.choices:
            raise ReasoningError("the model returned no choices")
        message = response.choices[0].message
        text = message.content or ""
        if mode == "tools":
            calls = message.tool_calls or []
            text = calls[0].function.arguments if calls else text
        usage = response.usage
        return Completion(
            text=text if isinstance(text, str) else json.dumps(text),
            model_id=f"openai:{response.model or self._model}",
            tokens_in=int(usage.prompt_tokens) if usage else 0,
            tokens_out=int(usage.completion_tokens) if usage else 0,
            mode=mode,
        )
