"""Keep the RL prompts the model sometimes solves: RLOO learns only from prompts whose sampled rewards differ.

RLOO's advantage is a completion's reward minus the mean of its siblings' rewards. A prompt on which all k samples
earn the same reward (every sample correct, or every sample failing the same way) has zero advantage everywhere and
moves nothing; TRL logs the share of such prompts as `frac_reward_zero_std`. After SFT on the training traces most
training prompts are solved by every sample, so RL had nothing to follow.

`filter_prompts` samples k completions per candidate prompt with `trace_recipe.generation` (the compiled graph
backend on a CUDA device) at the RL sampling settings, scores them with the trainer's reward functions and weights,
and keeps the prompts whose rewards vary. Under `accelerate launch` each process scores a share of the candidates
(`split_between_processes`) and `gather_object` hands every process all scores, so every rank keeps the same prompts.
Counts by reason go to `<output_dir>/prompt_filter.json`.
"""

from __future__ import annotations

import json
import math
import os
import random
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from trace_recipe.errors import RecipeError

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from trace_recipe.generation import GenerationOptions

# Why a prompt is dropped or kept, in the order prompt_filter.json lists them.
ALL_TOP = "all_top_reward"  # every sample earned the top reward (all correct): nothing left to learn
ALL_EQUAL = "all_equal_below_top"  # every sample earned the same lower reward: no sample to prefer
VARYING = "varying"  # rewards differ: RLOO has an advantage to follow (kept)
REASONS = (ALL_TOP, ALL_EQUAL, VARYING)
# The graduated trace reward's top tier (a correct answer) with the recipes' weights.
TOP_REWARD = 1.0
REPORT_NAME = "prompt_filter.json"


class PromptFilterError(RecipeError):
    """No candidate prompt has rewards that vary, so RL would have nothing to learn from."""


def reason_of(rewards: Sequence[float], top_reward: float = TOP_REWARD) -> str:
    """The filter's verdict on one prompt's sample rewards (NaN = a reward function abstained, as in TRL)."""
    scored = [r for r in rewards if not math.isnan(r)]
    if len(scored) > 1 and not all(math.isclose(r, scored[0], abs_tol=1e-9) for r in scored):
        return VARYING
    if scored and math.isclose(scored[0], top_reward, abs_tol=1e-9):
        return ALL_TOP
    return ALL_EQUAL


def weighted_rewards(
    reward_funcs: Sequence[Callable[..., list[float | None]]],
    reward_weights: Sequence[float] | None,
    *,
    prompts: Sequence[Any],
    completions: Sequence[str],
    columns: Mapping[str, Sequence[Any]],
) -> list[float]:
    """The reward RLOO computes: each function's output times its weight, summed, with None skipped (TRL's nansum;
    NaN when every function abstained)."""
    weights = [1.0] * len(reward_funcs) if reward_weights is None else list(reward_weights)
    if len(weights) != len(reward_funcs):
        raise RecipeError(f"reward_weights has {len(weights)} values for {len(reward_funcs)} reward functions")
    conversational = bool(prompts) and not isinstance(prompts[0], str)
    shaped = [[{"role": "assistant", "content": text}] for text in completions] if conversational else completions
    totals = [math.nan] * len(completions)
    for func, weight in zip(reward_funcs, weights, strict=True):
        values = func(prompts=list(prompts), completions=list(shaped), **{k: list(v) for k, v in columns.items()})
        for i, value in enumerate(values):
            if value is not None:
                totals[i] = (0.0 if math.isnan(totals[i]) else totals[i]) + weight * float(value)
    return totals


def sample_rewards(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    rows: Sequence[Mapping[str, Any]],
    reward_funcs: Sequence[Callable[..., list[float | None]]],
    *,
    num_samples: int,
    options: GenerationOptions,
    reward_weights: Sequence[float] | None = None,
) -> list[list[float]]:
    """k sampled completions per row, scored: one list of k rewards per row. Runs on this process alone."""
    from trace_recipe.generation import generate_completions

    prompts = [row["prompt"] for row in rows for _ in range(num_samples)]
    texts = generate_completions(model, tokenizer, prompts, options)
    names = [key for key in (rows[0] if rows else {}) if key not in ("prompt", "completion")]
    columns = {key: [row[key] for row in rows for _ in range(num_samples)] for key in names}
    flat = weighted_rewards(reward_funcs, reward_weights, prompts=prompts, completions=texts, columns=columns)
    return [flat[i * num_samples : (i + 1) * num_samples] for i in range(len(rows))]


def candidate_indices(num_rows: int, max_prompts: int | None, seed: int) -> list[int]:
    """The rows to score: all of them, or `max_prompts` in a seeded random order (the same on every process)."""
    order = list(range(num_rows))
    random.Random(seed).shuffle(order)
    return order if max_prompts is None else order[:max_prompts]


def filter_prompts(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    dataset: Dataset,
    reward_funcs: Sequence[Callable[..., list[float | None]]],
    *,
    num_samples: int,
    options: GenerationOptions,
    reward_weights: Sequence[float] | None = None,
    max_prompts: int | None = None,
    seed: int = 0,
    output_dir: str | None = None,
    log: Callable[[str], Any] = print,
) -> Dataset:
    """The rows of `dataset` whose `num_samples` sampled rewards vary, in the dataset's order.

    Args:
        model, tokenizer: the policy before RL (on the device it samples on).
        dataset: RL rows (`prompt` plus the columns the rewards read, e.g. `answer`, `expert`).
        reward_funcs, reward_weights: the trainer's rewards; a row is scored by their weighted sum, as in RLOO.
        num_samples: k, the completions sampled per prompt (RLOO's `num_generations` is the natural choice).
        options: sampling settings; `do_sample` should be on, at the RL temperature.
        max_prompts: score only this many candidates, taken in a seeded random order (None: all rows).
        seed: seed of that order.
        output_dir: where `prompt_filter.json` (counts by reason, settings) is written by the main process.

    Raises:
        PromptFilterError: no candidate prompt has varying rewards.
    """
    from accelerate import PartialState
    from accelerate.utils import gather_object

    if num_samples < 2:
        raise RecipeError(f"filter_num_samples={num_samples}: rewards can only vary across 2 or more samples")
    candidates = candidate_indices(len(dataset), max_prompts, seed)
    rows = [dataset[i] for i in candidates]
    state = PartialState()
    score = dict(num_samples=num_samples, options=options, reward_weights=reward_weights)
    if state.num_processes == 1:
        rewards = sample_rewards(model, tokenizer, rows, reward_funcs, **score)
    else:
        with state.split_between_processes(rows) as mine:
            mine_rewards = sample_rewards(model, tokenizer, mine, reward_funcs, **score)
        rewards = gather_object(mine_rewards)  # every process gets every row's rewards, in the rows' order
    reasons = [reason_of(r) for r in rewards]
    counts = {reason: reasons.count(reason) for reason in REASONS}
    kept = sorted(i for i, reason in zip(candidates, reasons, strict=True) if reason == VARYING)
    summary = (
        f"prompt filter: {counts[VARYING]} of {len(candidates)} scored prompts kept (rewards vary over "
        f"{num_samples} samples); dropped {counts[ALL_TOP]} with every sample at the top reward and "
        f"{counts[ALL_EQUAL]} with every sample at one lower reward"
    )
    log(summary)
    if output_dir is not None and state.is_main_process:
        report = {
            "candidates": len(candidates),
            "dataset_rows": len(dataset),
            "kept": counts[VARYING],
            "counts": counts,
            "num_samples": num_samples,
            "max_prompts": max_prompts,
            "seed": seed,
            "temperature": options.temperature,
            "top_p": options.top_p,
            "max_new_tokens": options.max_new_tokens,
            "backend": options.backend,
            "mean_reward": _mean([r for group in rewards for r in group]),
            "mean_reward_kept": _mean([r for group, why in zip(rewards, reasons) for r in group if why == VARYING]),
        }
        os.makedirs(output_dir, exist_ok=True)
        with open(os.path.join(output_dir, REPORT_NAME), "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
    if not kept:
        raise PromptFilterError(
            f"{summary}: no prompt left to learn from; raise --filter_max_prompts or --temperature, or use a model "
            "that solves the training prompts less reliably (or --filter_num_samples 0 to train on all prompts)"
        )
    return dataset.select(kept)


def _mean(values: Sequence[float]) -> float | None:
    finite = [v for v in values if not math.isnan(v)]
    return sum(finite) / len(finite) if finite else None


def rl_sampling_options(training_args: Any, batch_size: int) -> GenerationOptions:
    """The RL trainer's sampling settings (temperature, top_p, completion length) as `GenerationOptions`, on the
    backend RL samples with: `--generation_backend auto`/`trl` become generation's auto (the compiled graph loop on a
    CUDA device, the pruning loop elsewhere) where top_p is 1, and a backend that samples with top_p otherwise (the
    static cache loop on CUDA, eager generate elsewhere)."""
    from trace_recipe.generation import GenerationOptions

    backend = training_args.generation_backend
    if backend in ("auto", "trl"):
        cuda = training_args.device.type == "cuda"
        backend = "auto" if training_args.top_p == 1.0 else ("static" if cuda else "eager")
    return GenerationOptions(
        max_new_tokens=training_args.max_completion_length,
        batch_size=batch_size,
        backend=backend,
        do_sample=True,
        temperature=training_args.temperature,
        top_p=training_args.top_p,
        seed=training_args.seed,
    )
