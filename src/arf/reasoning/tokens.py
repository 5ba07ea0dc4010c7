"""Token counting for budgets. The estimator is used until a model's own tokenizer is wired in."""

from __future__ import annotations


class ApproxTokenCounter:
    """About four characters of JSON per token: close to BPE tokenizers on English and JSON."""

    def __init__(self, chars_per_token: float = 4.0) -> None:
        if chars_per_token <= 0:
            raise ValueError("chars_per_token must be positive")
        self._ratio = chars_per_token

    def count(self, text: str) -> int:
        return max(1, int(len(text) / self._ratio + 0.999))
