"""The graduated reward of a trace: which of five tiers a completion reaches against its gold answer and expert.

Tiers (defaults; `RewardTiers` sets other values):

    1.0  correct answer: the trace executes to the gold value
    0.7  valid trace, wrong answer: the right expert, the trace executes, the value differs
    0.5  right expert, but the trace fails schema checks or execution
    0.3  parsed YAML mapping, but the expert is wrong, unknown or missing
    0.0  no YAML mapping could be read (including plain chatter, which YAML would read as a string)

When there is no gold expert (None, e.g. GSM-8K), any registered expert counts as right.

>>> score_completion("expert: arithmetic\\ntrace:\\n- {init: a, value: 18}\\n- {query: a}", "18").reward()
1.0

TRL reward functions built on this (conversational completions, one execution per text) live in ``rewards``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trace_solver.executor import execute
from trace_solver.numbers import answers_match
from trace_solver.outcome import Outcome


@dataclass(frozen=True)
class RewardTiers:
    """The reward of each tier."""

    correct: float = 1.0
    wrong_answer: float = 0.7
    failed_trace: float = 0.5
    wrong_expert: float = 0.3
    unparsed: float = 0.0


DEFAULT_TIERS = RewardTiers()


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

    def reward(self, tiers: RewardTiers = DEFAULT_TIERS) -> float:
        """This score's reward under `tiers`."""
        return getattr(tiers, self.tier_name)


def score_outcome(outcome: Outcome, answer: Any, expert: str | None = None) -> Score:
    """Score an executed trace against its gold answer and (optional) gold expert. Never raises."""
    # outcome.expert is set only when the document names a registered expert.
    expert_right = outcome.expert is not None if expert is None else outcome.expert == expert
    answer_right = outcome.ok and answer is not None and answers_match(outcome.value, answer)
    return Score(outcome, outcome.parsed, expert_right, outcome.ok, answer_right)


def score_completion(completion: str, answer: Any, expert: str | None = None) -> Score:
    """Execute a completion's text (a bare trace or one inside chatter/fences) and score it. Never raises."""
    return score_outcome(execute(completion), answer, expert)
