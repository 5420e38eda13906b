"""The prompt the model is trained and queried with: a one-line system prompt listing the experts of the registry."""

from __future__ import annotations

from trace_solver.experts import expert_names
from trace_solver.numbers import normalize_question


def system_prompt() -> str:
    """``You are a helpful assistant with access to the following experts: arithmetic, comparison, ...``"""
    return "You are a helpful assistant with access to the following experts: " + ", ".join(expert_names())


def build_messages(question: str) -> list[dict[str, str]]:
    """[system, user] chat messages for a question; the question is normalised (see numbers.normalize_question)."""
    return [
        {"role": "system", "content": system_prompt()},
        {"role": "user", "content": normalize_question(question)},
    ]
