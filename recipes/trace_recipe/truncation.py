"""Refuse to train on examples that would be truncated.

The original experiment's worst failure was silent: with max_len 512 and a 450-token system prompt every target was cut,
and the model learnt nothing (0% correct, 15% parsed). TRL truncates to `max_length` by design and drops examples whose
completion is cut away entirely, without a word. So before training we tokenize the data exactly as SFTTrainer does for
conversational prompt/completion examples (chat template over the prompt with the generation prompt, and over prompt +
completion; the completion starts where the two diverge), print length statistics, and stop with a one-line error
counting the examples that would lose tokens, unless `--allow_truncation` is given.

For RL the reference traces (the `completion` column) stand in for what the model should generate: if the longest
does not fit `max_completion_length`, correct answers get cut off and score as parse failures. The count includes the
chat template's end-of-turn tokens, so it is an upper bound by a token or so.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from typing import Any

from trace_recipe.errors import RecipeError
from trace_solver.stats import TokenLengths, conversation_token_lengths

Log = Callable[[str], None]


class TruncationError(RecipeError):
    """Some examples do not fit the configured length; the message is one line naming the fix."""


def token_lengths(examples: Iterable[dict[str, Any]], tokenizer: Any, chat_template: str | None = None) -> TokenLengths:
    """Tokenize conversational prompt/completion examples the way SFTTrainer does and count tokens."""
    pairs = ((example["prompt"], example["completion"]) for example in examples)
    return conversation_token_lengths(pairs, tokenizer, chat_template)


def describe(name: str, lengths: list[int]) -> str:
    """One line of statistics, e.g. `completion tokens: min 40, median 96, p95 180, max 230 (n=250)`."""
    if not lengths:
        return f"{name} tokens: no examples"
    ordered = sorted(lengths)
    p95 = ordered[min(len(ordered) - 1, max(0, -(-95 * len(ordered) // 100) - 1))]  # nearest-rank percentile
    median = statistics.median(ordered)
    return f"{name} tokens: min {ordered[0]}, median {median:g}, p95 {p95}, max {ordered[-1]} (n={len(ordered)})"


def check_sft_lengths(
    examples: Iterable[dict[str, Any]],
    tokenizer: Any,
    max_length: int | None,
    *,
    allow_truncation: bool = False,
    chat_template: str | None = None,
    log: Log = print,
) -> TokenLengths:
    """Print length statistics and raise `TruncationError` if any example exceeds `max_length` (SFT)."""
    lengths = token_lengths(examples, tokenizer, chat_template)
    for name, values in (("prompt", lengths.prompt), ("completion", lengths.completion), ("total", lengths.total)):
        log(describe(name, values))
    if max_length is None:
        return lengths
    truncated = sum(total > max_length for total in lengths.total)
    emptied = sum(prompt >= max_length for prompt in lengths.prompt)
    if truncated:
        message = (
            f"{truncated} of {len(lengths.total)} examples exceed max_length={max_length} tokens "
            f"(longest {max(lengths.total)}; {emptied} lose their whole completion and would be dropped)"
        )
        if not allow_truncation:
            raise TruncationError(f"{message}: raise --max_length, shorten the prompt, or pass --allow_truncation")
        log(f"warning: {message}; training anyway (--allow_truncation)")
    return lengths


def check_rl_lengths(
    examples: Iterable[dict[str, Any]],
    tokenizer: Any,
    max_completion_length: int | None,
    *,
    context_length: int | None = None,
    allow_truncation: bool = False,
    chat_template: str | None = None,
    log: Log = print,
) -> TokenLengths:
    """Print length statistics and raise `TruncationError` if a reference trace exceeds `max_completion_length`,
    or a prompt plus `max_completion_length` exceeds the model's `context_length` (RL)."""
    lengths = token_lengths(examples, tokenizer, chat_template)
    log(describe("prompt", lengths.prompt))
    log(describe("reference completion", lengths.completion))
    problems, fixes = [], []
    if max_completion_length is not None:
        too_long = sum(c > max_completion_length for c in lengths.completion)
        if too_long:
            problems.append(
                f"{too_long} of {len(lengths.completion)} reference traces exceed "
                f"max_completion_length={max_completion_length} tokens (longest {max(lengths.completion)})"
            )
            fixes.append("raise --max_completion_length")
    if context_length is not None and max_completion_length is not None:
        overflow = sum(p + max_completion_length > context_length for p in lengths.prompt)
        if overflow:
            problems.append(
                f"{overflow} prompts plus max_completion_length={max_completion_length} exceed the model's "
                f"{context_length}-token context (longest prompt {max(lengths.prompt)})"
            )
            fixes.append("lower --max_completion_length, use shorter prompts or a longer-context model")
    if problems:
        message = "; ".join(problems)
        if not allow_truncation:
            raise TruncationError(f"{message}: {' or '.join(fixes)}, or pass --allow_truncation")
        log(f"warning: {message}; training anyway (--allow_truncation)")
    return lengths
