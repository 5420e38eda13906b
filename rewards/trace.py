"""The graduated trace reward and its components, as TRL reward functions.

Tiers (defaults, configurable through `make_trace_reward` / `RewardTiers`):

    1.0  correct answer: the trace executes to the gold value
    0.7  valid trace, wrong answer: the right expert, the trace executes, the value differs
    0.5  right expert, but the trace fails schema checks or execution
    0.3  parsed YAML mapping, but the expert is wrong, unknown or missing
    0.0  no YAML mapping could be read (including plain chatter, which YAML would read as a string)

When a row has no gold expert (``expert`` is None, e.g. GSM-8K), any registered expert counts as right.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from trace_solver import Outcome, answers_match, execute
from trace_solver.limits import MAX_TRACE_CHARS

Completion = str | list[dict[str, Any]] | dict[str, Any]
RewardFunc = Callable[..., list[float]]


@dataclass(frozen=True)
class RewardTiers:
    correct: float = 1.0
    wrong_answer: float = 0.7
    failed_trace: float = 0.5
    wrong_expert: float = 0.3
    unparsed: float = 0.0


@dataclass(frozen=True)
class Score:
    """The four facts the reward table is built on, plus the Outcome they came from."""

    outcome: Outcome
    parsed: bool
    expert_right: bool
    executes: bool
    answer_right: bool

    @property
    def tier_name(self) -> str:
        if not self.parsed:
            return "unparsed"
        if not self.expert_right:
            return "wrong_expert"
        if not self.executes:
            return "failed_trace"
        return "correct" if self.answer_right else "wrong_answer"

    def reward(self, tiers: RewardTiers = RewardTiers()) -> float:
        return getattr(tiers, self.tier_name)


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
    """Score one completion against its gold answer and (optional) gold expert. Never raises."""
    outcome = _execute_text(completion_text(completion))
    parsed = outcome.parsed
    # outcome.expert is set only when the document names a registered expert.
    expert_right = outcome.expert is not None if expert is None else outcome.expert == expert
    executes = outcome.ok
    answer_right = executes and answer is not None and answers_match(outcome.value, answer)
    return Score(outcome, parsed, expert_right, executes, answer_right)


def _column(values: Sequence[Any] | None, n: int) -> Sequence[Any]:
    return [None] * n if values is None else values


def make_trace_reward(tiers: RewardTiers = RewardTiers()) -> RewardFunc:
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
