"""The on-call model: the packaged parameters, their validation, scaling and seeded draws."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from arf.bench.human import Person, load_human_model
from arf.core.errors import ConfigError


def test_the_packaged_model_adds_up_to_the_published_mean_time_to_resolve() -> None:
    model = load_human_model()
    total = model.acknowledge_min + model.diagnose_min + model.fix_min + model.verify_min
    assert total == pytest.approx(126.0)  # PagerDuty 2021, shared/data/baselines.md
    assert model.responders == pytest.approx(1.2)
    half = model.scaled(0.5)
    assert half.diagnose_min == pytest.approx(38.0)
    assert half.wrong_fix_rate == model.wrong_fix_rate  # rates are not times


def test_a_bad_model_file_names_the_file_and_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "human.yaml"
    text = (Path(__file__).parents[3] / "src/arf/bench/data/human_model.yaml").read_text()
    bad.write_text(text.replace("wrong_fix_rate: 0.10", "wrong_fix_rate: 1.5"), "utf-8")
    with pytest.raises(ConfigError, match=r"human\.yaml: wrong_fix_rate"):
        load_human_model(bad)
    with pytest.raises(ConfigError, match="cannot read the human model"):
        load_human_model(tmp_path / "missing.yaml")


def test_draws_have_the_given_mean_and_repeat_for_a_seed() -> None:
    model = load_human_model()
    person = Person(model, random.Random(1))
    draws = [person.minutes(60.0) for _ in range(20_000)]
    assert sum(draws) / len(draws) == pytest.approx(60.0, rel=0.03)
    again = Person(model, random.Random(1))
    assert [again.minutes(60.0) for _ in range(5)] == draws[:5]
    assert person.minutes(0.0) == 0.0
