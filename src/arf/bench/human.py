"""The model of a person on call: how long they take and how often a fix is wrong.

Parameters live in `data/human_model.yaml`, fixed before any run and cited in
docs/evaluation.md. Every draw comes from a seeded generator, so a run is reproducible.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from arf.core.errors import ConfigError
from arf.core.yaml_files import validation_problem

Minutes = float
T = TypeVar("T")


class HumanModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = 1
    responders: float = Field(gt=0)
    acknowledge_min: Minutes = Field(ge=0)
    diagnose_min: Minutes = Field(ge=0)
    fix_min: Minutes = Field(ge=0)
    verify_min: Minutes = Field(ge=0)
    spread: float = Field(ge=0, le=2)
    wrong_fix_rate: float = Field(ge=0, le=1)
    novel_factor: float = Field(ge=1)
    noise_triage_min: Minutes = Field(ge=0)
    ticket_delay_min: Minutes = Field(ge=0)
    review_min: Minutes = Field(ge=0)
    runbook_wait_min: Minutes = Field(ge=0)

    def scaled(self, factor: float) -> HumanModel:
        """Every duration times `factor` (the sensitivity analysis: half and double)."""
        return self.model_copy(
            update={
                name: getattr(self, name) * factor
                for name in (
                    "acknowledge_min",
                    "diagnose_min",
                    "fix_min",
                    "verify_min",
                    "noise_triage_min",
                    "ticket_delay_min",
                    "review_min",
                )
            }
        )


def load_human_model(path: Path | None = None) -> HumanModel:
    if path is None:
        text = resources.files("arf.bench").joinpath("data/human_model.yaml").read_text("utf-8")
        origin = "arf/bench/data/human_model.yaml"
    else:
        try:
            text = path.read_text("utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read the human model {path}: {exc.strerror}") from exc
        origin = str(path)
    try:
        return HumanModel.model_validate(yaml.safe_load(text))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{origin}: not valid YAML: {exc}") from exc
    except ValidationError as exc:
        raise ConfigError(f"{origin}: {validation_problem(exc)}") from exc


class Person:
    """One on-call person's draws for one episode."""

    def __init__(self, model: HumanModel, rng: random.Random) -> None:
        self.model = model
        self._rng = rng

    def minutes(self, mean: Minutes) -> Minutes:
        """A log-normal draw with the given mean."""
        if mean <= 0:
            return 0.0
        sigma = self.model.spread
        return self._rng.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma)

    def choice(self, options: Sequence[T]) -> T:
        return options[self._rng.randrange(len(options))]

    def errs(self) -> bool:
        return self._rng.random() < self.model.wrong_fix_rate
