"""`arf eval reasoning` through the real CLI, and the scoring rules themselves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arf.runtime.reasoning_eval import calibration
from tests.integration.test_cli import arf, assert_one_line_error

pytestmark = pytest.mark.integration


def test_the_evidence_engine_is_scored_on_every_demo_case(tmp_path: Path) -> None:
    result = arf(
        tmp_path, "eval", "reasoning", "--format", "json", "--out", str(tmp_path / "e.json")
    )
    assert result.returncode == 0, result.stderr
    (score,) = json.loads(result.stdout)
    assert score["reasoner"] == "evidence" and score["cases"] == 9
    assert score["correct_action"] == 1.0 and score["tempting_wrong"] == 0.0
    assert score["top1"] == 1.0 and score["failures"] == 0
    by_case = {r["case"]: r for r in score["results"]}
    assert by_case["bad-deploy"]["plan"] == "rollback_deploy(checkout)"  # not catalog's deploy
    assert by_case["no-fault-control"]["plan"] == "-"
    assert json.loads((tmp_path / "e.json").read_text()) == [score]


def test_bad_options_and_a_missing_model_are_one_line_errors(tmp_path: Path) -> None:
    assert_one_line_error(arf(tmp_path, "eval", "reasoning", "--reasoner", "oracle"), "--reasoner")
    result = arf(tmp_path, "eval", "reasoning", "--reasoner", "llm", env={"ARF_LLM": ""})
    assert_one_line_error(result, "set ARF_LLM or pass --llm")
    result = arf(tmp_path, "eval", "reasoning", "--reasoner", "llm", "--llm", "gpt")
    # the usages come from the registered backends (`arf.model_backends`)
    assert_one_line_error(
        result, "expected one of anthropic:MODEL, local[:PATH.gguf], openai:MODEL"
    )


def test_calibration_scores_known_values() -> None:
    assert calibration([1.0, 0.0], [True, False]) == (0.0, 0.0)
    brier, ece = calibration([0.9, 0.9, 0.9, 0.9], [True, True, True, False])
    assert brier == pytest.approx((3 * 0.01 + 0.81) / 4, abs=1e-4)
    assert ece == pytest.approx(0.15, abs=1e-4)
