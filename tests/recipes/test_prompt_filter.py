"""Prompt filter before RL: which prompts have varying rewards, what is written, and rl.py with it and dev accuracy."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from conftest import load_script

from rewards import trace_reward
from trace_recipe.generation import GenerationOptions
from trace_recipe.prompt_filter import (
    ALL_EQUAL,
    ALL_TOP,
    VARYING,
    PromptFilterError,
    candidate_indices,
    filter_prompts,
    reason_of,
    weighted_rewards,
)


@pytest.mark.parametrize(
    ("rewards", "reason"),
    [
        ([1.0, 1.0, 1.0, 1.0], ALL_TOP),
        ([0.5, 0.5, 0.5, 0.5], ALL_EQUAL),
        ([0.0, 0.0, math.nan, 0.0], ALL_EQUAL),
        ([1.0, 0.7, 1.0, 1.0], VARYING),
        ([0.3, math.nan, 0.0], VARYING),
    ],
)
def test_a_prompt_is_kept_only_when_its_sample_rewards_differ(rewards: list[float], reason: str) -> None:
    """Equal rewards (at the top or below, abstentions ignored) are dropped; rewards that differ are kept."""
    assert reason_of(rewards) == reason


def test_rewards_are_weighted_and_summed_as_rloo_does() -> None:
    """Each function's reward times its weight, summed; a None is skipped (NaN only when every function abstains)."""

    def first(completions, **kwargs):
        return [1.0, None, None]

    def second(completions, **kwargs):
        return [0.5, 0.5, None]

    totals = weighted_rewards([first, second], [1.0, 2.0], prompts=["a", "b", "c"], completions=["x"] * 3, columns={})
    assert totals[:2] == [2.0, 1.0] and math.isnan(totals[2])


def test_candidates_are_a_seeded_random_subset() -> None:
    """The same seed picks the same candidates, another seed others; max_prompts caps how many."""
    assert candidate_indices(100, 10, seed=0) == candidate_indices(100, 10, seed=0)
    assert candidate_indices(100, 10, seed=0) != candidate_indices(100, 10, seed=1)
    assert len(candidate_indices(100, 10, seed=0)) == 10 and sorted(candidate_indices(5, None, seed=0)) == list(
        range(5)
    )


def test_no_varying_prompt_is_a_one_line_error(tiny_model_dir: Path, trace_dataset, tmp_path: Path) -> None:
    """A random model fails every sample alike: nothing is kept, the counts are still written, and the error says
    what to change."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    options = GenerationOptions(max_new_tokens=4, batch_size=8, do_sample=True, temperature=1.0, seed=0)
    with pytest.raises(PromptFilterError, match=r"0 of 4 scored prompts kept.*--filter_max_prompts") as error:
        filter_prompts(
            model, tokenizer, trace_dataset, [trace_reward], num_samples=2, options=options, max_prompts=4,
            output_dir=str(tmp_path), log=lambda line: None,
        )  # fmt: skip
    assert "\n" not in str(error.value)
    report = json.loads((tmp_path / "prompt_filter.json").read_text())
    assert report["counts"] == {ALL_TOP: 0, ALL_EQUAL: 4, VARYING: 0} and report["candidates"] == 4


def half_solved_reward(completions, expert, **kwargs):
    """Arithmetic prompts: samples alternate 0/1 (varying); entity_track prompts: every sample 1.0 (all solved).
    Samples of one prompt are consecutive, in the filter as in RLOO."""
    return [float(i % 2) if e == "arithmetic" else 1.0 for i, e in enumerate(expert)]


@pytest.mark.slow
def test_rl_trains_on_the_filtered_prompts_and_logs_dev_accuracy(tiny_model_dir, dataset_jsonl, tmp_path, monkeypatch):
    """rl.py with --filter_num_samples keeps the 8 arithmetic prompts (rewards vary), drops the 8 always-solved
    ones, writes prompt_filter.json, and logs dev/accuracy before training, every step and at the end, without
    taking the RL metrics out of the step's own log entry."""
    rl = load_script("recipes/rl.py")
    monkeypatch.setattr(rl, "reward_funcs_by_name", lambda names: [half_solved_reward])
    args = [
        "--model_name_or_path", str(tiny_model_dir), "--output_dir", str(tmp_path),
        "--dataset_path", str(dataset_jsonl), "--max_steps", "2", "--per_device_train_batch_size", "4",
        "--num_generations", "4", "--max_completion_length", "64", "--logging_steps", "1", "--save_strategy", "no",
        "--report_to", "none", "--num_unfrozen_layers", "2", "--do_final_eval", "false", "--disable_tqdm", "true",
        "--filter_num_samples", "4", "--filter_batch_size", "16",
        "--dev_eval_set", "synthetic", "--dev_eval_steps", "1", "--dev_eval_examples", "3",
        "--eval_max_new_tokens", "8",
    ]  # fmt: skip
    trainer = rl.main(*rl.make_parser().parse_args_and_config(args=args))
    report = json.loads((tmp_path / "prompt_filter.json").read_text())
    assert report["counts"] == {ALL_TOP: 8, ALL_EQUAL: 0, VARYING: 8} and report["kept"] == 8
    assert set(trainer.train_dataset["expert"]) == {"arithmetic"} and len(trainer.train_dataset) == 8
    history = trainer.state.log_history
    dev = [entry for entry in history if "dev/accuracy" in entry]
    assert [entry["step"] for entry in dev] == [0, 1, 2]
    assert all(0.0 <= entry["dev/accuracy"] <= 1.0 and "dev/valid_rate" in entry for entry in dev)
    rl_steps = [entry for entry in history if "loss" in entry]
    assert [entry["step"] for entry in rl_steps] == [1, 2] and all(e["frac_reward_zero_std"] == 0.0 for e in rl_steps)


@pytest.mark.slow
def test_every_rank_trains_on_the_same_filtered_prompts(tiny_model_dir, dataset_jsonl, tmp_path):
    """Under `accelerate launch` with two CPU processes each rank scores half the candidates and both keep the same
    8 prompts: every gathered RL group has varying rewards (an unfiltered, always-solved prompt would tie)."""
    from test_distributed import launch

    output_dir = tmp_path / "run"
    result = launch(
        "rl.py",
        "--model_name_or_path", str(tiny_model_dir), "--dataset_path", str(dataset_jsonl),
        "--output_dir", str(output_dir), "--reward_funcs", "test_prompt_filter.half_solved_reward",
        "--reward_weights", "1.0", "--max_steps", "2", "--per_device_train_batch_size", "4",
        "--gradient_accumulation_steps", "1", "--num_generations", "4", "--max_completion_length", "64",
        "--num_unfrozen_layers", "1", "--filter_num_samples", "4",
        "--dev_eval_set", "synthetic", "--dev_eval_steps", "2", "--dev_eval_examples", "4",
        "--eval_max_new_tokens", "8",
    )  # fmt: skip
    assert result.stdout.count("prompt filter: 8 of 16 scored prompts kept") == 1  # printed by the main process
    report = json.loads((output_dir / "prompt_filter.json").read_text())
    assert report["counts"] == {ALL_TOP: 8, ALL_EQUAL: 0, VARYING: 8}
    history = json.loads((output_dir / "trainer_state.json").read_text())["log_history"]
    assert [entry["frac_reward_zero_std"] for entry in history if "loss" in entry] == [0.0, 0.0]
    assert [entry["step"] for entry in history if "dev/accuracy" in entry] == [0, 2]


def test_dev_metrics_share_one_panel_of_the_training_curves(tmp_path: Path) -> None:
    """dev/* keys logged during RL are curves of the training plot, drawn together in one panel."""
    from trace_recipe.plots import _panels, curves_from_log_history, plot_training_curves

    log = [
        {"step": 0, "dev/accuracy": 0.1, "dev/valid_rate": 0.5},
        {"step": 1, "loss": 0.0, "reward": 0.5, "frac_reward_zero_std": 0.25, "kl": 0.01},
        {"step": 1, "dev/accuracy": 0.2, "dev/valid_rate": 0.6},
    ]
    curves = curves_from_log_history(log)
    assert curves["dev/accuracy"] == ([0.0, 1.0], [0.1, 0.2])
    assert ("dev set, greedy", ["dev/accuracy", "dev/valid_rate"]) in _panels(curves)
    (tmp_path / "trainer_state.json").write_text(json.dumps({"log_history": log}))
    assert Path(plot_training_curves(str(tmp_path), str(tmp_path / "curves.png"))).stat().st_size > 1000


def test_dev_eval_steps_without_a_dev_set_is_refused() -> None:
    """--dev_eval_steps with no --dev_eval_set stops with one line naming the missing flag and the choices."""
    from trace_recipe.configs import RLScriptArguments
    from trace_recipe.errors import RecipeError

    with pytest.raises(RecipeError, match="--dev_eval_steps needs --dev_eval_set: one of gsm8k_dev, "):
        RLScriptArguments(dev_eval_steps=5).load_dev_dataset()
    assert RLScriptArguments().load_dev_dataset() is None
