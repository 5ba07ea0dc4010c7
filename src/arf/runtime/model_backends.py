"""Model backends as registered plug-ins: what `ARF_LLM=NAME[:ARGUMENT]` can name.

Each backend is a `ModelBackend`, returned by a zero-argument callable that an entry point of
the group `arf.model_backends` names; ARF's own three are registered that way. A backend's
client library loads only when it is chosen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from arf.core.errors import ConfigError
from arf.core.ports import ChatModel
from arf.runtime.settings import Settings


@dataclass(frozen=True)
class ModelBackend:
    """`connect(argument, settings)` builds the model; `usage` shows how to name it."""

    name: str
    usage: str  # e.g. "openai:MODEL"
    connect: Callable[[str, Settings], ChatModel]
    argument_required: bool = True


def _local(argument: str, settings: Settings) -> ChatModel:
    from arf.llm.local import LocalModel

    return LocalModel(Path(argument) if argument else None, n_ctx=20_480)


def _openai(argument: str, settings: Settings) -> ChatModel:
    from arf.llm.openai_compat import OpenAICompatModel

    return OpenAICompatModel(argument, base_url=settings.llm_base_url)


def _anthropic(argument: str, settings: Settings) -> ChatModel:
    try:
        from arf.llm.anthropic_model import AnthropicModel
    except ImportError as exc:
        raise ConfigError("the anthropic backend needs the anthropic extra") from exc
    return AnthropicModel(argument)


def local_backend() -> ModelBackend:
    return ModelBackend("local", "local[:PATH.gguf]", _local, argument_required=False)


def openai_backend() -> ModelBackend:
    return ModelBackend("openai", "openai:MODEL", _openai)


def anthropic_backend() -> ModelBackend:
    return ModelBackend("anthropic", "anthropic:MODEL", _anthropic)
