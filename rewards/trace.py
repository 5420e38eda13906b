"""The graduated trace reward and its components, as TRL reward functions.

The tiers (1.0/0.7/0.5/0.3/0.0) and `Score` are `trace_solver.scoring`'s; this layer reads plain or conversational
completions, executes each text once however many reward functions score it, and returns ``list[float]``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from trace_solver import Outcome, execute
from trace_solver.limits import MAX_TRACE_CHARS
from trace_solver.scoring import DEFAULT_TIERS, RewardTiers, Score, score_outcome

Completion = str | list[dict[str, Any]] | dict[str, Any]
RewardFunc = Callable[..., list[float]]


def completion_text(completion: Completion) -> str:
    """The text of a plain or conversational completion (the last message's content); "" for anything else."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        content = completion.get("content")
        return content if isinstance(content, str) else ""
    if isinstance(completion, (list, tuple)) and completion:
        return completion_text(completion[-1])
    return ""


def _execute_text(text: str) -> Outcome:
    # TRL calls every reward function on the same completions: execute each text once. Only texts of a plausible size
    # are cached, so hostile megabyte completions cannot pile up in memory (the cache holds at most ~32 MB of text).
    return _execute_cached(text) if len(text) <= MAX_TRACE_CHARS else execute(text)


@lru_cache(maxsize=2_048)
def _execute_cached(text: str) -> Outcome:
    return execute(text)


_execute_text.cache_clear = _execute_cached.cache_clear  # type: ignore[attr-defined]


def score_completion(completion: Completion, answer: Any, expert: str | None = None) -> Score:
    """Score one plain or conversational completion against its gold answer and (optional) gold expert (see
    `trace_solver.scoring`). Never raises."""
    return score_outcome(_execute_text(completion_text(completion)), answer, expert)


def _column(values: Sequence[Any] | None, n: int) -> Sequence[Any]:
    return [None] * n if values is None else values


def make_trace_reward(tiers: RewardTiers = DEFAULT_TIERS) -> RewardFunc:
    """Build the graduated reward with custom tier values; the function keeps the name ``trace_reward``."""

    def trace_reward(
        completions: list[Completion], answer: Sequence[Any], expert: Sequence[str | None] | None = None, **kwargs: Any
    ) -> list[float]:
        """Graduated reward 1.0/0.7/0.5/0.3/0.0 for traces executed by trace_solver.

        Args:
            completions: plain strings or conversational completions ([{"role": "assistant", "content": ...}]).
            answer: gold answers (dataset column), e.g. ``"18"``, ``"$1,000"``, ``"3/4"``.
            expert: gold experts (dataset column); None, or a None entry, accepts any registered expert.

        Returns:
            One float per completion.

        >>> trace_reward(["expert: arithmetic\\ntrace:\\n- {init: a, value: 18}\\n- {query: a}"], answer=["18"])
        [1.0]
        """
        experts = _column(expert, len(completions))
        return [score_completion(c, a, e).reward(tiers) for c, a, e in zip(completions, answer, experts)]

    return trace_reward


trace_reward = make_trace_reward()


def parse_reward(completions: list[Completion], **kwargs: Any) -> list[float]:
    """1.0 when the completion holds a YAML mapping, else 0.0."""
    return [1.0 if _execute_text(completion_text(c)).parsed else 0.0 for c in completions]


def expert_reward(
    completions: list[Completion], expert: Sequence[str | None] | None = None, **kwargs: Any
) -> list[float]:
    """1.0 when the trace names the gold expert (any registered expert when there is no gold one), else 0.0."""
    experts = _column(expert, len(completions))
    return [1.0 if score_completion(c, None, e).expert_right else 0.0 for c, e in zip(completions, experts)]


def correctness_reward(completions: list[Completion], answer: Sequence[Any], **kwargs: Any) -> list[float]:
    """1.0 when the trace executes to the gold answer, whatever its expert, else 0.0."""
    return [1.0 if score_completion(c, a).answer_right else 0.0 for c, a in zip(completions, answer)]
